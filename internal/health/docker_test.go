package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/docker"
	"github.com/startsvc/startsvc/internal/testenv"
	"github.com/startsvc/startsvc/internal/ui"
)

// These tests run the fixture image on the real Engine with the real compose.

// engine connects to the Engine the way startsvc does.
func engine(t *testing.T) *docker.Engine {
	t.Helper()
	e, err := docker.Connect(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// composeUp writes a compose file for project from services (YAML under
// `services:`, with IMAGE standing for the fixture image) and runs `up -d`.
func composeUp(t *testing.T, project, services string) {
	t.Helper()
	image := testenv.BuildFixtureImage(t)
	dir := t.TempDir()
	body := "services:\n" + strings.ReplaceAll(services, "IMAGE", image)
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "compose", "--project-name", project, "up", "--detach", "--quiet-pull")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker compose up: %v\n%s", err, out)
	}
}

// recorder keeps the phases a wait reports, per service.
type recorder struct {
	mu   sync.Mutex
	seen map[string][]ui.Phase
}

func (r *recorder) Update(service string, phase ui.Phase, _ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string][]ui.Phase{}
	}
	r.seen[service] = append(r.seen[service], phase)
}

func (r *recorder) phases(service string) []ui.Phase {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ui.Phase(nil), r.seen[service]...)
}

const healthcheck = `
    healthcheck:
      test: ["CMD", "/fixture", "health"]
      interval: 500ms
      timeout: 2s
`

func TestEngineHealthyAfterFourSeconds(t *testing.T) {
	testenv.RequireDocker(t)
	t.Parallel()
	project := testenv.ProjectName(t)
	composeUp(t, project, `
  web:
    image: IMAGE
    pull_policy: never
    command: ["serve"]
    environment:
      READY_AFTER: 4s
    ports: ["127.0.0.1::8080"]
`+healthcheck+`      retries: 100
`)
	rec := &recorder{}
	w := New(engine(t).Client(), nil)
	w.Report = rec
	w.Timeout = 60 * time.Second
	w.Poll = time.Hour // only the Engine's events can move this wait on
	start := time.Now()
	if err := w.Wait(context.Background(), Scope{Project: project, Services: []string{"web"}}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("ready %s after compose up returned", took.Round(10*time.Millisecond))
	if got := rec.phases("web"); !reflect.DeepEqual(got, []ui.Phase{ui.PhaseStarting, ui.PhaseHealthy}) {
		t.Errorf("phases %v, want starting then healthy", got)
	}
	// Poll is an hour: a wait that did not act on the Engine's events would
	// have run into its 60 s timeout instead.
	if took > 50*time.Second {
		t.Errorf("the wait took %s for a service healthy after 4s", took)
	}

	st, err := Collect(context.Background(), engine(t).Client(), Scope{Project: project, Services: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].State != "running" || st[0].Health != "healthy" || !st[0].Ready || len(st[0].Ports) == 0 {
		t.Fatalf("status %+v", st)
	}
	want := fmt.Sprintf("http://localhost:%d", st[0].Ports[0].HostPort)
	if st[0].URL != want || st[0].Ports[0].HostIP != "127.0.0.1" || st[0].Ports[0].ContainerPort != 8080 {
		t.Errorf("ports %+v, URL %q, want %s", st[0].Ports, st[0].URL, want)
	}
}

func TestEngineNeverHealthy(t *testing.T) {
	testenv.RequireDocker(t)
	t.Parallel()
	project := testenv.ProjectName(t)
	composeUp(t, project, `
  never:
    image: IMAGE
    pull_policy: never
    command: ["serve"]
    environment:
      NEVER_HEALTHY: "1"
      SERVICE_NAME: hush-hush-value
`+healthcheck+`      retries: 1000
  sick:
    image: IMAGE
    pull_policy: never
    command: ["serve"]
    environment:
      NEVER_HEALTHY: "1"
`+healthcheck+`      retries: 2
`)
	mask := func(s string) string { return strings.ReplaceAll(s, "hush-hush-value", "*****") }

	t.Run("times out naming the service with its log lines", func(t *testing.T) {
		w := New(engine(t).Client(), mask)
		w.Timeout = 3 * time.Second
		start := time.Now()
		err := w.Wait(context.Background(), Scope{Project: project, Services: []string{"never"}})
		took := time.Since(start)
		var e *Error
		if !errors.As(err, &e) || !e.TimedOut {
			t.Fatalf("error %v, want a timeout", err)
		}
		if took > w.Timeout+60*time.Second {
			t.Errorf("a 3s wait took %s", took)
		}
		msg := err.Error()
		for _, want := range []string{
			"wait for services: not ready after ",
			"s: never (running, health: starting)",
			"log lines of never:",
			"fixture: configured never to turn healthy",
			"fixture *****: serving on :8080",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q:\n%s", want, msg)
			}
		}
		if strings.Contains(msg, "hush-hush-value") {
			t.Errorf("message shows a masked value:\n%s", msg)
		}
	})

	t.Run("unhealthy fails before the timeout", func(t *testing.T) {
		w := New(engine(t).Client(), mask)
		w.Timeout = 60 * time.Second
		start := time.Now()
		err := w.Wait(context.Background(), Scope{Project: project, Services: []string{"sick"}})
		var e *Error
		if !errors.As(err, &e) || e.TimedOut || e.Problems[0].Service != "sick" || !strings.HasPrefix(e.Problems[0].State, "unhealthy") {
			t.Fatalf("error %v, want sick unhealthy", err)
		}
		if took := time.Since(start); took > 55*time.Second {
			t.Errorf("failing took %s, near the 60s timeout", took)
		}
		if !strings.Contains(err.Error(), "fixture: configured never to turn healthy") {
			t.Errorf("no log lines:\n%s", err)
		}
	})
}

func TestEngineOneShotJobs(t *testing.T) {
	testenv.RequireDocker(t)
	t.Parallel()
	project := testenv.ProjectName(t)
	composeUp(t, project, `
  job-ok:
    image: IMAGE
    pull_policy: never
    command: ["job"]
    restart: "no"
    labels:
      startsvc.oneshot: "true"
    environment:
      JOB_DELAY: 1s
      SERVICE_NAME: ok
  job-fail:
    image: IMAGE
    pull_policy: never
    command: ["job"]
    restart: "no"
    labels:
      startsvc.oneshot: "true"
    environment:
      JOB_DELAY: 1s
      EXIT_CODE: "3"
      SERVICE_NAME: fail
`)
	t.Run("exit 0 is ready", func(t *testing.T) {
		rec := &recorder{}
		w := New(engine(t).Client(), nil)
		w.Report, w.Timeout = rec, 60*time.Second
		if err := w.Wait(context.Background(), Scope{Project: project, Services: []string{"job-ok"}}); err != nil {
			t.Fatal(err)
		}
		if got := rec.phases("job-ok"); len(got) == 0 || got[len(got)-1] != ui.PhaseDone {
			t.Errorf("phases %v, want done last", got)
		}
	})
	t.Run("exit 3 fails with its log", func(t *testing.T) {
		w := New(engine(t).Client(), nil)
		w.Timeout = 60 * time.Second
		err := w.Wait(context.Background(), Scope{Project: project, Services: []string{"job-fail"}})
		var e *Error
		if !errors.As(err, &e) || e.Problems[0].State != "exited (code 3)" {
			t.Fatalf("error %v, want job-fail exited (code 3)", err)
		}
		if want := "wait for services: job-fail failed: exited (code 3)\nlast 1 log lines of job-fail:\n  | fixture job fail: done, exit 3"; err.Error() != want {
			t.Errorf("message:\n%s\nwant:\n%s", err, want)
		}
	})
	t.Run("status shows both", func(t *testing.T) {
		st, err := Collect(context.Background(), engine(t).Client(), Scope{Project: project})
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 2 || st[0].Service != "job-fail" || *st[0].ExitCode != 3 || st[0].Ready ||
			st[1].Service != "job-ok" || *st[1].ExitCode != 0 || !st[1].Ready || !st[1].OneShot {
			t.Errorf("status %+v", st)
		}
		if got := Unready(st); !reflect.DeepEqual(got, []string{"job-fail"}) {
			t.Errorf("Unready = %q", got)
		}
	})
}

func TestEngineRestartLoop(t *testing.T) {
	testenv.RequireDocker(t)
	t.Parallel()
	project := testenv.ProjectName(t)
	composeUp(t, project, `
  crashy:
    image: IMAGE
    pull_policy: never
    command: ["serve"]
    restart: always
    environment:
      EXIT_AFTER: 300ms
      EXIT_CODE: "1"
      SERVICE_NAME: crashy
`)
	w := New(engine(t).Client(), nil)
	w.Timeout = 60 * time.Second
	// Longer than the default, so that a loaded machine, slow to run the
	// fixture to its exit, cannot make a run of it look settled.
	w.Settle = 5 * time.Second
	err := w.Wait(context.Background(), Scope{Project: project, Services: []string{"crashy"}})
	var e *Error
	if !errors.As(err, &e) || e.TimedOut || !strings.HasPrefix(e.Problems[0].State, "restarting in a loop") {
		t.Fatalf("error %v, want crashy restarting in a loop", err)
	}
	if !strings.Contains(err.Error(), "fixture crashy: exiting with 1 as configured") {
		t.Errorf("no log lines:\n%s", err)
	}
}
