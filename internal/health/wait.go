package health

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/ui"
)

// Defaults of a Waiter's tunables.
const (
	DefaultPoll        = time.Second
	DefaultMaxRestarts = 2
	DefaultSettle      = time.Second
	DefaultLogLines    = 20
)

// States of a service a wait has no container state for.
const (
	stateNoContainer  = "no container"
	stateNotInspected = "not inspected yet" // the time ran out during the first look
)

// logTimeout bounds reading the log lines of the services a failed wait names.
// It only delays the report of a failure, and a busy Engine can take seconds
// to answer: generous.
const logTimeout = 20 * time.Second

// watched are the container events that can change readiness. The Engine
// matches health_status by prefix, so it covers "health_status: healthy".
var watched = []string{"create", "start", "restart", "die", "oom", "kill", "stop", "pause", "unpause", "destroy", "health_status"}

// Waiter waits for the services of a compose project to be ready. Build it
// with New, or fill every interface field (tests use fakes). A Waiter holds no
// state between calls and is safe for concurrent use.
type Waiter struct {
	Lister    Lister
	Inspector Inspector
	Events    EventSource
	Logs      Logger

	// Mask hides secret values in log lines and in what containers report; nil
	// masks nothing.
	Mask func(string) string
	// Report, when set, hears of every change of a service's phase.
	Report Reporter
	// Timeout bounds each Wait besides its context; zero leaves it to the context.
	Timeout time.Duration
	// Poll is how often everything is inspected again even without an event,
	// a fallback should an event be lost; zero is DefaultPoll.
	Poll time.Duration
	// MaxRestarts is how often a container may restart during a wait before it
	// counts as restarting in a loop; zero is DefaultMaxRestarts.
	MaxRestarts int
	// Settle is how long a container without a healthcheck must have been
	// running before it counts as ready, so that one that crashes at once is
	// not taken for ready (and its restarts get counted); zero is
	// DefaultSettle, negative is no settling at all.
	Settle time.Duration
	// LogLines is how many of its last log lines a failed service shows; zero
	// is DefaultLogLines.
	LogLines int
}

// New returns a Waiter that talks to the Engine through c and masks with mask.
func New(c *client.Client, mask func(string) string) *Waiter {
	return &Waiter{Lister: c, Inspector: c, Events: c, Logs: c, Mask: mask}
}

// errTimedOut is the cause of a wait's own context when Timeout ran out.
var errTimedOut = errors.New("timed out")

// Wait returns nil once every service of scope is ready. It subscribes to the
// project's container events before it first looks, so that no change is
// missed, and inspects again on each event (and every Poll regardless).
//
// It returns an *Error as soon as a service fails, or when Timeout or a
// deadline of ctx passes, naming the services not ready with their states and
// last log lines. When ctx is cancelled otherwise (an interrupt), it returns an
// error wrapping the context's cause and reads no logs.
func (w *Waiter) Wait(ctx context.Context, scope Scope) error {
	if len(scope.Services) == 0 {
		return nil
	}
	start := time.Now()
	if w.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, w.Timeout, errTimedOut)
		defer cancel()
	}
	evctx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	ev := w.Events.Events(evctx, client.EventsListOptions{Filters: projectFilter(scope.Project).
		Add("type", "container").Add("event", watched...)})
	st := stream{msgs: ev.Messages, errs: ev.Err}

	t := &tracker{w: w, scope: scope, base: map[string]int{}, started: map[string]startSeen{}, last: map[string]observation{}}
	poll := w.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		services, err := t.check(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return w.ended(ctx, t, start)
			}
			return fmt.Errorf("wait for services: %w", err)
		}
		if failed := failures(services, scope.Services); len(failed) > 0 {
			return w.failed(ctx, services, failed, false, time.Since(start))
		}
		if allReady(services) {
			return nil
		}
		if !t.await(ctx, ticker.C, &st) {
			return w.ended(ctx, t, start)
		}
	}
}

// stream is the event subscription of a wait; its channels are nil once it broke.
type stream struct {
	msgs <-chan events.Message
	errs <-chan error
}

// await blocks until something may have changed: an event of a service in
// scope, the poll tick, or the moment a settling container settles. It returns
// false when ctx ends.
func (t *tracker) await(ctx context.Context, tick <-chan time.Time, s *stream) bool {
	var settled <-chan time.Time
	if !t.recheck.IsZero() {
		timer := time.NewTimer(time.Until(t.recheck))
		defer timer.Stop()
		settled = timer.C
	}
	for {
		select {
		case <-ctx.Done():
			return false
		case <-tick:
			return true
		case <-settled:
			return true
		case m := <-s.msgs:
			if svc := m.Actor.Attributes[labelService]; svc != "" && !t.scope.has(svc) {
				continue // another stage's service
			}
			drain(s.msgs)
			return true
		case <-s.errs:
			// The stream ended: the context is done, or it broke (the Engine
			// restarted, a proxy cut it). The poll alone carries on, and the
			// next check tells whether the Engine still answers.
			s.msgs, s.errs = nil, nil
			return true
		}
	}
}

// drain discards the events already queued: one check covers them all.
func drain[T any](c <-chan T) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// ended turns the end of ctx into the error Wait returns.
func (w *Waiter) ended(ctx context.Context, t *tracker, start time.Time) error {
	cause := context.Cause(ctx)
	if !errors.Is(cause, errTimedOut) && !errors.Is(cause, context.DeadlineExceeded) {
		return fmt.Errorf("wait for services: %w", cause)
	}
	var waiting []string
	for _, svc := range t.scope.Services {
		if !t.services[svc].obs.phase.Ready() {
			waiting = append(waiting, svc)
		}
	}
	return w.failed(ctx, t.services, waiting, true, time.Since(start))
}

// failed builds the *Error for the named services, with their last log lines.
func (w *Waiter) failed(ctx context.Context, services map[string]serviceState, names []string, timedOut bool, after time.Duration) error {
	// The wait's context may have run out already; the logs get a moment of their own.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), logTimeout)
	defer cancel()
	n := w.LogLines
	if n <= 0 {
		n = DefaultLogLines
	}
	e := &Error{TimedOut: timedOut, After: after}
	for _, svc := range names {
		s := services[svc]
		p := Problem{Service: svc, State: s.obs.state}
		if services == nil {
			p.State = stateNotInspected
		}
		if s.id != "" {
			p.Logs, p.LogErr = tail(lctx, w.Logs, s.id, s.tty, n, w.mask)
		}
		if w.Report != nil {
			w.Report.Update(svc, ui.PhaseFailed, p.State)
		}
		e.Problems = append(e.Problems, p)
	}
	return e
}

func (w *Waiter) mask(s string) string {
	if w.Mask == nil {
		return s
	}
	return w.Mask(s)
}

func (w *Waiter) settle() time.Duration {
	switch {
	case w.Settle == 0:
		return DefaultSettle
	case w.Settle < 0:
		return 0
	}
	return w.Settle
}

func (w *Waiter) maxRestarts() int {
	if w.MaxRestarts <= 0 {
		return DefaultMaxRestarts
	}
	return w.MaxRestarts
}

// serviceState is a service's readiness, summed over its containers.
type serviceState struct {
	obs observation
	id  string // the container whose state obs is, for its logs
	tty bool
}

// tracker holds what a wait remembers between checks.
type tracker struct {
	w        *Waiter
	scope    Scope
	base     map[string]int          // container → restart count when first seen
	started  map[string]startSeen    // container → its last start, and when the wait first saw it
	recheck  time.Time               // when a container settles; zero if none is settling
	last     map[string]observation  // service → what was last reported
	services map[string]serviceState // service → the latest check
}

// check lists the project's containers and inspects those of the services in
// scope. A container removed in between is passed over.
func (t *tracker) check(ctx context.Context) (map[string]serviceState, error) {
	list, err := t.w.Lister.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: projectFilter(t.scope.Project)})
	if err != nil {
		return nil, fmt.Errorf("list containers of project %s: %w", t.scope.Project, err)
	}
	t.recheck = time.Time{}
	items := slices.Clone(list.Items)
	sort.Slice(items, func(i, j int) bool { return items[i].ID < items[j].ID })
	perService := map[string][]serviceState{}
	for _, c := range items {
		svc := c.Labels[labelService]
		if !t.scope.has(svc) || c.Labels[labelOneoff] == "True" {
			continue
		}
		res, err := t.w.Inspector.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("inspect container of service %s: %w", svc, err)
		}
		ins := res.Container
		if _, seen := t.base[c.ID]; !seen {
			t.base[c.ID] = ins.RestartCount
		}
		labels := map[string]string{}
		tty := false
		if ins.Config != nil {
			labels, tty = ins.Config.Labels, ins.Config.Tty
		}
		obs := classify(ins, t.scope.oneShot(svc, labels), ins.RestartCount-t.base[c.ID], t.w.maxRestarts(), t.w.mask)
		if obs.phase == ui.PhaseRunning {
			obs = t.settling(c.ID, ins.State.StartedAt, obs)
		}
		perService[svc] = append(perService[svc], serviceState{obs: obs, id: c.ID, tty: tty})
	}
	t.services = map[string]serviceState{}
	for _, svc := range t.scope.Services {
		s := summarize(perService[svc])
		t.services[svc] = s
		if t.w.Report != nil && t.last[svc] != s.obs {
			t.last[svc] = s.obs
			t.w.Report.Update(svc, s.obs.phase, s.obs.state)
		}
	}
	return t.services, nil
}

// startSeen is a start of a container as the wait first saw it.
type startSeen struct {
	startedAt string    // the Engine's State.StartedAt
	seen      time.Time // this process's clock when it first saw that start
}

// settling holds back a container without a healthcheck until it has been
// running for the Waiter's Settle: since the Engine says it started, or, should
// the Engine's clock be ahead of ours, since this wait first saw that start.
func (t *tracker) settling(id, startedAt string, obs observation) observation {
	settle := t.w.settle()
	if settle <= 0 {
		return obs
	}
	now := time.Now()
	s, ok := t.started[id]
	if !ok || s.startedAt != startedAt {
		s = startSeen{startedAt: startedAt, seen: now}
		t.started[id] = s
	}
	due := s.seen.Add(settle)
	if at, err := time.Parse(time.RFC3339Nano, startedAt); err == nil && at.Add(settle).Before(due) {
		due = at.Add(settle)
	}
	if !now.Before(due) {
		return obs
	}
	if t.recheck.IsZero() || due.Before(t.recheck) {
		t.recheck = due
	}
	return observation{ui.PhaseStarting, "running, just started"}
}

// summarize sums up a service's containers: failed if one failed, ready when
// all are, else the state of the first one not ready.
func summarize(cs []serviceState) serviceState {
	if len(cs) == 0 {
		return serviceState{obs: observation{ui.PhaseWaiting, stateNoContainer}}
	}
	for _, c := range cs {
		if c.obs.phase == ui.PhaseFailed {
			return c
		}
	}
	for _, c := range cs {
		if !c.obs.phase.Ready() {
			return c
		}
	}
	return cs[0]
}

// failures lists the failed services in the order of names.
func failures(services map[string]serviceState, names []string) []string {
	var out []string
	for _, svc := range names {
		if services[svc].obs.phase == ui.PhaseFailed {
			out = append(out, svc)
		}
	}
	return out
}

func allReady(services map[string]serviceState) bool {
	for _, s := range services {
		if !s.obs.phase.Ready() {
			return false
		}
	}
	return true
}
