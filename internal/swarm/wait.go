package swarm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/health"
	"github.com/startsvc/startsvc/internal/ui"
)

// Defaults of a Waiter's tunables.
const (
	DefaultPoll        = time.Second
	DefaultMaxFailures = 2
	// DefaultSettle is how long the tasks a deploy started must keep
	// running before their service counts as ready. Swarm learns of a
	// container's exit a moment after it happened, and reports running a
	// task that it stopped for failing its healthcheck when the process
	// exited 0 on the signal; its own CLI holds a converged service for the
	// update monitor period (5 s by default) before it calls it done.
	DefaultSettle   = 5 * time.Second
	DefaultLogLines = 20
)

// WaitAPI is what a Waiter reads: services, their tasks, a task's logs.
type WaitAPI interface {
	ServiceList(ctx context.Context, opts client.ServiceListOptions) (client.ServiceListResult, error)
	TaskList(ctx context.Context, opts client.TaskListOptions) (client.TaskListResult, error)
	LogAPI
}

// Waiter waits until services of a deployed stack converge. Fill Engine and
// Stack; the rest has defaults. It keeps no state between calls.
type Waiter struct {
	Engine WaitAPI
	Stack  string
	// Since is the Engine's time before the deploy changed anything: only
	// tasks that failed after it count against a service. Zero counts all.
	Since time.Time
	// Mask hides secret values in task errors and log lines.
	Mask   func(string) string
	Report health.Reporter
	// Poll is how often the services and tasks are read; zero is DefaultPoll.
	Poll time.Duration
	// MaxFailures is how many tasks of a service may fail while it starts
	// (Swarm replaces them) before the wait gives up on it; zero is
	// DefaultMaxFailures.
	MaxFailures int
	// Settle is how long the tasks a deploy started must keep running before
	// their service counts as ready; zero is DefaultSettle, negative none.
	Settle   time.Duration
	LogLines int
}

// observation is one look at a service.
type observation struct {
	phase ui.Phase
	state string
	task  string // the task whose logs explain a failure, or that is starting
	// settled says the running tasks ran already before the deploy: no need
	// to watch them settle.
	settled bool
}

// Wait returns nil once every named service of def has converged: the
// Engine runs the specification def has for it (by its hash label), Swarm
// reports no update in progress, paused or rolled back, and as many tasks of
// that specification run as the service wants — healthy, for a service with a
// healthcheck, since Swarm reports such a task running only once it is — and
// have kept running for Settle if they started during the deploy; a job has
// a task that completed. It returns a *health.Error naming the services as
// soon as one fails (its update paused or rolled back, more than MaxFailures
// of its tasks failed or ended, or one failed that is not restarted) or when
// ctx's deadline passes, with each one's state and its task's last log
// lines, masked. When ctx is cancelled otherwise it returns an error
// wrapping the context's cause.
func (w *Waiter) Wait(ctx context.Context, def *Definition, names []string) error {
	if len(names) == 0 {
		return nil
	}
	start := time.Now()
	poll := w.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	last := map[string]observation{}
	readySince := map[string]time.Time{}
	for {
		obs, err := w.look(ctx, def, names)
		if err != nil {
			if ctx.Err() != nil {
				return w.ended(ctx, def, last, names, start)
			}
			return fmt.Errorf("wait for services: %w", err)
		}
		allReady := true
		var failed []string
		for _, name := range names {
			o := obs[name]
			if o.phase.Ready() && !o.settled && !def.Services[name].Job && w.settle() > 0 {
				if readySince[name].IsZero() {
					readySince[name] = time.Now()
				}
				if time.Since(readySince[name]) < w.settle() {
					o = observation{phase: ui.PhaseStarting, state: "running, just started", task: o.task}
				}
			} else if !o.phase.Ready() {
				delete(readySince, name)
			}
			if o != last[name] && w.Report != nil {
				w.Report.Update(name, o.phase, o.state)
			}
			last[name] = o
			if o.phase == ui.PhaseFailed {
				failed = append(failed, name)
			}
			allReady = allReady && o.phase.Ready()
		}
		if len(failed) > 0 {
			return w.failed(ctx, last, failed, false, time.Since(start))
		}
		if allReady {
			return nil
		}
		select {
		case <-ctx.Done():
			return w.ended(ctx, def, last, names, start)
		case <-ticker.C:
		}
	}
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

// look reads the stack's services and their tasks once and judges each named service.
func (w *Waiter) look(ctx context.Context, def *Definition, names []string) (map[string]observation, error) {
	svcs, err := w.Engine.ServiceList(ctx, client.ServiceListOptions{Filters: stackFilter(w.Stack), Status: true})
	if err != nil {
		return nil, fmt.Errorf("list the services of stack %s: %w", w.Stack, err)
	}
	byName := map[string]swarm.Service{}
	ids := make(client.Filters)
	for _, s := range svcs.Items {
		name := ServiceName(w.Stack, s.Spec.Name)
		if _, ok := def.Services[name]; ok {
			byName[name] = s
			ids.Add("service", s.ID)
		}
	}
	tasks := map[string][]swarm.Task{}
	if len(ids) > 0 {
		res, err := w.Engine.TaskList(ctx, client.TaskListOptions{Filters: ids})
		if err != nil {
			return nil, fmt.Errorf("list the tasks of stack %s: %w", w.Stack, err)
		}
		for _, t := range res.Items {
			tasks[t.ServiceID] = append(tasks[t.ServiceID], t)
		}
	}
	out := map[string]observation{}
	for _, name := range names {
		s, ok := byName[name]
		if !ok {
			out[name] = observation{phase: ui.PhaseWaiting, state: "no service yet"}
			continue
		}
		out[name] = judge(def.Services[name], s, tasks[s.ID], w.Since, w.maxFailures(), w.mask)
	}
	return out, nil
}

func (w *Waiter) maxFailures() int {
	if w.MaxFailures <= 0 {
		return DefaultMaxFailures
	}
	return w.MaxFailures
}

func (w *Waiter) mask(s string) string {
	if w.Mask == nil {
		return s
	}
	return w.Mask(s)
}

// judge decides where a service stands from its state and its tasks.
func judge(want *Service, s swarm.Service, tasks []swarm.Task, since time.Time, maxFailures int, mask func(string) string) observation {
	if s.Spec.Labels[LabelSpecHash] != want.Hash {
		return observation{phase: ui.PhaseWaiting, state: "the new specification is not applied yet"}
	}
	if us := s.UpdateStatus; us != nil {
		switch us.State {
		case swarm.UpdateStatePaused:
			return observation{phase: ui.PhaseFailed, state: "update paused: " + mask(us.Message), task: lastFailed(tasks).ID}
		case swarm.UpdateStateRollbackStarted, swarm.UpdateStateRollbackPaused, swarm.UpdateStateRollbackCompleted:
			return observation{phase: ui.PhaseFailed, state: "update failed, " + strings.ReplaceAll(string(us.State), "_", " ") + ": " + mask(us.Message),
				task: lastFailed(tasks).ID}
		}
	}
	var current, failures, old []swarm.Task
	for _, t := range tasks {
		hash := ""
		if cs := t.Spec.ContainerSpec; cs != nil {
			hash = cs.Labels[LabelSpecHash]
		}
		switch {
		case hash != want.Hash:
			if t.DesiredState == swarm.TaskStateRunning && t.Status.State == swarm.TaskStateRunning {
				old = append(old, t)
			}
		case t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected ||
			(!want.Job && t.Status.State == swarm.TaskStateComplete):
			// A task of a service that keeps running has no business
			// completing: it exited 0 by itself, or was stopped for failing
			// its healthcheck and exited 0 on the signal.
			if !t.Status.Timestamp.Before(since) {
				failures = append(failures, t)
			}
		default:
			current = append(current, t)
		}
	}
	if len(failures) > maxFailures || (want.NoRestart && len(failures) > 0) {
		f := latest(failures)
		return observation{phase: ui.PhaseFailed, state: taskError(f, want.Health, mask) + failureCount(len(failures)), task: f.ID}
	}
	if want.Job {
		for _, t := range current {
			if t.Status.State == swarm.TaskStateComplete {
				return observation{phase: ui.PhaseDone, state: "completed", task: t.ID}
			}
		}
		if t, ok := newest(current); ok {
			return observation{phase: phaseOf(t), state: stateOf(t, false), task: t.ID}
		}
		return observation{phase: ui.PhaseWaiting, state: "no task yet"}
	}
	desired := uint64(0)
	switch {
	case s.Spec.Mode.Replicated != nil && s.Spec.Mode.Replicated.Replicas != nil:
		desired = *s.Spec.Mode.Replicated.Replicas
	case s.ServiceStatus != nil: // global: one per eligible node
		desired = s.ServiceStatus.DesiredTasks
	}
	var running, pending []swarm.Task
	for _, t := range current {
		if t.DesiredState != swarm.TaskStateRunning && t.DesiredState != swarm.TaskStateReady {
			continue
		}
		if t.Status.State == swarm.TaskStateRunning {
			running = append(running, t)
		} else {
			pending = append(pending, t)
		}
	}
	counts := fmt.Sprintf("%d/%d running", len(running), desired)
	updating := s.UpdateStatus != nil && s.UpdateStatus.State == swarm.UpdateStateUpdating
	switch {
	case uint64(len(running)) >= desired && len(old) == 0 && !updating:
		settled := !since.IsZero()
		for _, t := range running {
			settled = settled && t.Status.Timestamp.Before(since)
		}
		if want.Health {
			return observation{phase: ui.PhaseHealthy, state: counts + ", healthy", settled: settled}
		}
		return observation{phase: ui.PhaseRunning, state: counts, settled: settled}
	case len(pending) > 0:
		t, _ := newest(pending)
		phase := phaseOf(t)
		if updating {
			phase = ui.PhaseStarting
		}
		return observation{phase: phase, state: counts + "; " + stateOf(t, want.Health), task: t.ID}
	case updating:
		return observation{phase: ui.PhaseStarting, state: counts + "; rolling update in progress"}
	case len(old) > 0:
		return observation{phase: ui.PhaseStarting, state: counts + fmt.Sprintf("; %d task(s) of the old specification still running", len(old))}
	}
	return observation{phase: ui.PhaseWaiting, state: counts}
}

func failureCount(n int) string {
	if n <= 1 {
		return ""
	}
	return fmt.Sprintf(" (%d tasks failed)", n)
}

// phaseOf is the phase of a task on its way to running.
func phaseOf(t swarm.Task) ui.Phase {
	switch t.Status.State {
	case swarm.TaskStateStarting, swarm.TaskStateRunning:
		return ui.PhaseStarting
	}
	return ui.PhaseWaiting
}

// stateOf says where a task stands, for people.
func stateOf(t swarm.Task, health bool) string {
	switch t.Status.State {
	case swarm.TaskStateStarting:
		if health {
			return "task started, health: starting"
		}
		return "task starting"
	case swarm.TaskStatePreparing:
		return "task preparing (image, networks, secrets)"
	}
	return "task " + string(t.Status.State)
}

// taskError describes a task that ended: Swarm's error and the exit code.
func taskError(t swarm.Task, health bool, mask func(string) string) string {
	msg := "task " + string(t.Status.State)
	if cs := t.Status.ContainerStatus; cs != nil && t.Status.State == swarm.TaskStateFailed {
		msg += fmt.Sprintf(" (exit code %d)", cs.ExitCode)
	}
	if t.Status.State == swarm.TaskStateComplete {
		msg = "task exited (code 0), and the service is meant to keep running"
		if health {
			msg += " (Swarm stops a task whose healthcheck fails)"
		}
		return msg
	}
	if t.Status.Err != "" {
		msg += ": " + mask(t.Status.Err)
	} else if t.Status.Message != "" {
		msg += ": " + mask(t.Status.Message)
	}
	return msg
}

func latest(ts []swarm.Task) swarm.Task {
	var out swarm.Task
	for _, t := range ts {
		if out.ID == "" || t.Status.Timestamp.After(out.Status.Timestamp) {
			out = t
		}
	}
	return out
}

func newest(ts []swarm.Task) (swarm.Task, bool) {
	t := latest(ts)
	return t, t.ID != ""
}

// lastFailed is the latest task that failed or was rejected.
func lastFailed(ts []swarm.Task) swarm.Task {
	var failed []swarm.Task
	for _, t := range ts {
		if t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected {
			failed = append(failed, t)
		}
	}
	return latest(failed)
}

// ended turns the end of ctx into the error Wait returns.
func (w *Waiter) ended(ctx context.Context, def *Definition, last map[string]observation, names []string, start time.Time) error {
	cause := context.Cause(ctx)
	if !errors.Is(cause, context.DeadlineExceeded) {
		return fmt.Errorf("wait for services: %w", cause)
	}
	var waiting []string
	for _, name := range names {
		if !last[name].phase.Ready() {
			waiting = append(waiting, name)
		}
	}
	return w.failed(ctx, last, waiting, true, time.Since(start))
}

// failed builds the error for the named services, with their task's last log lines.
func (w *Waiter) failed(ctx context.Context, last map[string]observation, names []string, timedOut bool, after time.Duration) error {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	e := &health.Error{TimedOut: timedOut, After: after}
	for _, name := range names {
		o := last[name]
		p := health.Problem{Service: name, State: o.state}
		if p.State == "" {
			p.State = "not looked at yet"
		}
		if o.task != "" {
			p.Logs, p.LogErr = w.tail(lctx, o.task)
		}
		if w.Report != nil {
			w.Report.Update(name, ui.PhaseFailed, p.State)
		}
		e.Problems = append(e.Problems, p)
	}
	return e
}

// tail returns a task's last log lines, masked.
func (w *Waiter) tail(ctx context.Context, task string) ([]string, error) {
	n := w.LogLines
	if n <= 0 {
		n = DefaultLogLines
	}
	rc, err := w.Engine.TaskLogs(ctx, task, client.TaskLogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(n)})
	if err != nil {
		return nil, fmt.Errorf("read logs: %w", err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, io.LimitReader(rc, 1<<20)); err != nil {
		return nil, fmt.Errorf("read logs: %w", err)
	}
	text := strings.TrimRight(w.mask(strings.ReplaceAll(buf.String(), "\r\n", "\n")), "\n")
	if text == "" {
		return nil, nil
	}
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}
