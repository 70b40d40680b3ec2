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
	"sync"
	"syscall"
	"testing"
	"time"

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
