package swarm

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/health"
)

// StatusAPI is what Collect reads.
type StatusAPI interface {
	ServiceList(ctx context.Context, opts client.ServiceListOptions) (client.ServiceListResult, error)
	TaskList(ctx context.Context, opts client.TaskListOptions) (client.TaskListResult, error)
}

// Collect returns the status of every service of stack in the form `startsvc
// status` shows for compose containers: one entry per task Swarm keeps
// running (per slot, or per node of a global service), one for the last task
// of a job, and a missing entry for a service with none. Task states map onto
// container states: a task on its way (new … ready) is created; starting is
// running with health starting when the service has a healthcheck; running
// is running, healthy with a healthcheck (Swarm reports such a task running
// only once it is); complete is exited 0; failed is exited with its code;
// rejected is dead. Ports are the service's published ports, on every
// address. Sorted by service, then task.
func Collect(ctx context.Context, e StatusAPI, stack string) ([]health.ServiceStatus, error) {
	svcs, err := e.ServiceList(ctx, client.ServiceListOptions{Filters: stackFilter(stack), Status: true})
	if err != nil {
		return nil, fmt.Errorf("list the services of stack %s: %w", stack, err)
	}
	if len(svcs.Items) == 0 {
		return nil, nil
	}
	ids := make(client.Filters)
	for _, s := range svcs.Items {
		ids.Add("service", s.ID)
	}
	res, err := e.TaskList(ctx, client.TaskListOptions{Filters: ids})
	if err != nil {
		return nil, fmt.Errorf("list the tasks of stack %s: %w", stack, err)
	}
	tasks := map[string][]swarm.Task{}
	for _, t := range res.Items {
		tasks[t.ServiceID] = append(tasks[t.ServiceID], t)
	}
	var out []health.ServiceStatus
	for _, s := range svcs.Items {
		out = append(out, serviceStatus(stack, s, tasks[s.ID])...)
	}
	slices.SortFunc(out, func(a, b health.ServiceStatus) int {
		if c := strings.Compare(a.Service, b.Service); c != 0 {
			return c
		}
		return strings.Compare(a.Container, b.Container)
	})
	return out, nil
}

func serviceStatus(stack string, s swarm.Service, tasks []swarm.Task) []health.ServiceStatus {
	name := ServiceName(stack, s.Spec.Name)
	job := s.Spec.Mode.ReplicatedJob != nil || s.Spec.Mode.GlobalJob != nil
	hc := false
	if cs := s.Spec.TaskTemplate.ContainerSpec; cs != nil && cs.Healthcheck != nil {
		hc = len(cs.Healthcheck.Test) > 0 && cs.Healthcheck.Test[0] != "NONE"
	}
	ports := []health.Port{}
	for _, p := range s.Endpoint.Ports {
		if p.PublishedPort > 0 {
			ports = append(ports, health.Port{HostIP: "0.0.0.0", HostPort: int(p.PublishedPort), ContainerPort: int(p.TargetPort), Protocol: string(p.Protocol)})
		}
	}
	var shown []swarm.Task
	if job {
		if t, ok := newest(tasks); ok {
			shown = []swarm.Task{t}
		}
	} else {
		for _, t := range tasks {
			if t.DesiredState == swarm.TaskStateRunning || t.DesiredState == swarm.TaskStateReady {
				shown = append(shown, t)
			}
		}
	}
	if len(shown) == 0 {
		return []health.ServiceStatus{{Service: name, State: health.StateMissing, Health: health.HealthNone, OneShot: job, Ports: []health.Port{}}}
	}
	var out []health.ServiceStatus
	for _, t := range shown {
		st := health.ServiceStatus{Service: name, Container: taskName(s, t), Health: health.HealthNone, OneShot: job, Ports: ports}
		switch t.Status.State {
		case swarm.TaskStateRunning:
			st.State = "running"
			if hc {
				st.Health = "healthy"
			}
			st.Ready = !job
		case swarm.TaskStateStarting:
			st.State = "created"
			if hc {
				st.State, st.Health = "running", "starting"
			}
		case swarm.TaskStateComplete:
			code := 0
			st.State, st.ExitCode, st.Ready = "exited", &code, job
		case swarm.TaskStateFailed, swarm.TaskStateShutdown:
			code := 0
			if cs := t.Status.ContainerStatus; cs != nil {
				code = cs.ExitCode
			}
			st.State, st.ExitCode = "exited", &code
		case swarm.TaskStateRejected:
			st.State = "dead"
		case swarm.TaskStateRemove, swarm.TaskStateOrphaned:
			st.State = "removing"
		default:
			st.State = "created"
		}
		if st.State == "running" {
			st.URL = health.URL(name, ports)
		}
		out = append(out, st)
	}
	return out
}

// taskName is how `docker service ps` names a task: <service>.<slot>, or
// <service>.<node> for a global service.
func taskName(s swarm.Service, t swarm.Task) string {
	if t.Slot > 0 {
		return fmt.Sprintf("%s.%d", s.Spec.Name, t.Slot)
	}
	node := t.NodeID
	if len(node) > 12 {
		node = node[:12]
	}
	return s.Spec.Name + "." + node
}
