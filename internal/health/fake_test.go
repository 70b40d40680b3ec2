package health

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"sort"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/ui"
)

// Fakes: one function field per method.

type fakeLister struct {
	list func(ctx context.Context, opts client.ContainerListOptions) (client.ContainerListResult, error)
}

func (f *fakeLister) ContainerList(ctx context.Context, opts client.ContainerListOptions) (client.ContainerListResult, error) {
	return f.list(ctx, opts)
}

type fakeInspector struct {
	inspect func(ctx context.Context, id string) (client.ContainerInspectResult, error)
}

func (f *fakeInspector) ContainerInspect(ctx context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	return f.inspect(ctx, id)
}

type fakeEvents struct {
	events func(ctx context.Context, opts client.EventsListOptions) client.EventsResult
}

func (f *fakeEvents) Events(ctx context.Context, opts client.EventsListOptions) client.EventsResult {
	return f.events(ctx, opts)
}

type fakeLogger struct {
	logs func(ctx context.Context, id string, opts client.ContainerLogsOptions) (client.ContainerLogsResult, error)
}

func (f *fakeLogger) ContainerLogs(ctx context.Context, id string, opts client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	return f.logs(ctx, id, opts)
}

type fakeReporter struct {
	update func(service string, phase ui.Phase, detail string)
}

func (f *fakeReporter) Update(service string, phase ui.Phase, detail string) {
	f.update(service, phase, detail)
}

var (
	_ Lister      = (*fakeLister)(nil)
	_ Inspector   = (*fakeInspector)(nil)
	_ EventSource = (*fakeEvents)(nil)
	_ Logger      = (*fakeLogger)(nil)
	_ Reporter    = (*fakeReporter)(nil)
)

// world is a pretend Engine: containers whose state a test changes, an event
// stream it feeds, and a record of the calls made.
type world struct {
	mu         sync.Mutex
	containers map[string]*fakeContainer
	logs       map[string]string // container → its output
	events     chan events.Message
	errs       chan error
	calls      []string
	listErr    error
	eventOpts  client.EventsListOptions
}

type fakeContainer struct {
	id, name, service string
	oneoff            bool
	labels            map[string]string
	state             container.State
	restarts          int
	tty               bool
}

func newWorld() *world {
	return &world{
		containers: map[string]*fakeContainer{},
		logs:       map[string]string{},
		events:     make(chan events.Message, 64),
		errs:       make(chan error, 1),
	}
}

func (w *world) add(c *fakeContainer) *fakeContainer {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c.name == "" {
		c.name = "p-" + c.service + "-1"
	}
	w.containers[c.id] = c
	return c
}

// set changes a container under the lock and, with emit, tells the watchers.
func (w *world) set(id string, emit bool, change func(c *fakeContainer)) {
	w.mu.Lock()
	c := w.containers[id]
	change(c)
	svc := c.service
	w.mu.Unlock()
	if emit {
		w.events <- events.Message{Type: events.ContainerEventType, Action: events.ActionHealthStatus,
			Actor: events.Actor{ID: id, Attributes: map[string]string{labelService: svc}}}
	}
}

func (w *world) record(call string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, call)
}

func (w *world) lister() *fakeLister {
	return &fakeLister{list: func(ctx context.Context, opts client.ContainerListOptions) (client.ContainerListResult, error) {
		w.record("list")
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.listErr != nil {
			return client.ContainerListResult{}, w.listErr
		}
		var res client.ContainerListResult
		for _, c := range w.containers {
			labels := map[string]string{labelProject: "p", labelService: c.service}
			if c.oneoff {
				labels[labelOneoff] = "True"
			}
			res.Items = append(res.Items, container.Summary{ID: c.id, Names: []string{"/" + c.name}, Labels: labels, State: c.state.Status})
		}
		sort.Slice(res.Items, func(i, j int) bool { return res.Items[i].ID < res.Items[j].ID })
		return res, nil
	}}
}

func (w *world) inspector() *fakeInspector {
	return &fakeInspector{inspect: func(ctx context.Context, id string) (client.ContainerInspectResult, error) {
		w.record("inspect " + id)
		w.mu.Lock()
		defer w.mu.Unlock()
		c, ok := w.containers[id]
		if !ok {
			return client.ContainerInspectResult{}, cerrdefs.ErrNotFound
		}
		st := c.state
		labels := map[string]string{labelProject: "p", labelService: c.service}
		for k, v := range c.labels {
			labels[k] = v
		}
		return client.ContainerInspectResult{Container: container.InspectResponse{
			ID: c.id, Name: "/" + c.name, State: &st, RestartCount: c.restarts,
			Config: &container.Config{Labels: labels, Tty: c.tty},
		}}, nil
	}}
}

func (w *world) source() *fakeEvents {
	return &fakeEvents{events: func(ctx context.Context, opts client.EventsListOptions) client.EventsResult {
		w.record("events")
		w.mu.Lock()
		w.eventOpts = opts
		w.mu.Unlock()
		return client.EventsResult{Messages: w.events, Err: w.errs}
	}}
}

func (w *world) logger() *fakeLogger {
	return &fakeLogger{logs: func(ctx context.Context, id string, opts client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
		w.record("logs " + id + " tail " + opts.Tail)
		w.mu.Lock()
		defer w.mu.Unlock()
		out := w.logs[id]
		if w.containers[id] != nil && w.containers[id].tty {
			return io.NopCloser(bytes.NewBufferString(out)), nil
		}
		return io.NopCloser(bytes.NewReader(multiplex(out))), nil
	}}
}

// multiplex frames text the way the Engine sends a container's logs when it
// has no terminal: alternate lines on stdout and stderr.
func multiplex(text string) []byte {
	var b bytes.Buffer
	stream := byte(1)
	for _, line := range bytes.SplitAfter([]byte(text), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		hdr := make([]byte, 8)
		hdr[0] = stream
		binary.BigEndian.PutUint32(hdr[4:], uint32(len(line)))
		b.Write(hdr)
		b.Write(line)
		stream = 3 - stream
	}
	return b.Bytes()
}

func (w *world) waiter() *Waiter {
	return &Waiter{
		Lister: w.lister(), Inspector: w.inspector(), Events: w.source(), Logs: w.logger(),
		Poll:   1 << 40, // an hour and more: only events move these tests on
		Settle: -1,      // ready once running; TestWaitSettles covers settling
	}
}

func running(health container.HealthStatus) container.State {
	st := container.State{Status: container.StateRunning, Running: true}
	if health != "" {
		st.Health = &container.Health{Status: health}
	}
	return st
}

func exited(code int) container.State {
	return container.State{Status: container.StateExited, ExitCode: code}
}
