package ui

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Phase is where a service stands on its way to ready.
type Phase string

// The phases a service passes through. Healthy, Running and Done count as ready.
const (
	PhaseWaiting  Phase = "waiting"  // no container yet, or created but not started
	PhaseStarting Phase = "starting" // running, not ready yet (health starting, a job still at work, restarting)
	PhaseHealthy  Phase = "healthy"  // its healthcheck passes
	PhaseRunning  Phase = "running"  // running, and it has no healthcheck
	PhaseDone     Phase = "done"     // a one-shot job that exited 0
	PhaseFailed   Phase = "failed"   // unhealthy, exited non-zero, restarting in a loop, or not ready in time
)

// Ready reports whether a service in phase p needs no more waiting.
func (p Phase) Ready() bool {
	return p == PhaseHealthy || p == PhaseRunning || p == PhaseDone
}

// settled reports whether the elapsed time of a row in phase p stops counting.
func (p Phase) settled() bool { return p.Ready() || p == PhaseFailed }

func (p Phase) symbol() string {
	switch {
	case p.Ready():
		return "✔"
	case p == PhaseFailed:
		return "✘"
	case p == PhaseStarting:
		return "◐"
	}
	return "○"
}

func (p Phase) color() string {
	switch {
	case p.Ready():
		return "green"
	case p == PhaseFailed:
		return "red"
	case p == PhaseStarting:
		return "yellow"
	}
	return "faint"
}

// maxDetail keeps a live line short enough not to wrap on an ordinary
// terminal: a wrapped line would break redrawing in place.
const maxDetail = 60

type row struct {
	service string
	phase   Phase
	detail  string
	since   time.Time // when the wait began
	settled time.Time // when the row reached a ready or failed phase
}

// Progress shows services on their way to ready. Live (on a terminal) it keeps
// one line per service — phase, elapsed seconds, detail — and redraws them in
// place on every change and once a second. Otherwise it writes a timestamped
// line for every change of phase or detail. With a quiet UI it shows nothing.
//
// Between Start and Stop nothing else should write to the UI's writer: live
// lines are redrawn over what they expect to be their own. Progress is safe for
// concurrent use.
type Progress struct {
	u    *UI
	live bool

	// now and every are the clock and the live redraw interval; tests set them.
	now   func() time.Time
	every time.Duration

	mu    sync.Mutex
	rows  []*row
	index map[string]*row
	drawn int // lines on screen from the last live render
	stop  chan struct{}
	done  chan struct{}
}

// NewProgress returns progress shown through u, redrawn in place when live.
func NewProgress(u *UI, live bool) *Progress {
	return &Progress{u: u, live: live, now: time.Now, every: time.Second, index: map[string]*row{}}
}

// Start shows services as waiting and, when live, begins redrawing them every
// second until Stop. Services already shown keep their line. Call Stop to end.
func (p *Progress) Start(services ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	var added []string
	for _, s := range services {
		if _, ok := p.index[s]; ok {
			continue
		}
		r := &row{service: s, phase: PhaseWaiting, since: now}
		p.rows = append(p.rows, r)
		p.index[s] = r
		added = append(added, s)
	}
	if p.u.Quiet() {
		return
	}
	if !p.live {
		if len(added) > 0 {
			fmt.Fprintf(p.u.Writer(), "%s  waiting for %s\n", stamp(now), strings.Join(added, ", "))
		}
		return
	}
	p.render()
	if p.stop == nil && p.every > 0 {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.tick(p.stop, p.done)
	}
}

func (p *Progress) tick(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.render()
			p.mu.Unlock()
		}
	}
}

// Update records that service is now in phase, with detail such as
// "running, health: starting". A service Start did not name gets a line of its
// own. Nothing is shown when neither phase nor detail changed.
func (p *Progress) Update(service string, phase Phase, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.u.Redact != nil {
		detail = p.u.Redact(detail)
	}
	now := p.now()
	r, ok := p.index[service]
	if !ok {
		r = &row{service: service, phase: PhaseWaiting, since: now}
		p.rows = append(p.rows, r)
		p.index[service] = r
	}
	if ok && r.phase == phase && r.detail == detail {
		return
	}
	switch {
	case !phase.settled():
		r.settled = time.Time{}
	case phase != r.phase || r.settled.IsZero():
		r.settled = now
	}
	r.phase, r.detail = phase, detail
	if p.u.Quiet() {
		return
	}
	if p.live {
		p.render()
		return
	}
	line := fmt.Sprintf("%s  %-*s  %s  %s", stamp(now), p.width(), r.service,
		p.u.Paint(phase.color(), fmt.Sprintf("%-8s", phase)), seconds(r.elapsed(now)))
	if detail != "" {
		line += "  " + detail
	}
	fmt.Fprintln(p.u.Writer(), line)
}

// Stop ends live redrawing and leaves the final state on screen. It is safe to
// call more than once, and without Start.
func (p *Progress) Stop() {
	p.mu.Lock()
	stop, done := p.stop, p.done
	p.stop, p.done = nil, nil
	p.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live && !p.u.Quiet() {
		p.render()
	}
}

func (r *row) elapsed(now time.Time) time.Duration {
	if !r.settled.IsZero() {
		return r.settled.Sub(r.since)
	}
	return now.Sub(r.since)
}

func (p *Progress) width() int {
	n := 0
	for _, r := range p.rows {
		n = max(n, utf8.RuneCountInString(r.service))
	}
	return n
}

// render draws every row, over the lines drawn last time. The caller holds mu.
func (p *Progress) render() {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	now, w := p.now(), p.width()
	for _, r := range p.rows {
		detail := r.detail
		if utf8.RuneCountInString(detail) > maxDetail {
			detail = string([]rune(detail)[:maxDetail-1]) + "…"
		}
		line := fmt.Sprintf("  %s %-*s  %s %5s", p.u.Paint(r.phase.color(), r.phase.symbol()), w, r.service,
			p.u.Paint(r.phase.color(), fmt.Sprintf("%-8s", r.phase)), seconds(r.elapsed(now)))
		if detail != "" {
			line += "  " + p.u.Paint("faint", detail)
		}
		b.WriteString("\r\x1b[2K")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	p.drawn = len(p.rows)
	fmt.Fprint(p.u.Writer(), b.String())
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
}

func stamp(t time.Time) string { return t.Format(time.RFC3339) }
