package launch_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/launch"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
	"github.com/startsvc/startsvc/internal/ui"
)

// events records what the engine reports, as one line per call.
type events struct {
	mu    sync.Mutex
	lines []string
}

func (e *events) add(kind, format string, a ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lines = append(e.lines, kind+": "+fmt.Sprintf(format, a...))
}

func (e *events) Step(f string, a ...any)    { e.add("step", f, a...) }
func (e *events) Info(f string, a ...any)    { e.add("info", f, a...) }
func (e *events) Warn(f string, a ...any)    { e.add("warn", f, a...) }
func (e *events) Detail(f string, a ...any)  { e.add("detail", f, a...) }
func (e *events) Success(f string, a ...any) { e.add("success", f, a...) }
func (e *events) Waiting(services []string) launch.Tracker {
	e.add("wait", "%s", strings.Join(services, ","))
	return &tracker{e: e}
}

func (e *events) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.lines, "\n")
}

type tracker struct{ e *events }

func (t *tracker) Update(service string, phase ui.Phase, _ string) {
	t.e.add("phase", "%s %s", service, phase)
}
func (t *tracker) Stop() {}

var _ launch.Reporter = (*events)(nil)

// newLauncher is the engine as a program other than the command line would
// drive it: options filled by hand, no flags, no cobra.
func newLauncher(t *testing.T, dir, project string, rep launch.Reporter) *launch.Launcher {
	t.Helper()
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INFISICAL_") && !strings.HasPrefix(kv, "COMPOSE_") && !strings.HasPrefix(kv, "XDG_") {
			environ = append(environ, kv)
		}
	}
	environ = append(environ, "XDG_CACHE_HOME="+t.TempDir(), "XDG_STATE_HOME="+t.TempDir())
	return &launch.Launcher{
		Env: launch.Env{
			Environ: environ, Dir: dir, Stdout: io.Discard, Stderr: io.Discard,
			LookPath: exec.LookPath, Output: compose.ExecOutput, Command: exec.CommandContext,
		},
		Options: launch.Options{
			Dir: ".", Project: project, Profile: "none", Environment: "private", EnvFile: ".env",
			SkipInfisical: true, SecretsVia: string(secrets.ViaFile),
			InfisicalTimeout: 5 * time.Second, WaitTimeout: 3 * time.Minute, MaxStale: time.Hour,
		},
		Report:   rep,
		Redactor: secrets.NewRedactor(),
	}
}

// TestEngineWithoutCommandLine: issue 18, acceptance 2 — up, status and down
// of a fixture stack on the real Engine, driven through the engine alone.
func TestEngineWithoutCommandLine(t *testing.T) {
	testenv.BuildFixtureImage(t)
	dir := t.TempDir()
	file := "services:\n" +
		"  web:\n    image: " + testenv.FixtureImage + "\n    environment: {READY_AFTER: 1s, GREETING: \"${GREETING}\"}\n" +
		"    healthcheck:\n      test: [\"CMD\", \"/fixture\", \"health\"]\n      interval: 1s\n      start_period: 60s\n" +
		"  worker:\n    image: " + testenv.FixtureImage + "\n"
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("GREETING=hello from the engine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	project := testenv.ProjectName(t)
	ctx := context.Background()
	rep := &events{}
	l := newLauncher(t, dir, project, rep)

	s, err := l.Preflight(ctx, launch.Checks{Requirements: true, DeferSecrets: true, Lock: true, Prepare: true})
	if err != nil {
		t.Fatalf("preflight: %v\n%s", err, rep)
	}
	if got := strings.Join(s.Project.Active(), ","); got != "web,worker" {
		t.Errorf("active services %s, want web,worker", got)
	}
	err = s.Up(ctx)
	s.Close()
	if err != nil {
		t.Fatalf("up: %v\n%s", err, rep)
	}
	env, err := testenv.ContainerEnv(project, "web")
	if err != nil {
		t.Fatal(err)
	}
	if env["GREETING"] != "hello from the engine" {
		t.Errorf("web's GREETING is %q", env["GREETING"])
	}
	if !strings.Contains(rep.String(), "wait: web,worker") {
		t.Errorf("the engine reported no wait for web and worker:\n%s", rep)
	}

	st, err := l.Status(ctx)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	ready := map[string]bool{}
	for _, x := range st {
		ready[x.Service] = x.Ready
	}
	if !ready["web"] || !ready["worker"] || len(ready) != 2 {
		t.Errorf("status after up: %+v", ready)
	}

	if _, err := l.Down(ctx, false); err != nil {
		t.Fatalf("down: %v\n%s", err, rep)
	}
	if got, err := testenv.Services(project, true); err != nil || len(got) != 0 {
		t.Errorf("after down the project still has containers %v (%v)", got, err)
	}
	if st, err := l.Status(ctx); err != nil || len(st) != 0 {
		t.Errorf("status after down: %d services (%v)", len(st), err)
	}
}

// TestComposeAgreesWithThePlan: issue 10 — compose's own comparison (its
// config-hash label) agrees with startsvc's plan: after an up, compose would
// recreate nothing that startsvc keeps; after a change, both pick the same
// service. Compose is asked with --dry-run, with the same files (the
// generated overlay included) and env file startsvc gives it.
func TestComposeAgreesWithThePlan(t *testing.T) {
	testenv.BuildFixtureImage(t)
	dir := t.TempDir()
	file := "services:\n" +
		"  one:\n    image: " + testenv.FixtureImage + "\n    environment: {A: \"${A}\"}\n" +
		"  two:\n    image: " + testenv.FixtureImage + "\n    environment: {B: \"${B}\"}\n    ports: [\"8080\"]\n"
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("compose.yaml", file)
	write(".env", "A=first\nB=first\n")
	project := testenv.ProjectName(t)
	ctx := context.Background()
	l := newLauncher(t, dir, project, &events{})
	s, err := l.Preflight(ctx, launch.Checks{Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Up(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// composeWould lists the services compose's dry run would recreate.
	composeWould := func(s *launch.Stack) []string {
		t.Helper()
		args := []string{"compose", "--project-name", project, "--project-directory", dir}
		for _, f := range s.Files() {
			args = append(args, "--file", f)
		}
		args = append(args, "--env-file", filepath.Join(dir, ".env"), "--dry-run", "up", "--detach", "--pull", "never")
		out, err := exec.Command("docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker compose --dry-run up: %v\n%s", err, out)
		}
		var svcs []string
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasSuffix(strings.TrimSpace(line), " Recreate") {
				for _, name := range []string{"one", "two"} {
					if strings.Contains(line, project+"-"+name+"-1") {
						svcs = append(svcs, name)
					}
				}
			}
		}
		return svcs
	}
	for _, tc := range []struct{ env, want string }{
		{"A=first\nB=first\n", ""},
		{"A=first\nB=second\n", "two"},
	} {
		write(".env", tc.env)
		s, err := l.Preflight(ctx, launch.Checks{})
		if err != nil {
			t.Fatal(err)
		}
		plan, err := s.Plan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ours := strings.Join(plan.Services(launch.Recreate), ",")
		theirs := strings.Join(composeWould(s), ",")
		s.Close()
		if ours != tc.want || theirs != tc.want {
			t.Errorf("with %q: startsvc would recreate [%s], compose [%s]; want [%s] from both", tc.env, ours, theirs, tc.want)
		}
	}
}
