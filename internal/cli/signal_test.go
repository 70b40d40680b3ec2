package cli_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

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
