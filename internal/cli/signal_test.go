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
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/testenv"
)

// fakeCompose makes the test binary act as a compose CLI when
// STARTSVC_FAKE_COMPOSE names a folder: it answers `version`, and on `up` it
// counts the SIGINTs it receives for a while, writes the count, and exits 130.
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
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGINT {
				count++
			}
			if settle == nil {
				settle = time.After(1500 * time.Millisecond)
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
