package launch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/health"
	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/secrets"
)

// Event kinds of a watch, one event each time something happens. They are
// part of startsvc's interface: `watch --json` prints them.
const (
	EventWatching    = "watching"    // the watch started: what it polls, how often
	EventChange      = "change"      // values changed: which keys, which services they touch
	EventApplied     = "applied"     // the services a change touches were recreated and are ready
	EventFailed      = "failed"      // a recreated service did not become ready: which, and its last log lines
	EventRolledBack  = "rolled-back" // the services of a failed change run on the previous values again
	EventUnreachable = "unreachable" // Infisical stopped answering; the stack is left as it is
	EventRecovered   = "recovered"   // Infisical answers again
	EventWarning     = "warning"     // something to know that changes nothing
	EventError       = "error"       // the watch cannot go on
	EventStopped     = "stopped"     // the watch ended on a signal; the stack keeps running
)

// Event is one thing that happened during a watch. It names keys and
// services, never a value; Message is masked.
type Event struct {
	Time     time.Time  `json:"time"`
	Kind     string     `json:"event"`
	Message  string     `json:"message"`
	Keys     []Variable `json:"keys,omitempty"`
	Services []string   `json:"services,omitempty"`
}

// WatchOptions say how a watch polls and what it does on failure.
type WatchOptions struct {
	Interval time.Duration // between polls when all is well
	// MaxBackoff bounds the wait between polls while Infisical is unreachable;
	// the wait doubles from Interval after each failed poll.
	MaxBackoff time.Duration
	// ExitOnFailure ends the watch (exit 1) after a change whose services do
	// not become ready, once they are rolled back.
	ExitOnFailure bool
}

// DefaultMaxBackoff is the longest wait between two polls of an unreachable
// Infisical.
const DefaultMaxBackoff = 5 * time.Minute

// Watch keeps the running project in step with Infisical and the env file:
// it polls both every Interval (a conditional request where the server
// supports one; else the values' hash is compared, in memory), and on a
// change recreates exactly the services whose configuration the change
// touches, stage by stage, each health-gated. A recreated service that is not
// ready within --wait-timeout is put back on the previous values, held in
// memory only. Infisical unreachable: the stack is left as it is, the polls
// back off up to MaxBackoff, and recovery is reported. Every happening is one
// call of emit. Watch returns nil when ctx is cancelled while idle (the
// stack keeps running), the interruption when it is cancelled midway, an
// error of code 4 when Infisical refuses the identity, and of code 1 after a
// failed change with ExitOnFailure.
func (l *Launcher) Watch(ctx context.Context, o WatchOptions, emit func(Event)) error {
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	w := &watcher{l: l, o: o, emit: emit, backoff: o.Interval}
	for {
		s, err := l.Preflight(ctx, Checks{Requirements: true, NoFallback: true})
		if err == nil {
			defer s.Close()
			// A change may come from the env file, and a rollback must not
			// read it again: compose gets the values from startsvc.
			s.ownFile = true
			w.s = s
			break
		}
		if !w.unreachable(err) {
			return w.fatal(ctx, err)
		}
		if !w.sleep(ctx) {
			return w.stopped(ctx)
		}
	}
	w.recovered()
	w.applied = w.s.state()
	w.seen = w.applied.hash()
	w.event(Event{Kind: EventWatching, Message: fmt.Sprintf("watching project %s: %s and %s, every %s",
		l.Options.Project, w.sourceName(), w.s.envFile, o.Interval)})
	if err := w.converge(ctx); err != nil {
		return err
	}
	for {
		if !w.sleep(ctx) {
			return w.stopped(ctx)
		}
		if err := w.poll(ctx); err != nil {
			return err
		}
	}
}

// watcher is the state of one watch; one goroutine owns it.
type watcher struct {
	l       *Launcher
	s       *Stack
	o       WatchOptions
	emit    func(Event)
	applied values // what the running services were created with
	gen     int    // the redactor's generation in which applied was loaded
	seen    string // hash of the values last seen, applied or not
	backoff time.Duration
	outage  int // polls that failed in a row
	since   time.Time
}

// values are the two layers the Stack merges: the env file and Infisical.
type values struct{ file, remote map[string]string }

func (s *Stack) state() values { return values{file: s.fileVals, remote: s.remote} }

// hash identifies the merged values without keeping them anywhere else.
func (v values) hash() string {
	merged := secrets.Merge(v.file, v.remote).Values
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(merged)) {
		fmt.Fprintf(h, "%d:%s=%d:%s\n", len(k), k, len(merged[k]), merged[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (w *watcher) event(e Event) {
	e.Time = time.Now().UTC()
	e.Message = w.l.Redactor.String(e.Message)
	w.emit(e)
}

func (w *watcher) sourceName() string {
	if w.s.src != nil {
		return w.s.src.Name()
	}
	return "no Infisical"
}

// sleep waits for the next poll; false when ctx ended first.
func (w *watcher) sleep(ctx context.Context) bool {
	t := time.NewTimer(w.backoff)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// unreachable handles a failed fetch that may pass: it says so once per
// outage and lengthens the wait. It reports whether err was such a failure.
func (w *watcher) unreachable(err error) bool {
	var ie *infisical.Error
	if !errors.As(err, &ie) || ie.Kind != infisical.Unreachable {
		return false
	}
	if w.outage == 0 {
		w.since = time.Now()
		w.event(Event{Kind: EventUnreachable, Message: fmt.Sprintf("%s; the stack is left as it is; retrying with backoff up to %s", err, w.o.MaxBackoff)})
	}
	w.outage++
	w.backoff = min(w.backoff*2, w.o.MaxBackoff)
	return true
}

// recovered ends an outage.
func (w *watcher) recovered() {
	if w.outage > 0 {
		w.event(Event{Kind: EventRecovered, Message: fmt.Sprintf("Infisical answers again after %s (%s)",
			time.Since(w.since).Round(time.Second), Plural(w.outage, "failed poll"))})
	}
	w.outage, w.backoff = 0, w.o.Interval
}

// fatal ends the watch on an error that waiting does not cure.
func (w *watcher) fatal(ctx context.Context, err error) error {
	if context.Cause(ctx) != nil {
		return w.stopped(ctx)
	}
	w.event(Event{Kind: EventError, Message: err.Error()})
	if exitcode.Of(ctx, err) == exitcode.Failure && infisical.KindOf(err) != 0 {
		return exitcode.With(exitcode.Infisical, err)
	}
	return err
}

// stopped ends the watch on a signal: the stack keeps running, and that is
// a clean stop (nil). Output that went away is not: the service's log is gone.
func (w *watcher) stopped(ctx context.Context) error {
	if cause := context.Cause(ctx); errors.Is(cause, exitcode.ErrOutputClosed) {
		return cause
	}
	w.event(Event{Kind: EventStopped, Message: "stopped; the stack keeps running"})
	return nil
}

// poll fetches, compares and applies a change.
func (w *watcher) poll(ctx context.Context) error {
	s := w.s
	var remote map[string]string
	if !s.l.Options.SkipInfisical {
		var err error
		_, remote, err = s.fetch(ctx)
		if context.Cause(ctx) != nil {
			return w.stopped(ctx)
		}
		if err != nil && infisical.KindOf(err) != infisical.NotConfigured {
			if w.unreachable(err) {
				return nil
			}
			return w.fatal(ctx, exitcode.With(exitcode.Infisical, err))
		}
		w.recovered()
	}
	file, err := s.readEnvFile(remote)
	if err != nil {
		w.event(Event{Kind: EventWarning, Message: fmt.Sprintf("%s; the stack is left as it is until it reads again", err)})
		return nil
	}
	next := values{file: file, remote: remote}
	h := next.hash()
	if h == w.seen {
		return nil
	}
	w.seen = h
	return w.change(ctx, next, changedKeys(w.applied, next, s))
}

// changedKeys names the variables whose values differ between two states,
// with where the new value comes from.
func changedKeys(before, after values, s *Stack) []Variable {
	a, b := secrets.Merge(before.file, before.remote), secrets.Merge(after.file, after.remote)
	var out []Variable
	for _, k := range slices.Sorted(maps.Keys(b.Values)) {
		if old, ok := a.Values[k]; !ok || old != b.Values[k] {
			out = append(out, Variable{Name: k, Source: originName(b.Origin[k], s)})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a.Values)) {
		if _, ok := b.Values[k]; !ok {
			out = append(out, Variable{Name: k, Source: "removed"})
		}
	}
	return out
}

func originName(o secrets.Origin, s *Stack) string {
	switch o {
	case secrets.FromRemote:
		return "Infisical"
	case secrets.FromEnvFile:
		return s.envName()
	}
	return "shell"
}

// converge applies, at the start, what is out of step: services whose
// configuration differs from the current values. Services with no running
// container are only reported: starting them is up's job.
func (w *watcher) converge(ctx context.Context) error {
	plan, err := w.plan(ctx)
	if err != nil {
		return w.fatal(ctx, err)
	}
	for _, ch := range plan.Changes {
		if ch.Action == Create || ch.Action == Start {
			w.event(Event{Kind: EventWarning, Services: []string{ch.Service},
				Message: fmt.Sprintf("%s is not running (%s): `startsvc up` starts it; the watch only recreates what a change touches", ch.Service, strings.Join(ch.Reasons, "; "))})
		}
	}
	targets := plan.Services(Recreate)
	if len(targets) == 0 {
		return nil
	}
	w.event(Event{Kind: EventChange, Services: targets,
		Message: fmt.Sprintf("%s out of step with the current values at start: %s", Plural(len(targets), "service"), strings.Join(targets, ", "))})
	if err := w.recreate(ctx, targets); err != nil {
		return w.failed(ctx, targets, nil, err, nil)
	}
	w.event(Event{Kind: EventApplied, Services: targets, Message: "recreated and ready: " + strings.Join(targets, ", ")})
	return nil
}

// plan is the part of reconcile a watch acts on: every stage, no removals.
func (w *watcher) plan(ctx context.Context) (Plan, error) {
	running, err := w.s.observe(ctx)
	if err != nil {
		return Plan{}, err
	}
	all := make([]int, len(w.s.steps))
	for i := range all {
		all[i] = i
	}
	return w.s.plan(ctx, running, all, false)
}

// change applies new values: it reloads the project with them, recreates
// the services whose configuration they change, and on failure puts those
// services back on the previous values.
func (w *watcher) change(ctx context.Context, next values, keys []Variable) error {
	prev := w.applied
	// The values of the previous state and of this one stay masked; older
	// ones are forgotten once this one is applied, so that memory stays
	// bounded however often secrets rotate.
	gen := w.l.Redactor.NextGeneration()
	if err := w.s.use(ctx, next); err != nil {
		w.event(Event{Kind: EventWarning, Keys: keys, Message: fmt.Sprintf("values changed, but the stack cannot load with them: %s; the stack is left as it is", err)})
		_ = w.s.use(ctx, prev)
		return nil
	}
	plan, err := w.plan(ctx)
	if err != nil {
		return w.fatal(ctx, err)
	}
	targets := plan.Services(Recreate)
	msg := fmt.Sprintf("%s changed: %s", Plural(len(keys), "variable"), variableList(keys))
	if len(targets) == 0 {
		w.event(Event{Kind: EventChange, Keys: keys, Message: msg + "; no running service uses them"})
		w.settled(next, gen)
		return nil
	}
	w.event(Event{Kind: EventChange, Keys: keys, Services: targets, Message: msg + "; recreating " + strings.Join(targets, ", ")})
	if err := w.recreate(ctx, targets); err != nil {
		return w.failed(ctx, targets, keys, err, &prev)
	}
	w.settled(next, gen)
	w.event(Event{Kind: EventApplied, Keys: keys, Services: targets, Message: "recreated and ready: " + strings.Join(targets, ", ")})
	return nil
}

// settled records that the running services have v, loaded in redactor
// generation gen, and forgets the values of states before the previous one.
func (w *watcher) settled(v values, gen int) {
	w.l.Redactor.ForgetBefore(w.gen)
	w.applied, w.gen = v, gen
}

// failed reports a change whose services did not become ready and, when the
// previous values are known, puts them back on those.
func (w *watcher) failed(ctx context.Context, targets []string, keys []Variable, err error, prev *values) error {
	if exitcode.Of(ctx, err) == exitcode.Interrupted || context.Cause(ctx) != nil {
		return err
	}
	w.event(Event{Kind: EventFailed, Keys: keys, Services: targets, Message: err.Error()})
	if prev != nil {
		if uerr := w.s.use(ctx, *prev); uerr != nil {
			return w.fatal(ctx, uerr)
		}
		if rerr := w.recreate(ctx, targets); rerr != nil {
			if exitcode.Of(ctx, rerr) == exitcode.Interrupted || context.Cause(ctx) != nil {
				return rerr
			}
			w.event(Event{Kind: EventError, Services: targets, Message: "putting them back on the previous values failed too: " + rerr.Error()})
		} else {
			w.event(Event{Kind: EventRolledBack, Keys: keys, Services: targets,
				Message: fmt.Sprintf("%s back on the previous values of %s", strings.Join(targets, ", "), variableList(keys))})
		}
	}
	if w.o.ExitOnFailure {
		return exitcode.With(exitcode.Failure, fmt.Errorf("a change did not become ready (--exit-on-failure): %w", err))
	}
	return nil
}

func variableList(keys []Variable) string {
	names := make([]string, 0, len(keys))
	for _, k := range keys {
		names = append(names, k.Name+" ("+k.Source+")")
	}
	return strings.Join(names, ", ")
}

// use makes v the Stack's values and reloads the compose files with them.
func (s *Stack) use(ctx context.Context, v values) error {
	if err := s.setVariables(v.file, v.remote); err != nil {
		return err
	}
	s.overlayPath = ""
	all, err := s.load(ctx, false)
	if err != nil {
		return err
	}
	return s.settle(ctx, all, false)
}

// recreate replaces the containers of services with the Stack's current
// values, stage by stage (compose touches exactly those services), and waits
// until they are ready. It holds the project's lock meanwhile, and the
// hand-over file only while compose runs.
func (w *watcher) recreate(ctx context.Context, services []string) (err error) {
	s, l := w.s, w.l
	lk, err := l.acquireLock(ctx)
	if err != nil {
		return err
	}
	defer lk.Release()
	envFile, remove, err := s.handover(false)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := remove(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	inv := compose.Invocation{Project: l.Options.Project, Dir: s.Layout.Dir, Files: s.Files(), Profiles: s.Profile.Compose, EnvFile: envFile}
	runner, flush := l.runner(s.CLI, s.composeEnv, s.Layout.Dir)
	defer flush()
	waiter := health.New(s.Engine.Client(), l.Redactor.String)
	oneShots := health.OneShots(s.Project.Project)
	for _, step := range s.steps {
		var here []string
		for _, name := range step.Services {
			if slices.Contains(services, name) {
				here = append(here, name)
			}
		}
		if len(here) == 0 {
			continue
		}
		args := append([]string{"up", "--detach", "--no-deps", "--force-recreate"}, here...)
		if err := runner.Run(ctx, inv.Args(args...)...); err != nil {
			return err
		}
		flush()
		step.Services = here
		step.ReadyURL = ""
		// --wait-timeout is what each recreated service has to become
		// ready, counted from when compose has started it.
		waitCtx, cancel := context.WithTimeout(ctx, l.Options.WaitTimeout)
		err := s.waitStep(waitCtx, waiter, step, oneShots)
		cancel()
		if err != nil {
			return err
		}
	}
	return remove()
}
