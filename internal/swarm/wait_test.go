package swarm

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/health"
	"github.com/startsvc/startsvc/internal/ui"
)

// fakeInfo answers docker info with a swarm state.
type fakeInfo struct{ swarm swarm.Info }

func (f fakeInfo) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	return client.SystemInfoResult{Info: system.Info{Swarm: f.swarm}}, nil
}

var _ InfoAPI = fakeInfo{}

func TestCheckManager(t *testing.T) {
	for _, c := range []struct {
		name string
		info swarm.Info
		say  string
	}{
		{"not in a swarm", swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}, "docker swarm init --advertise-addr 127.0.0.1"},
		{"a worker", swarm.Info{LocalNodeState: swarm.LocalNodeStateActive}, "swarm worker"},
		{"locked", swarm.Info{LocalNodeState: swarm.LocalNodeStateLocked}, "docker swarm unlock"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckManager(context.Background(), fakeInfo{c.info})
			if err == nil || !strings.Contains(err.Error(), c.say) {
				t.Fatalf("error %v, want one saying %q", err, c.say)
			}
			if code := exitcode.Of(nil, err); code != exitcode.Unavailable {
				t.Errorf("exit code %d, want %d", code, exitcode.Unavailable)
			}
		})
	}
	if err := CheckManager(context.Background(), fakeInfo{swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true}}); err != nil {
		t.Errorf("a manager: %v", err)
	}
}

// task builds a task of a specification (by hash) in a state.
func task(id, hash string, desired, state swarm.TaskState, at time.Time) swarm.Task {
	return swarm.Task{ID: id, ServiceID: "svc", DesiredState: desired,
		Spec:   swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Labels: map[string]string{LabelSpecHash: hash}}},
		Status: swarm.TaskStatus{State: state, Timestamp: at}}
}

func service(hash string, desired uint64, update *swarm.UpdateStatus) swarm.Service {
	return swarm.Service{ID: "svc", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "demo_app", Labels: map[string]string{LabelSpecHash: hash}},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &desired}}},
		ServiceStatus: &swarm.ServiceStatus{DesiredTasks: desired}, UpdateStatus: update}
}

func TestJudge(t *testing.T) {
	since := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	before, after := since.Add(-time.Hour), since.Add(time.Second)
	run, shut := swarm.TaskStateRunning, swarm.TaskStateShutdown
	failed := func(id string, at time.Time) swarm.Task {
		t := task(id, "new", shut, swarm.TaskStateFailed, at)
		t.Status.Err = "task: non-zero exit (3)"
		t.Status.ContainerStatus = &swarm.ContainerStatus{ExitCode: 3}
		return t
	}
	for _, c := range []struct {
		name   string
		want   Service
		svc    swarm.Service
		tasks  []swarm.Task
		phase  ui.Phase
		state  string
		settle bool
	}{
		{name: "healthy", want: Service{Hash: "new", Health: true}, svc: service("new", 1, nil),
			tasks: []swarm.Task{task("t1", "new", run, run, after)}, phase: ui.PhaseHealthy, state: "1/1 running, healthy"},
		{name: "running before the deploy needs no settling", want: Service{Hash: "new"}, svc: service("new", 1, nil),
			tasks: []swarm.Task{task("t1", "new", run, run, before)}, phase: ui.PhaseRunning, settle: true},
		{name: "old specification still applied", want: Service{Hash: "new"}, svc: service("old", 1, nil),
			tasks: []swarm.Task{task("t1", "old", run, run, before)}, phase: ui.PhaseWaiting, state: "not applied yet"},
		{name: "rolling: the new task starts while the old one runs", want: Service{Hash: "new", Health: true},
			svc:   service("new", 1, &swarm.UpdateStatus{State: swarm.UpdateStateUpdating}),
			tasks: []swarm.Task{task("t1", "old", run, run, before), task("t2", "new", run, swarm.TaskStateStarting, after)},
			phase: ui.PhaseStarting, state: "health: starting"},
		{name: "update converged but not reported complete", want: Service{Hash: "new"},
			svc:   service("new", 1, &swarm.UpdateStatus{State: swarm.UpdateStateUpdating}),
			tasks: []swarm.Task{task("t1", "old", shut, shut, before), task("t2", "new", run, run, after)},
			phase: ui.PhaseStarting, state: "rolling update in progress"},
		{name: "update paused", want: Service{Hash: "new"},
			svc:   service("new", 1, &swarm.UpdateStatus{State: swarm.UpdateStatePaused, Message: "update paused due to failure"}),
			tasks: []swarm.Task{failed("t2", after)}, phase: ui.PhaseFailed, state: "update paused: update paused due to failure"},
		{name: "rolled back", want: Service{Hash: "new"},
			svc:   service("new", 1, &swarm.UpdateStatus{State: swarm.UpdateStateRollbackCompleted, Message: "rollback completed"}),
			phase: ui.PhaseFailed, state: "update failed, rollback completed"},
		{name: "failures up to the bound are retried", want: Service{Hash: "new"}, svc: service("new", 1, nil),
			tasks: []swarm.Task{failed("f1", after), failed("f2", after), task("t3", "new", run, swarm.TaskStatePreparing, after)},
			phase: ui.PhaseWaiting, state: "task preparing"},
		{name: "more failures fail", want: Service{Hash: "new"}, svc: service("new", 1, nil),
			tasks: []swarm.Task{failed("f1", after), failed("f2", after), failed("f3", after.Add(time.Second))},
			phase: ui.PhaseFailed, state: "task failed (exit code 3): task: non-zero exit (3) (3 tasks failed)"},
		{name: "failures before the deploy do not count", want: Service{Hash: "new"}, svc: service("new", 1, nil),
			tasks: []swarm.Task{failed("f1", before), failed("f2", before), failed("f3", before), task("t4", "new", run, run, after)},
			phase: ui.PhaseRunning},
		{name: "one failure is final without restarts", want: Service{Hash: "new", NoRestart: true}, svc: service("new", 1, nil),
			tasks: []swarm.Task{failed("f1", after)}, phase: ui.PhaseFailed, state: "exit code 3"},
		{name: "a service's task that completes has failed", want: Service{Hash: "new", Health: true}, svc: service("new", 1, nil),
			tasks: []swarm.Task{task("t1", "new", shut, swarm.TaskStateComplete, after), task("t2", "new", shut, swarm.TaskStateComplete, after),
				task("t3", "new", shut, swarm.TaskStateComplete, after)},
			phase: ui.PhaseFailed, state: "exited (code 0), and the service is meant to keep running (Swarm stops a task whose healthcheck fails)"},
		{name: "a job that completed", want: Service{Hash: "new", Job: true}, svc: service("new", 0, nil),
			tasks: []swarm.Task{task("t1", "new", swarm.TaskStateComplete, swarm.TaskStateComplete, after)}, phase: ui.PhaseDone},
		{name: "a job at work", want: Service{Hash: "new", Job: true}, svc: service("new", 1, nil),
			tasks: []swarm.Task{task("t1", "new", swarm.TaskStateComplete, run, after)}, phase: ui.PhaseStarting},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := judge(&c.want, c.svc, c.tasks, since, DefaultMaxFailures, strings.ToUpper)
			if o.phase != c.phase || !strings.Contains(strings.ToLower(o.state), strings.ToLower(c.state)) || o.settled != c.settle {
				t.Errorf("got %s %q (settled %v), want %s containing %q (settled %v)", o.phase, o.state, o.settled, c.phase, c.state, c.settle)
			}
		})
	}
}

func TestJudgeMasksTaskErrors(t *testing.T) {
	f := task("f1", "new", swarm.TaskStateShutdown, swarm.TaskStateFailed, time.Now())
	f.Status.Err = "starting container failed: secret-value-123 is wrong"
	o := judge(&Service{Hash: "new", NoRestart: true}, service("new", 1, nil), []swarm.Task{f}, time.Time{}, 2,
		func(s string) string { return strings.ReplaceAll(s, "secret-value-123", "****") })
	if strings.Contains(o.state, "secret-value-123") || !strings.Contains(o.state, "****") {
		t.Errorf("the task error is not masked: %q", o.state)
	}
}

// fakeWaitAPI serves a script of looks: each ServiceList call moves to the
// next, and the last one stays.
type fakeWaitAPI struct {
	looks [][]swarm.Task
	svc   swarm.Service
	calls int
	n     int
}

func (f *fakeWaitAPI) ServiceList(context.Context, client.ServiceListOptions) (client.ServiceListResult, error) {
	f.n = min(f.calls, len(f.looks)-1)
	f.calls++
	return client.ServiceListResult{Items: []swarm.Service{f.svc}}, nil
}

func (f *fakeWaitAPI) TaskList(context.Context, client.TaskListOptions) (client.TaskListResult, error) {
	return client.TaskListResult{Items: f.looks[f.n]}, nil
}

func (f *fakeWaitAPI) TaskLogs(context.Context, string, client.TaskLogsOptions) (client.TaskLogsResult, error) {
	return io.NopCloser(strings.NewReader("")), nil
}

var _ WaitAPI = (*fakeWaitAPI)(nil)

// recorder is a health.Reporter that remembers each update.
type recorder struct{ updates []string }

func (r *recorder) Update(service string, phase ui.Phase, detail string) {
	r.updates = append(r.updates, service+" "+string(phase))
}

func TestWaitConvergesAndReports(t *testing.T) {
	now := time.Now()
	api := &fakeWaitAPI{svc: service("h", 1, nil), looks: [][]swarm.Task{
		{task("t1", "h", swarm.TaskStateRunning, swarm.TaskStatePreparing, now)},
		{task("t1", "h", swarm.TaskStateRunning, swarm.TaskStateStarting, now)},
		{task("t1", "h", swarm.TaskStateRunning, swarm.TaskStateRunning, now)},
	}}
	def := &Definition{Services: map[string]*Service{"app": {Name: "app", Hash: "h", Health: true}}}
	rec := &recorder{}
	w := &Waiter{Engine: api, Stack: "demo", Report: rec, Poll: time.Millisecond, Settle: 20 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Wait(ctx, def, []string{"app"}); err != nil {
		t.Fatal(err)
	}
	// Preparing, starting, then running but held for Settle, then healthy.
	if got := strings.Join(rec.updates, ", "); got != "app waiting, app starting, app starting, app healthy" {
		t.Errorf("progress: %s", got)
	}
}

func TestWaitTimesOutNamingTheService(t *testing.T) {
	api := &fakeWaitAPI{svc: service("h", 1, nil), looks: [][]swarm.Task{{task("t1", "h", swarm.TaskStateRunning, swarm.TaskStatePreparing, time.Now())}}}
	def := &Definition{Services: map[string]*Service{"app": {Name: "app", Hash: "h"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := (&Waiter{Engine: api, Stack: "demo", Poll: time.Millisecond}).Wait(ctx, def, []string{"app"})
	var he *health.Error
	if !errors.As(err, &he) || !he.TimedOut || len(he.Problems) != 1 || he.Problems[0].Service != "app" ||
		!strings.Contains(he.Problems[0].State, "preparing") {
		t.Fatalf("error %v, want a timeout naming app and its task's state", err)
	}
}
