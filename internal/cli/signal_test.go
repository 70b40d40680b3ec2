package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

// fakeCompose makes the test binary act as a compose CLI when
// STARTSVC_FAKE_COMPOSE names a folder: it answers `version`, and on `up` it
// counts the SIGINTs it receives for a while, writes the count, and exits 130.
// With STARTSVC_FAKE_COMPOSE_CHATTY set it also prints a line every 50 ms
// until the first signal, as a compose showing progress does.
func fakeCompose(dir string) int {
	args := os.Args[1:]
	if len(args) >= 1 && args[0] == "version" {
		fmt.Println("2.40.3")
		return 0
	}
	isUp := false
	for _, a := range args {
		if a == "up" {
			isUp = true
		}
	}
	if !isUp {
		return 0
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	os.WriteFile(filepath.Join(dir, "started"), nil, 0o644)
	count := 0
	deadline := time.After(30 * time.Second)
	var settle <-chan time.Time
	var chatter <-chan time.Time
	if os.Getenv("STARTSVC_FAKE_COMPOSE_CHATTY") != "" {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		chatter = t.C
	}
	for {
		select {
		case <-chatter:
			fmt.Println(" Container fake-app-1  Waiting")
		case s := <-sigs:
			if s == syscall.SIGINT {
				count++
			}
			if settle == nil {
				settle = time.After(1500 * time.Millisecond)
				chatter = nil
			}
		case <-settle:
			os.WriteFile(filepath.Join(dir, "sigints"), []byte(fmt.Sprint(count)), 0o644)
			return 130
		case <-deadline:
			return 1
		}
	}
}

func waitForFile(t *testing.T, path string, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not appear within %s", path, within)
		case <-tick.C:
		}
	}
}

func writeStack(t *testing.T, compose string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "compose"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "compose", "docker-compose.yml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestCtrlCReachesComposeOnce sends SIGINT the way a terminal does, to the whole
// foreground process group, and SIGTERM the way a supervisor does, to startsvc
// alone: either way compose receives exactly one SIGINT and startsvc exits 130.
func TestCtrlCReachesComposeOnce(t *testing.T) {
	testenv.RequireDocker(t)
	bin := testenv.StartsvcBinary(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	stack := writeStack(t, "services:\n  app:\n    image: "+testenv.FixtureImage+"\n")
	for _, c := range []struct {
		name  string
		sig   syscall.Signal
		group bool
	}{
		{"SIGINT to the process group", syscall.SIGINT, true},
		{"SIGTERM to startsvc", syscall.SIGTERM, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := t.TempDir()
			cmd := exec.Command(bin, "up", "-C", stack, "-p", testenv.ProjectName(t), "--compose", self)
			cmd.Env = append(os.Environ(), "STARTSVC_FAKE_COMPOSE="+fake)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitForFile(t, filepath.Join(fake, "started"), 30*time.Second)
			pid := cmd.Process.Pid
			if c.group {
				pid = -pid
			}
			if err := syscall.Kill(pid, c.sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			if code := exitCode(err); code != 130 {
				t.Errorf("startsvc exited %d, want 130; stderr:\n%s", code, stderr.String())
			}
			n, _ := os.ReadFile(filepath.Join(fake, "sigints"))
			if string(n) != "1" {
				t.Errorf("compose received %q SIGINTs, want exactly 1", n)
			}
			if !strings.Contains(stderr.String(), "interrupted") {
				t.Errorf("stderr does not say it was interrupted:\n%s", stderr.String())
			}
		})
	}
}

// TestInterruptDuringUpLeavesNothingDownCannotClean interrupts a real compose
// while it waits for a dependency to turn healthy, then checks that startsvc
// exits 130 and that down removes every container of the project.
func TestInterruptDuringUpLeavesNothingDownCannotClean(t *testing.T) {
	testenv.BuildFixtureImage(t)
	bin := testenv.StartsvcBinary(t)
	project := testenv.ProjectName(t)
	stack := writeStack(t, `services:
  slow:
    image: `+testenv.FixtureImage+`
    environment: {READY_AFTER: 60s}
    healthcheck:
      test: ["CMD", "/fixture", "health"]
      interval: 1s
  after:
    image: `+testenv.FixtureImage+`
    depends_on:
      slow: {condition: service_healthy}
`)
	cmd := exec.Command(bin, "up", "-C", stack, "-p", project)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until compose has created the first container, then interrupt.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		names, err := testenv.Services(project, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(names) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			cmd.Process.Kill()
			t.Fatalf("no container started; stderr:\n%s", stderr.String())
		case <-tick.C:
		}
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := exitCode(err); code != 130 {
		t.Fatalf("startsvc exited %d, want 130; stderr:\n%s", code, stderr.String())
	}
	t.Logf("startsvc ended %s after SIGINT", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(stderr.String(), "startsvc down") {
		t.Errorf("stderr does not say how to clean up:\n%s", stderr.String())
	}
	down := exec.Command(bin, "down", "-C", stack, "-p", project)
	if out, err := down.CombinedOutput(); err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}
	if left, _ := testenv.Services(project, true); len(left) != 0 {
		t.Errorf("containers left after down: %v", left)
	}
}

// startWatched starts the startsvc binary with its output collected, and
// returns a function that waits for it.
func startWatched(t *testing.T, env []string, args ...string) (*exec.Cmd, *syncBuffer, func() int) {
	t.Helper()
	cmd := exec.Command(testenv.StartsvcBinary(t), args...)
	cmd.Env = append(append(os.Environ(), "XDG_STATE_HOME="+t.TempDir()), env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out, func() int { return exitCode(cmd.Wait()) }
}

// syncBuffer is a bytes.Buffer safe for a process's two streams and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// until polls cond every 20 ms for at most within.
func until(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not happen within %s", what, within)
		case <-tick.C:
		}
	}
}

// TestSignalsAtEveryMoment interrupts up with SIGINT and SIGTERM before the
// hand-over file exists, while it exists, and during the health wait: each time
// startsvc exits 130, compose is stopped, no hand-over file is left and no
// secret is printed.
func TestSignalsAtEveryMoment(t *testing.T) {
	testenv.BuildFixtureImage(t)
	srv := fakeInfisical(t, infisicaltest.V4)
	// A server that hangs on login holds startsvc in the Infisical phase, before
	// any hand-over file exists: an interruption there must not fall back.
	hanging := fakeInfisical(t, infisicaltest.V4)
	hanging.FailAlways(infisicaltest.RouteLogin, infisicaltest.HangBeforeHeaders())
	moments := []struct {
		name string
		srv  *infisicaltest.Server
		when func(stack string, out *syncBuffer) func() bool
	}{
		{"during the Infisical phase", hanging, func(string, *syncBuffer) func() bool {
			return func() bool {
				select {
				case <-hanging.Hanging():
					return true
				default:
					return false
				}
			}
		}},
		{"while the hand-over file exists", srv, func(stack string, _ *syncBuffer) func() bool {
			return func() bool { _, err := os.Stat(filepath.Join(stack, secrets.FileName)); return err == nil }
		}},
		{"during the health wait", srv, func(_ string, out *syncBuffer) func() bool {
			return func() bool { return strings.Contains(out.String(), "waiting for") }
		}},
	}
	for _, m := range moments {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run(m.name+" "+sig.String(), func(t *testing.T) {
				stack := secretStack(t, precedenceEnv)
				compose := filepath.Join(stack, "compose", "docker-compose.yml")
				data, _ := os.ReadFile(compose)
				slow := strings.Replace(string(data), "    environment:\n", "    environment:\n      READY_AFTER: 60s\n", 1) +
					"    healthcheck:\n      test: [\"CMD\", \"/fixture\", \"health\"]\n      interval: 1s\n      start_period: 120s\n"
				os.WriteFile(compose, []byte(slow), 0o644)
				project := testenv.ProjectName(t)
				cmd, out, wait := startWatched(t, infisicalEnv(m.srv, "client-secret-value-1"), "up", "-C", stack, "-p", project, "-v", "--infisical-timeout", "60s")
				until(t, 60*time.Second, m.name, m.when(stack, out))
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				if code := wait(); code != 130 {
					t.Fatalf("exit %d, want 130:\n%s", code, out.String())
				}
				if _, err := os.Stat(filepath.Join(stack, secrets.FileName)); !os.IsNotExist(err) {
					t.Errorf("%s left behind", secrets.FileName)
				}
				values := map[string]string{"OVERRIDE": "override-from-infisical", "ONLY": "only-in-infisical-value", "SECRET": "client-secret-value-1"}
				for k, v := range testenv.Hostile {
					values[k] = v
				}
				assertNoValues(t, out.String(), values)
				// compose was stopped: no process names this project any more
				if pids := processesMentioning(project); len(pids) > 0 {
					t.Errorf("processes of the project still run: %v", pids)
				}
			})
		}
	}
}

// TestSigkillLeftoverIsRemovedNextTime kills startsvc while the hand-over file
// exists — nothing can clean up then — and checks that the next command that
// touches the project removes it.
func TestSigkillLeftoverIsRemovedNextTime(t *testing.T) {
	testenv.BuildFixtureImage(t)
	srv := fakeInfisical(t, infisicaltest.V4)
	stack := secretStack(t, precedenceEnv)
	project := testenv.ProjectName(t)
	file := filepath.Join(stack, secrets.FileName)
	cmd, out, wait := startWatched(t, infisicalEnv(srv, "client-secret-value-1"), "up", "-C", stack, "-p", project)
	until(t, 60*time.Second, "the hand-over file", func() bool { _, err := os.Stat(file); return err == nil })
	cmd.Process.Kill()
	wait()
	if _, err := os.Stat(file); err != nil {
		t.Skipf("startsvc removed the file before SIGKILL landed (%v); nothing to recover", err)
	}
	r := startsvc(t, nil, "down", "-C", stack, "-p", project)
	if r.code != 0 {
		t.Fatalf("down exited %d:\n%s\n%s", r.code, r.out, out.String())
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("the leftover %s is still there after the next run", secrets.FileName)
	}
	if !strings.Contains(r.out, "left behind by an earlier run") {
		t.Errorf("down does not say it removed the leftover:\n%s", r.out)
	}
}

// TestConcurrentUpWaits starts two ups of one project: the second waits for
// the first, says so, and both succeed.
func TestConcurrentUpWaits(t *testing.T) {
	testenv.BuildFixtureImage(t)
	stack := writeStack(t, "services:\n  app:\n    image: "+testenv.FixtureImage+"\n    environment: {READY_AFTER: 3s}\n"+
		"    healthcheck:\n      test: [\"CMD\", \"/fixture\", \"health\"]\n      interval: 1s\n      start_period: 60s\n")
	project := testenv.ProjectName(t)
	_, out1, wait1 := startWatched(t, nil, "up", "-C", stack, "-p", project)
	until(t, 60*time.Second, "the first up to start compose", func() bool { return strings.Contains(out1.String(), "starting project") })
	_, out2, wait2 := startWatched(t, nil, "up", "-C", stack, "-p", project)
	code1, code2 := wait1(), wait2()
	if code1 != 0 || code2 != 0 {
		t.Fatalf("exits %d and %d, want 0 and 0:\n--- first\n%s\n--- second\n%s", code1, code2, out1.String(), out2.String())
	}
	if !strings.Contains(out2.String(), "is working on project "+project+"; waiting") {
		t.Errorf("the second up does not say it waits:\n%s", out2.String())
	}
	if running, _ := testenv.Services(project, false); len(running) != 1 {
		t.Errorf("running services: %v", running)
	}
}

// processesMentioning lists the pids whose command line contains s.
func processesMentioning(s string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}
