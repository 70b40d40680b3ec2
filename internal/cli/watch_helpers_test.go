package cli_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/testenv"
)

// watchEvent is one line of `watch --json`.
type watchEvent struct {
	Event    string
	Message  string
	Services []string
	Keys     []struct{ Name, Source string }
}

// watchProcess is a running `startsvc watch --json` whose events are read as
// they come.
type watchProcess struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	events []watchEvent
	raw    strings.Builder // everything it printed, for the no-value check
	done   chan struct{}
	code   int
}

func startWatch(t *testing.T, env []string, args ...string) *watchProcess {
	t.Helper()
	w := &watchProcess{done: make(chan struct{})}
	w.cmd = exec.Command(testenv.StartsvcBinary(t), append([]string{"watch", "--json"}, args...)...)
	w.cmd.Env = append(append(os.Environ(), "XDG_STATE_HOME="+t.TempDir()), env...)
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w.cmd.Stderr = &lockedWriter{w: w}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = w.cmd.Process.Kill()
		<-w.done
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev watchEvent
			w.mu.Lock()
			w.raw.WriteString(sc.Text() + "\n")
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				w.events = append(w.events, ev)
			}
			w.mu.Unlock()
		}
		w.code = exitCode(w.cmd.Wait())
		close(w.done)
	}()
	return w
}

type lockedWriter struct{ w *watchProcess }

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.w.mu.Lock()
	defer l.w.mu.Unlock()
	return l.w.raw.Write(p)
}

// await waits, at most within, for an event after the first `from` events
// that satisfies match, and returns its index. The bound is generous: it only
// keeps a broken watch from hanging the test.
func (w *watchProcess) await(t *testing.T, from int, within time.Duration, what string, match func(watchEvent) bool) int {
	t.Helper()
	deadline := time.Now().Add(within)
	find := func() int {
		w.mu.Lock()
		defer w.mu.Unlock()
		for i := from; i < len(w.events); i++ {
			if match(w.events[i]) {
				return i
			}
		}
		return -1
	}
	for time.Now().Before(deadline) {
		if i := find(); i >= 0 {
			return i
		}
		select {
		case <-w.done:
			// Every line was read before done was closed.
			if i := find(); i >= 0 {
				return i
			}
			t.Fatalf("watch exited (%d) before %s:\n%s", w.code, what, w.output())
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("no %s within %s:\n%s", what, within, w.output())
	return -1
}

func (w *watchProcess) output() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.raw.String()
}

func (w *watchProcess) count(kind string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, ev := range w.events {
		if ev.Event == kind {
			n++
		}
	}
	return n
}

func kind(k string, services ...string) func(watchEvent) bool {
	return func(ev watchEvent) bool {
		return ev.Event == k && (services == nil || strings.Join(ev.Services, ",") == strings.Join(services, ","))
	}
}

// watchStack has three services: web reads KEY_A, api reads KEY_B and never
// turns healthy when BREAK_API is 1; base reads nothing from Infisical.
func watchStack(t *testing.T) string {
	t.Helper()
	svc := func(name, env string) string {
		return "  " + name + ":\n    image: " + testenv.FixtureImage + "\n" +
			"    environment: {READY_AFTER: 1s, SERVICE_NAME: " + name + env + "}\n" +
			"    healthcheck:\n      test: [\"CMD\", \"/fixture\", \"health\"]\n      interval: 1s\n      start_period: 60s\n"
	}
	return writeStack(t, "services:\n"+svc("base", "")+svc("web", `, KEY_A: "${KEY_A}"`)+
		svc("api", `, KEY_B: "${KEY_B}", NEVER_HEALTHY: "${BREAK_API:-0}"`))
}
