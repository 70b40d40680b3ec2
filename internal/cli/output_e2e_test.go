package cli_test

import (
	"bytes"
	"fmt"
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

// upWithFakeCompose starts `startsvc up` on a stack with Infisical secrets,
// so that a hand-over file exists while compose runs, with the test binary as
// a compose that waits for SIGINT (fakeCompose). It returns the command (not
// yet started), the stack and the fake's folder.
func upWithFakeCompose(t *testing.T, chatty bool) (*exec.Cmd, string, string) {
	t.Helper()
	testenv.RequireDocker(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	srv := fakeInfisical(t, infisicaltest.V4)
	stack := secretStack(t, precedenceEnv)
	fake := t.TempDir()
	cmd := exec.Command(testenv.StartsvcBinary(t), "up", "-C", stack, "-p", testenv.ProjectName(t), "--compose", self)
	cmd.Env = append(append(os.Environ(), infisicalEnv(srv, "client-secret-value-1")...), "STARTSVC_FAKE_COMPOSE="+fake)
	if chatty {
		cmd.Env = append(cmd.Env, "STARTSVC_FAKE_COMPOSE_CHATTY=1")
	}
	return cmd, stack, fake
}

// TestEverySignalCleansUp sends each signal that would end a Go program
// without its clean-up — SIGQUIT, SIGABRT and others dump a stack and exit 2,
// "usage error", by default — to startsvc while the hand-over file exists:
// each time compose is stopped (one SIGINT), the file is removed, and the
// exit code is 130, naming the signal.
func TestEverySignalCleansUp(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGABRT, syscall.SIGSEGV, syscall.SIGSYS} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, stack, fake := upWithFakeCompose(t, false)
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitForFile(t, filepath.Join(fake, "started"), time.Minute)
			if _, err := os.Stat(filepath.Join(stack, secrets.FileName)); err != nil {
				t.Fatalf("no hand-over file while compose runs: %v", err)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := exitCode(cmd.Wait()); code != 130 {
				t.Errorf("exit %d, want 130:\n%s", code, out.String())
			}
			if _, err := os.Stat(filepath.Join(stack, secrets.FileName)); !os.IsNotExist(err) {
				t.Errorf("%s left behind", secrets.FileName)
			}
			if n, _ := os.ReadFile(filepath.Join(fake, "sigints")); string(n) != "1" {
				t.Errorf("compose received %q SIGINTs, want exactly 1", n)
			}
			name := map[syscall.Signal]string{syscall.SIGQUIT: "SIGQUIT", syscall.SIGHUP: "SIGHUP", syscall.SIGABRT: "SIGABRT",
				syscall.SIGSEGV: "SIGSEGV", syscall.SIGSYS: "SIGSYS"}[sig]
			if !strings.Contains(out.String(), "interrupted by "+name) {
				t.Errorf("the output does not say it was interrupted by %s:\n%s", name, out.String())
			}
			if strings.Contains(out.String(), "goroutine ") {
				t.Errorf("a stack dump was printed:\n%.2000s", out.String())
			}
		})
	}
}

// TestOutputGoneCleansUp is `startsvc up 2>&1 | head -1`: the reader reads a
// line and goes away while the hand-over file exists. startsvc's next write
// fails; it stops compose (one SIGINT), removes the file and exits 141, the
// code of a program that SIGPIPE ended, instead of dying with the file left.
func TestOutputGoneCleansUp(t *testing.T) {
	cmd, stack, fake := upWithFakeCompose(t, true)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// Read (so that startsvc never blocks on a full pipe) until compose runs
	// and the hand-over file exists, then go away as head does.
	var seen bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		seen.Write(buf[:n])
		if err != nil {
			t.Fatalf("startsvc's output ended before compose started: %v\n%s", err, seen.String())
		}
		if _, err := os.Stat(filepath.Join(fake, "started")); err == nil && strings.Contains(seen.String(), "Waiting") {
			break
		}
	}
	if _, err := os.Stat(filepath.Join(stack, secrets.FileName)); err != nil {
		t.Fatalf("no hand-over file while compose runs: %v", err)
	}
	r.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("startsvc did not stop after its output went away")
	}
	if code := exitCode(werr); code != 141 {
		t.Errorf("exit %d (%v), want 141", code, werr)
	}
	if _, err := os.Stat(filepath.Join(stack, secrets.FileName)); !os.IsNotExist(err) {
		t.Errorf("%s left behind", secrets.FileName)
	}
	if n, _ := os.ReadFile(filepath.Join(fake, "sigints")); string(n) != "1" {
		t.Errorf("compose received %q SIGINTs, want exactly 1", n)
	}
}

// TestExportToAClosedPipe: export's output goes to a pipe nobody reads. It
// ends with 141 — not 0, since what it printed did not arrive, and not killed
// by SIGPIPE either.
func TestExportToAClosedPipe(t *testing.T) {
	dir := t.TempDir()
	var env strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&env, "SETTING_%04d=some-value-%d\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	cmd := exec.Command(testenv.StartsvcBinary(t), "export", "-C", dir, "--skip-infisical")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	err = cmd.Run()
	w.Close()
	if code := exitCode(err); code != 141 {
		t.Errorf("exit %d (%v), want 141:\n%s", code, err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "closed by its reader") {
		t.Errorf("stderr does not say the output was closed:\n%s", stderr.String())
	}
}
