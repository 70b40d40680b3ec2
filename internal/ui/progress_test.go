package ui

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a fake time source that moves only when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }
func testProgress(u *UI, live bool, c *clock) *Progress {
	p := NewProgress(u, live)
	p.now = c.now
	p.every = 0 // no background redraw: tests drive every render
	return p
}

func TestPhaseReady(t *testing.T) {
	for phase, want := range map[Phase]bool{
		PhaseWaiting: false, PhaseStarting: false, PhaseFailed: false,
		PhaseHealthy: true, PhaseRunning: true, PhaseDone: true,
	} {
		if got := phase.Ready(); got != want {
			t.Errorf("%s.Ready() = %v, want %v", phase, got, want)
		}
	}
}

func TestProgressPlainLines(t *testing.T) {
	var out bytes.Buffer
	c := newClock()
	p := testProgress(New(&out, false, false, false), false, c)
	p.Start("db", "web")
	c.advance(2 * time.Second)
	p.Update("db", PhaseStarting, "running, health: starting")
	p.Update("db", PhaseStarting, "running, health: starting") // no change, no line
	c.advance(3 * time.Second)
	p.Update("db", PhaseHealthy, "running, healthy")
	p.Update("web", PhaseRunning, "running")
	c.advance(time.Second)
	p.Update("web", PhaseFailed, "exited (code 3)")
	p.Stop()

	want := `2026-03-01T12:00:00Z  waiting for db, web
2026-03-01T12:00:02Z  db   starting  2s  running, health: starting
2026-03-01T12:00:05Z  db   healthy   5s  running, healthy
2026-03-01T12:00:05Z  web  running   5s  running
2026-03-01T12:00:06Z  web  failed    6s  exited (code 3)
`
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Error("plain output holds escape sequences")
	}
}

func TestProgressLiveRedrawsInPlace(t *testing.T) {
	var out bytes.Buffer
	c := newClock()
	p := testProgress(New(&out, false, false, false), true, c)
	p.Start("db", "web")
	first := out.String()
	if strings.Contains(first, "\x1b[2A") {
		t.Errorf("first render moves the cursor up: %q", first)
	}
	if n := strings.Count(first, "\n"); n != 2 {
		t.Errorf("first render has %d lines, want 2: %q", n, first)
	}
	out.Reset()
	c.advance(4 * time.Second)
	p.Update("db", PhaseHealthy, "running, healthy")
	second := out.String()
	if !strings.HasPrefix(second, "\x1b[2A") {
		t.Errorf("a redraw does not start by moving up over the 2 lines: %q", second)
	}
	for _, want := range []string{"✔ db   healthy     4s  running, healthy", "○ web  waiting     4s"} {
		if !strings.Contains(second, want) {
			t.Errorf("redraw lacks %q:\n%q", want, second)
		}
	}
	// A settled row stops counting; a waiting one goes on.
	out.Reset()
	c.advance(10 * time.Second)
	p.Stop()
	final := out.String()
	for _, want := range []string{"db   healthy     4s", "web  waiting    14s"} {
		if !strings.Contains(final, want) {
			t.Errorf("final render lacks %q:\n%q", want, final)
		}
	}
	p.Stop() // a second Stop is harmless
}

func TestProgressLiveShortensLongDetail(t *testing.T) {
	var out bytes.Buffer
	p := testProgress(New(&out, false, false, false), true, newClock())
	p.Start("db")
	p.Update("db", PhaseFailed, "unhealthy: "+strings.Repeat("x", 200))
	p.Stop()
	for _, l := range strings.Split(out.String(), "\n") {
		if n := len([]rune(l)); n > 100 {
			t.Errorf("a live line is %d characters long: %q", n, l)
		}
	}
}

func TestProgressColour(t *testing.T) {
	for _, colored := range []bool{false, true} {
		var out bytes.Buffer
		p := testProgress(New(&out, colored, false, false), false, newClock())
		p.Start("db")
		p.Update("db", PhaseHealthy, "")
		if got := strings.Contains(out.String(), "\x1b["); got != colored {
			t.Errorf("colour %v: escape sequences present = %v: %q", colored, got, out.String())
		}
	}
}

func TestProgressQuietShowsNothing(t *testing.T) {
	for _, live := range []bool{false, true} {
		var out bytes.Buffer
		p := testProgress(New(&out, false, true, false), live, newClock())
		p.Start("db")
		p.Update("db", PhaseHealthy, "running, healthy")
		p.Stop()
		if out.Len() != 0 {
			t.Errorf("live %v: quiet progress wrote %q", live, out.String())
		}
	}
}

func TestProgressRedactsDetail(t *testing.T) {
	var out bytes.Buffer
	u := New(&out, false, false, false)
	u.Redact = func(s string) string { return strings.ReplaceAll(s, "hunter2", "*****") }
	p := testProgress(u, false, newClock())
	p.Start("db")
	p.Update("db", PhaseFailed, "unhealthy: password hunter2 rejected")
	if strings.Contains(out.String(), "hunter2") || !strings.Contains(out.String(), "password ***** rejected") {
		t.Errorf("detail not masked: %q", out.String())
	}
}

func TestProgressUpdateOfUnknownServiceAddsLine(t *testing.T) {
	var out bytes.Buffer
	p := testProgress(New(&out, false, false, false), true, newClock())
	p.Start("db")
	p.Update("cache", PhaseRunning, "running")
	p.Stop()
	if !strings.Contains(out.String(), "cache") {
		t.Errorf("no line for a service Start did not name: %q", out.String())
	}
}

// signalWriter tells on a channel each time it is written to.
type signalWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes chan struct{}
}

func (w *signalWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case w.writes <- struct{}{}:
	default:
	}
	return w.buf.Write(b)
}

func TestProgressLiveRedrawsOnItsOwn(t *testing.T) {
	w := &signalWriter{writes: make(chan struct{}, 1)}
	p := NewProgress(New(w, false, false, false), true)
	p.every = time.Millisecond
	p.Start("db")
	deadline := time.After(10 * time.Second)
	for range 3 { // the first render, then at least two from the ticker
		select {
		case <-w.writes:
		case <-deadline:
			t.Fatal("live progress did not redraw by itself")
		}
	}
	p.Stop()
}
