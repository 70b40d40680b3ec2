// Package health tells, through the Docker Engine API alone, whether the
// services of a compose project are ready: it waits for them during a staged
// bring-up, and reports their state, health and URLs for a summary or
// `startsvc status`.
//
// Ready means: healthy for a container with a healthcheck; running (for a
// second, so that one crashing at once is not taken for ready) for one
// without; exited 0 for a one-shot service. A one-shot service is one whose
// compose file gives it the label `startsvc.oneshot: "true"` (LabelOneShot), or
// one that another service waits for with `condition:
// service_completed_successfully` (see OneShots). A service fails at once when
// it turns unhealthy, exits non-zero (or exits at all, if it is not one-shot),
// or restarts more than a few times while startsvc waits.
package health

import (
	"context"
	"strconv"

	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/ui"
)

// Compose's labels on the containers it creates, and startsvc's own.
const (
	labelProject = "com.docker.compose.project"
	labelService = "com.docker.compose.service"
	labelOneoff  = "com.docker.compose.oneoff"

	// LabelOneShot marks a service that is meant to run to completion, such as
	// a model download: it is ready once it has exited 0. Set it in the compose
	// file: `labels: {startsvc.oneshot: "true"}`.
	LabelOneShot = "startsvc.oneshot"
)

// Lister lists containers: the Engine's GET /containers/json.
type Lister interface {
	ContainerList(ctx context.Context, opts client.ContainerListOptions) (client.ContainerListResult, error)
}

// Inspector inspects one container: the Engine's GET /containers/{id}/json.
type Inspector interface {
	ContainerInspect(ctx context.Context, id string, opts client.ContainerInspectOptions) (client.ContainerInspectResult, error)
}

// EventSource streams the Engine's events until ctx ends.
type EventSource interface {
	Events(ctx context.Context, opts client.EventsListOptions) client.EventsResult
}

// Logger reads a container's logs.
type Logger interface {
	ContainerLogs(ctx context.Context, id string, opts client.ContainerLogsOptions) (client.ContainerLogsResult, error)
}

// Engine is what Collect needs of the Engine: list and inspect.
type Engine interface {
	Lister
	Inspector
}

var (
	_ Lister      = (*client.Client)(nil)
	_ Inspector   = (*client.Client)(nil)
	_ EventSource = (*client.Client)(nil)
	_ Logger      = (*client.Client)(nil)
	_ Reporter    = (*ui.Progress)(nil)
)

// Reporter hears of every change of a service's phase or detail during a
// wait; *ui.Progress is one.
type Reporter interface {
	Update(service string, phase ui.Phase, detail string)
}

// Scope is which services of which compose project a wait or a status covers.
type Scope struct {
	Project string
	// Services are the compose services to cover. Wait needs them; for Collect,
	// nil means every service that has a container.
	Services []string
	// OneShot names services that are ready once exited 0, besides those with
	// LabelOneShot on their containers.
	OneShot []string
}

func (s Scope) has(service string) bool {
	for _, x := range s.Services {
		if x == service {
			return true
		}
	}
	return false
}

func (s Scope) oneShot(service string, labels map[string]string) bool {
	if b, err := strconv.ParseBool(labels[LabelOneShot]); err == nil && b {
		return true
	}
	for _, x := range s.OneShot {
		if x == service {
			return true
		}
	}
	return false
}

func projectFilter(project string) client.Filters {
	return make(client.Filters).Add("label", labelProject+"="+project)
}
