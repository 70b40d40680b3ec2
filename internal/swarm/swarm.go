// Package swarm runs a compose project on Docker Swarm through the Engine API:
// it turns the compose-go model of the selected services into Swarm service
// specifications (Build), creates the secrets and networks they need and
// creates or updates the services, leaving unchanged ones alone (Deployer),
// waits until the services converge (Waiter), reports their state (Collect),
// and removes the whole stack (RemoveStack).
//
// Everything it creates carries the label com.docker.stack.namespace=<stack>,
// as `docker stack deploy` does, so `docker stack ps|services|rm <stack>` work
// on a stack startsvc deployed. Values travel to the Engine in API requests
// only: nothing with a value is written to disk, and no error or event of
// this package holds one.
package swarm

import (
	"context"
	"fmt"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/exitcode"
)

// Labels startsvc puts on what it creates in a swarm.
const (
	// LabelNamespace names the stack an object belongs to; docker stack uses it too.
	LabelNamespace = "com.docker.stack.namespace"
	// LabelSpecHash is a hash of the service specification startsvc built, on
	// the service and on its containers: a service whose label equals the
	// hash of the specification a run builds is left alone, and the tasks of
	// the current specification are told from older ones by it.
	LabelSpecHash = "startsvc.spec-hash"
	// LabelSecretKey names, on a secret, the variable or compose secret whose
	// value it holds.
	LabelSecretKey = "startsvc.secret"
)

// InfoAPI answers what the Engine says of itself.
type InfoAPI interface {
	Info(ctx context.Context, opts client.InfoOptions) (client.SystemInfoResult, error)
}

// ServiceAPI lists, creates, updates and removes services and lists their tasks.
type ServiceAPI interface {
	ServiceList(ctx context.Context, opts client.ServiceListOptions) (client.ServiceListResult, error)
	ServiceCreate(ctx context.Context, opts client.ServiceCreateOptions) (client.ServiceCreateResult, error)
	ServiceUpdate(ctx context.Context, id string, opts client.ServiceUpdateOptions) (client.ServiceUpdateResult, error)
	ServiceRemove(ctx context.Context, id string, opts client.ServiceRemoveOptions) (client.ServiceRemoveResult, error)
	TaskList(ctx context.Context, opts client.TaskListOptions) (client.TaskListResult, error)
}

// SecretAPI lists, creates and removes secrets.
type SecretAPI interface {
	SecretList(ctx context.Context, opts client.SecretListOptions) (client.SecretListResult, error)
	SecretCreate(ctx context.Context, opts client.SecretCreateOptions) (client.SecretCreateResult, error)
	SecretRemove(ctx context.Context, id string, opts client.SecretRemoveOptions) (client.SecretRemoveResult, error)
}

// NetworkAPI lists, creates and removes networks.
type NetworkAPI interface {
	NetworkList(ctx context.Context, opts client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkCreate(ctx context.Context, name string, opts client.NetworkCreateOptions) (client.NetworkCreateResult, error)
	NetworkRemove(ctx context.Context, id string, opts client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)
}

// LogAPI reads a task's logs.
type LogAPI interface {
	TaskLogs(ctx context.Context, id string, opts client.TaskLogsOptions) (client.TaskLogsResult, error)
}

// Engine is everything deploy needs of a swarm manager.
type Engine interface {
	InfoAPI
	ServiceAPI
	SecretAPI
	NetworkAPI
	LogAPI
}

var _ Engine = (*client.Client)(nil)

// CheckManager returns nil when the Engine is a manager of an active swarm,
// and otherwise an error (exit code 3, Engine unavailable) that says how to
// make it one.
func CheckManager(ctx context.Context, e InfoAPI) error {
	res, err := e.Info(ctx, client.InfoOptions{})
	if err != nil {
		return exitcode.With(exitcode.Unavailable, fmt.Errorf("docker info: %w", err))
	}
	return managerError(res.Info.Swarm)
}

// IsManager reports whether the Engine manages an active swarm; any error
// asking counts as no.
func IsManager(ctx context.Context, e InfoAPI) bool {
	res, err := e.Info(ctx, client.InfoOptions{})
	return err == nil && managerError(res.Info.Swarm) == nil
}

func managerError(s swarm.Info) error {
	const init = "`docker swarm init` makes this Engine a single-node swarm " +
		"(`docker swarm init --advertise-addr 127.0.0.1` for this machine alone); " +
		"or point DOCKER_HOST at a manager of an existing swarm"
	switch {
	case s.LocalNodeState == swarm.LocalNodeStateActive && s.ControlAvailable:
		return nil
	case s.LocalNodeState == swarm.LocalNodeStateActive:
		return exitcode.With(exitcode.Unavailable, fmt.Errorf("this Docker Engine is a swarm worker, and deploy needs a manager: "+
			"point DOCKER_HOST at a manager (`docker node ls` there lists them), or promote this node there with `docker node promote`"))
	case s.LocalNodeState == swarm.LocalNodeStateLocked:
		return exitcode.With(exitcode.Unavailable, fmt.Errorf("this Docker Engine's swarm is locked: `docker swarm unlock` unlocks it"))
	case s.LocalNodeState == swarm.LocalNodeStatePending:
		return exitcode.With(exitcode.Unavailable, fmt.Errorf("this Docker Engine is still joining a swarm; try again in a moment"))
	case s.LocalNodeState == swarm.LocalNodeStateError:
		return exitcode.With(exitcode.Unavailable, fmt.Errorf("this Docker Engine's swarm is in error (%s): see `docker info`", s.Error))
	}
	return exitcode.With(exitcode.Unavailable, fmt.Errorf("this Docker Engine is not a swarm manager, and deploy runs the stack on Docker Swarm: %s", init))
}

// stackFilter selects the objects of a stack.
func stackFilter(stack string) client.Filters {
	return make(client.Filters).Add("label", LabelNamespace+"="+stack)
}
