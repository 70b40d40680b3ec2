package health

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/ui"
)

// phases records what a Reporter hears, and lets a test act on it.
type phases struct {
	mu   sync.Mutex
	seen []string
	on   func(service string, phase ui.Phase)
}

func (p *phases) reporter() *fakeReporter {
	return &fakeReporter{update: func(service string, phase ui.Phase, detail string) {
		p.mu.Lock()
		p.seen = append(p.seen, fmt.Sprintf("%s %s: %s", service, phase, detail))
		on := p.on
		p.mu.Unlock()
		if on != nil {
			on(service, phase)
		}
	}}
}

func (p *phases) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestWaitHealthyAfterEvent(t *testing.T) {
	w := newWorld()
	w.add(&fakeContainer{id: "c1", service: "db", state: running(container.Starting)})
	ph := &phases{}
	ph.on = func(service string, phase ui.Phase) {
		if phase == ui.PhaseStarting {
			w.set("c1", true, func(c *fakeContainer) { c.state = running(container.Healthy) })
		}
	}
	wt := w.waiter()
	wt.Report = ph.reporter()
	if err := wt.Wait(ctxFor(t), Scope{Project: "p", Services: []string{"db"}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"db starting: running, health: starting", "db healthy: running, healthy"}
	if got := ph.list(); !reflect.DeepEqual(got, want) {
		t.Errorf("reported %q, want %q", got, want)
	}
}

func TestWaitSubscribesBeforeListing(t *testing.T) {
	w := newWorld()
	w.add(&fakeContainer{id: "c1", service: "web", state: running("")})
	if err := w.waiter().Wait(ctxFor(t), Scope{Project: "p", Services: []string{"web"}}); err != nil {
		t.Fatal(err)
	}
	if len(w.calls) < 2 || w.calls[0] != "events" || w.calls[1] != "list" {
		t.Errorf("calls %q: want the event subscription first, then the list", w.calls)
	}
	f := w.eventOpts.Filters
	if !f["label"][labelProject+"=p"] || !f["type"]["container"] || !f["event"]["health_status"] || !f["event"]["die"] {
		t.Errorf("event filters %v lack the project, the type or the actions", f)
	}
}

func TestWaitReadiness(t *testing.T) {
	tests := []struct {
		name    string
		c       fakeContainer
		oneShot []string
		final   string // the last phase reported
	}{
		{"no healthcheck: ready once running", fakeContainer{state: running("")}, nil, "running"},
		{"Engine reports no healthcheck as none", fakeContainer{state: running(container.NoHealthcheck)}, nil, "running"},
		{"healthy", fakeContainer{state: running(container.Healthy)}, nil, "healthy"},
		{"one-shot by label, exited 0", fakeContainer{state: exited(0), labels: map[string]string{LabelOneShot: "true"}}, nil, "done"},
		{"one-shot by scope, exited 0", fakeContainer{state: exited(0)}, []string{"svc"}, "done"},
		{"restart count high when first seen, not growing", fakeContainer{state: running(""), restarts: 7}, nil, "running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			c := tt.c
			c.id, c.service = "c1", "svc"
			w.add(&c)
			ph := &phases{}
			wt := w.waiter()
			wt.Report = ph.reporter()
			if err := wt.Wait(ctxFor(t), Scope{Project: "p", Services: []string{"svc"}, OneShot: tt.oneShot}); err != nil {
				t.Fatal(err)
			}
			got := ph.list()
			if len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "svc "+tt.final+":") {
				t.Errorf("reported %q, want the last to be %s", got, tt.final)
			}
		})
	}
}

func TestWaitOneShotRunsThenExits(t *testing.T) {
	w := newWorld()
	w.add(&fakeContainer{id: "j1", service: "pull", state: running(""), labels: map[string]string{LabelOneShot: "true"}})
	ph := &phases{}
	ph.on = func(service string, phase ui.Phase) {
		if phase == ui.PhaseStarting {
			w.set("j1", true, func(c *fakeContainer) { c.state = exited(0) })
		}
	}
	wt := w.waiter()
	wt.Report = ph.reporter()
	if err := wt.Wait(ctxFor(t), Scope{Project: "p", Services: []string{"pull"}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"pull starting: running (one-shot job)", "pull done: exited (code 0)"}
	if got := ph.list(); !reflect.DeepEqual(got, want) {
		t.Errorf("reported %q, want %q", got, want)
	}
}

func TestWaitFailsAtOnce(t *testing.T) {
	unhealthy := running(container.Unhealthy)
	unhealthy.Health.Log = []*container.HealthcheckResult{{ExitCode: 1, Output: "db refused: password s3cr3t-value wrong\n"}}
	tests := []struct {
		name  string
		c     fakeContainer
		state string
	}{
		{"exited non-zero", fakeContainer{state: exited(3)}, "exited (code 3)"},
		{"one-shot exited non-zero", fakeContainer{state: exited(2), labels: map[string]string{LabelOneShot: "true"}}, "exited (code 2)"},
		{"exited 0 but not one-shot", fakeContainer{state: exited(0)}, "exited (code 0), and it is not a one-shot service"},
		{"unhealthy, probe output masked", fakeContainer{state: unhealthy}, "unhealthy (last check exited 1: db refused: password ***** wrong)"},
		{"out of memory", fakeContainer{state: container.State{Status: container.StateExited, ExitCode: 137, OOMKilled: true}}, "exited (code 137, out of memory)"},
		{"could not start", fakeContainer{state: container.State{Status: container.StateExited, ExitCode: 128, Error: "port is already allocated"}}, "exited (code 128): port is already allocated"},
		{"dead", fakeContainer{state: container.State{Status: container.StateDead}}, "dead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			c := tt.c
			c.id, c.service = "c1", "api"
			w.add(&c)
			var lines []string
			for i := 1; i <= 30; i++ {
				lines = append(lines, fmt.Sprintf("line %d", i))
			}
			lines = append(lines, "connecting with s3cr3t-value")
			w.logs["c1"] = strings.Join(lines, "\n") + "\n"
			wt := w.waiter()
			wt.Mask = func(s string) string { return strings.ReplaceAll(s, "s3cr3t-value", "*****") }
			err := wt.Wait(ctxFor(t), Scope{Project: "p", Services: []string{"api"}})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T), want *Error", err, err)
			}
			if e.TimedOut || len(e.Problems) != 1 || e.Problems[0].Service != "api" || e.Problems[0].State != tt.state {
				t.Fatalf("problems %+v, want api: %s", e.Problems, tt.state)
			}
			logs := e.Problems[0].Logs
			if len(logs) != DefaultLogLines || logs[0] != "line 12" || logs[19] != "connecting with *****" {
				t.Errorf("logs %q: want the last 20 lines, masked", logs)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "wait for services: api failed: "+tt.state+"\nlast 20 log lines of api:\n  | line 12\n") {
				t.Errorf("message:\n%s", msg)
			}
			if strings.Contains(msg, "s3cr3t") {
				t.Errorf("message shows the secret:\n%s", msg)
			}
			if !strings.Contains(strings.Join(w.calls, ","), "logs c1 tail 20") {
				t.Errorf("calls %q: the logs were not asked for with tail 20", w.calls)
			}
		})
	}
}

func TestWaitRestartLoop(t *testing.T) {
	w := newWorld()
	w.add(&fakeContainer{id: "c1", service: "worker", state: running(""), restarts: 1})
	w.add(&fakeContainer{id: "c0", service: "slow", state: running(container.Starting)})
	checks := 0
	ph := &phases{}
	ph.on = func(service string, phase ui.Phase) {
		if service != "worker" || phase == ui.PhaseFailed {
			return
		}
		// Each time worker is seen again it has restarted once more.
		checks++
		w.set("c1", true, func(c *fakeContainer) {
			c.restarts++
			if c.state.Status == container.StateRunning {
				c.state = container.State{Status: container.StateRestarting, Restarting: true, ExitCode: 1}
			} else {
				c.state = running("")
			}
		})
	}
	wt := w.waiter()
	wt.Report = ph.reporter()
	err := wt.Wait(ctxFor(t), Scope{Project: "p", Services: []string{"slow", "worker"}})
	var e *Error
	if !errors.As(err, &e) || len(e.Problems) != 1 || e.Problems[0].Service != "worker" ||
		e.Problems[0].State != "restarting in a loop (3 restarts)" {
		t.Fatalf("error %v, want worker restarting in a loop", err)
	}
}

func TestWaitTimeoutNamesEveryServiceNotReady(t *testing.T) {
	w := newWorld()
	w.add(&fakeContainer{id: "c1", service: "api", state: running(container.Starting)})
	w.add(&fakeContainer{id: "c2", service: "db", state: running(container.Healthy)})
	w.logs["c1"] = "booting\nstill booting\n"
	wt := w.waiter()
	// The wait's time runs out once api and db have been looked at, however
	// long that took on this machine.
	ctx, cancel := context.WithCancelCause(ctxFor(t))
	defer cancel(nil)
	var mu sync.Mutex
	seen := map[string]bool{}
	ph := &phases{on: func(service string, _ ui.Phase) {
		mu.Lock()
		defer mu.Unlock()
		if seen[service] = true; seen["api"] && seen["db"] {
			cancel(errTimedOut)
		}
	}}
	wt.Report = ph.reporter()
	err := wt.Wait(ctx, Scope{Project: "p", Services: []string{"api", "db", "cache"}})
	var e *Error
	if !errors.As(err, &e) || !e.TimedOut {
		t.Fatalf("error %v, want a timeout", err)
	}
	if got := e.Services(); !reflect.DeepEqual(got, []string{"api", "cache"}) {
		t.Errorf("not ready: %q, want api and cache", got)
	}
	msg := err.Error()
	for _, want := range []string{
		"s: api (running, health: starting), cache (no container)",
		"last 2 log lines of api:\n  | booting\n  | still booting",
	} {
		if !strings.HasPrefix(msg, "wait for services: not ready after ") || !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if exitcode.Of(nil, err) != exitcode.Failure {
		t.Errorf("exit code %d, want %d", exitcode.Of(nil, err), exitcode.Failure)
	}
}

func TestWaitTimeoutFromContextDeadline(t *testing.T) {
	w := newWorld()
	w.add(&fakeContainer{id: "c1", service: "api", state: container.State{Status: container.StateCreated}})
	// The deadline passes once the waiter has seen the container, however
	// long that took: the outcome cannot depend on the machine's speed.
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	ph := &phases{on: func(string, ui.Phase) { cancel(context.DeadlineExceeded) }}
	wt := w.waiter()
	wt.Report = ph.reporter()
	err := wt.Wait(ctx, Scope{Project: "p", Services: []string{"api"}})
	var e *Error
	if !errors.As(err, &e) || !e.TimedOut || e.Problems[0].State != "created" {
		t.Fatalf("error %v, want a timeout naming api as created", err)
	}
}

func TestWaitInterrupted(t *testing.T) {
	w := newWorld()
	w.add(&fakeContainer{id: "c1", service: "api", state: running(container.Starting)})
	ctx, cancel := context.WithCancelCause(context.Background())
	ph := &phases{on: func(string, ui.Phase) { cancel(exitcode.ErrInterrupted) }}
	wt := w.waiter()
	wt.Report = ph.reporter()
	wt.Logs = &fakeLogger{logs: nil} // reading logs would panic
	err := wt.Wait(ctx, Scope{Project: "p", Services: []string{"api"}})
	var e *Error
	if errors.As(err, &e) || !errors.Is(err, exitcode.ErrInterrupted) {
		t.Fatalf("error %v, want the interruption", err)
	}
	if exitcode.Of(ctx, err) != exitcode.Interrupted {
		t.Errorf("exit code %d", exitcode.Of(ctx, err))
	}
}

func TestWaitPollsWhenTheEventStreamBreaks(t *testing.T) {
	w := newWorld()
	w.add(&fakeContainer{id: "c1", service: "db", state: running(container.Starting)})
	w.errs <- errors.New("unexpected EOF")
	ph := &phases{}
	ph.on = func(service string, phase ui.Phase) {
		if phase == ui.PhaseStarting {
			w.set("c1", false, func(c *fakeContainer) { c.state = running(container.Healthy) }) // no event
		}
	}
	wt := w.waiter()
	wt.Report = ph.reporter()
	wt.Poll = 5 * time.Millisecond
	if err := wt.Wait(ctxFor(t), Scope{Project: "p", Services: []string{"db"}}); err != nil {
		t.Fatal(err)
	}
}

func TestWaitScope(t *testing.T) {
	w := newWorld()
	w.add(&fakeContainer{id: "a1", service: "api", state: running(container.Healthy)})
	w.add(&fakeContainer{id: "a2", service: "api", name: "p-api-2", state: running(container.Starting)})
	w.add(&fakeContainer{id: "r1", service: "api", name: "p-api-run-1", oneoff: true, state: exited(1)})
	w.add(&fakeContainer{id: "o1", service: "other", state: exited(1)})
	ph := &phases{}
	ph.on = func(service string, phase ui.Phase) {
		if phase == ui.PhaseStarting {
			w.set("a2", true, func(c *fakeContainer) { c.state = running(container.Healthy) })
		}
	}
	wt := w.waiter()
	wt.Report = ph.reporter()
	if err := wt.Wait(ctxFor(t), Scope{Project: "p", Services: []string{"api"}}); err != nil {
		t.Fatalf("a failed run container or another stage's service failed the wait: %v", err)
	}
	for _, call := range w.calls {
		if call == "inspect r1" || call == "inspect o1" {
			t.Errorf("%s: only the services in scope are inspected", call)
		}
	}
	want := []string{"api starting: running, health: starting", "api healthy: running, healthy"}
	if got := ph.list(); !reflect.DeepEqual(got, want) {
		t.Errorf("reported %q, want %q: a service is ready only when all its containers are", got, want)
	}
}

func TestWaitContainerGoneBetweenListAndInspect(t *testing.T) {
	w := newWorld()
	w.add(&fakeContainer{id: "c1", service: "api", state: running("")})
	lister := w.lister()
	wt := w.waiter()
	wt.Lister = &fakeLister{list: func(ctx context.Context, opts client.ContainerListOptions) (client.ContainerListResult, error) {
		res, err := lister.list(ctx, opts)
		// The first time, a container that is removed before it is inspected.
		if len(w.calls) == 2 {
			res.Items = append(res.Items, container.Summary{ID: "gone", Labels: map[string]string{labelProject: "p", labelService: "api"}})
		}
		return res, err
	}}
	if err := wt.Wait(ctxFor(t), Scope{Project: "p", Services: []string{"api"}}); err != nil {
		t.Fatal(err)
	}
}

func TestWaitListError(t *testing.T) {
	w := newWorld()
	w.listErr = errors.New("connection refused")
	err := w.waiter().Wait(ctxFor(t), Scope{Project: "p", Services: []string{"api"}})
	if err == nil || err.Error() != "wait for services: list containers of project p: connection refused" {
		t.Errorf("error %v", err)
	}
}

func TestWaitNothingToWaitFor(t *testing.T) {
	wt := &Waiter{} // no Engine at all: nothing may be asked of it
	if err := wt.Wait(context.Background(), Scope{Project: "p"}); err != nil {
		t.Fatal(err)
	}
}

func TestTailOfATerminalContainer(t *testing.T) {
	w := newWorld()
	w.add(&fakeContainer{id: "c1", service: "api", tty: true, state: exited(1)})
	w.logs["c1"] = "one\r\ntwo\r\n"
	err := w.waiter().Wait(ctxFor(t), Scope{Project: "p", Services: []string{"api"}})
	var e *Error
	if !errors.As(err, &e) || !reflect.DeepEqual(e.Problems[0].Logs, []string{"one", "two"}) {
		t.Fatalf("error %v", err)
	}
}

func TestErrorWithoutLogs(t *testing.T) {
	e := &Error{Problems: []Problem{
		{Service: "a", State: "exited (code 1)"},
		{Service: "b", State: "unhealthy", LogErr: errors.New("read logs: gone")},
	}}
	want := "wait for services: a failed: exited (code 1); b failed: unhealthy\na wrote no log lines\nno log lines of b: read logs: gone"
	if e.Error() != want {
		t.Errorf("got:\n%s\nwant:\n%s", e.Error(), want)
	}
}

func TestWaitSettles(t *testing.T) {
	for name, skew := range map[string]time.Duration{
		"just started":                        0,
		"the Engine's clock is an hour ahead": time.Hour,
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld()
			st := running("")
			st.StartedAt = time.Now().Add(skew).UTC().Format(time.RFC3339Nano)
			w.add(&fakeContainer{id: "c1", service: "web", state: st})
			ph := &phases{}
			wt := w.waiter()
			wt.Report = ph.reporter()
			wt.Settle = 300 * time.Millisecond
			begin := time.Now()
			if err := wt.Wait(ctxFor(t), Scope{Project: "p", Services: []string{"web"}}); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(begin); took < wt.Settle {
				t.Errorf("ready after %s, before settling for %s", took, wt.Settle)
			}
			want := []string{"web starting: running, just started", "web running: running"}
			if got := ph.list(); !reflect.DeepEqual(got, want) {
				t.Errorf("reported %q, want %q", got, want)
			}
		})
	}
	t.Run("running long enough already", func(t *testing.T) {
		w := newWorld()
		st := running("")
		st.StartedAt = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
		w.add(&fakeContainer{id: "c1", service: "web", state: st})
		wt := w.waiter()
		wt.Settle = 10 * time.Second
		if err := wt.Wait(ctxFor(t), Scope{Project: "p", Services: []string{"web"}}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWaitTimeoutBeforeTheFirstLook(t *testing.T) {
	w := newWorld()
	wt := w.waiter()
	wt.Lister = &fakeLister{list: func(ctx context.Context, _ client.ContainerListOptions) (client.ContainerListResult, error) {
		<-ctx.Done() // an Engine that does not answer
		return client.ContainerListResult{}, ctx.Err()
	}}
	wt.Timeout = 20 * time.Millisecond
	err := wt.Wait(ctxFor(t), Scope{Project: "p", Services: []string{"api"}})
	if err == nil || !regexp.MustCompile(`^wait for services: not ready after \d+s: api \(not inspected yet\)$`).MatchString(err.Error()) {
		t.Errorf("error %v", err)
	}
}
