package swarm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/exitcode"
)

// RemoveAPI is what RemoveStack needs: a manager, and this node's containers.
type RemoveAPI interface {
	Engine
	ContainerList(ctx context.Context, opts client.ContainerListOptions) (client.ContainerListResult, error)
}

// Removed is what RemoveStack removed, by name.
type Removed struct {
	Services, Networks, Secrets []string
}

// Empty reports whether nothing was removed.
func (r Removed) Empty() bool { return len(r.Services)+len(r.Networks)+len(r.Secrets) == 0 }

// RemoveStack removes every service, network and secret of stack (volumes stay,
// as with `docker stack rm`). Networks and secrets go once no container uses
// them, and it returns once this node has no container of the stack left:
// it retries every poll until ctx ends, which is then an error naming what
// is left.
func RemoveStack(ctx context.Context, e RemoveAPI, stack string, poll time.Duration) (Removed, error) {
	var r Removed
	if poll <= 0 {
		poll = DefaultPoll
	}
	svcs, err := e.ServiceList(ctx, client.ServiceListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return r, fmt.Errorf("list the services of stack %s: %w", stack, err)
	}
	removed := map[string]bool{}
	for _, s := range svcs.Items {
		if _, err := e.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return r, exitcode.With(exitcode.Failure, fmt.Errorf("remove service %s: %w", s.Spec.Name, err))
		}
		removed[s.ID] = true
		r.Services = append(r.Services, ServiceName(stack, s.Spec.Name))
	}
	slices.Sort(r.Services)
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		// The services' tasks go first: their containers hold the networks.
		left, err := remainingTasks(ctx, e, removed)
		if err == nil && len(left) == 0 {
			left, err = removeRest(ctx, e, stack, &r)
		}
		if err == nil && len(left) == 0 {
			left, err = remainingContainers(ctx, e, stack)
		}
		if err != nil {
			return r, err
		}
		if len(left) == 0 {
			slices.Sort(r.Networks)
			slices.Sort(r.Secrets)
			return r, nil
		}
		select {
		case <-ctx.Done():
			err := fmt.Errorf("remove stack %s: still in use after the services were removed: %v", stack, left)
			if cause := context.Cause(ctx); !errors.Is(cause, context.DeadlineExceeded) {
				return r, fmt.Errorf("%w: %w", err, cause)
			}
			return r, exitcode.With(exitcode.Failure, err)
		case <-ticker.C:
		}
	}
}

// remainingTasks names the tasks of the removed services the swarm still
// has: their containers are being stopped.
func remainingTasks(ctx context.Context, e ServiceAPI, removed map[string]bool) ([]string, error) {
	if len(removed) == 0 {
		return nil, nil
	}
	// Tasks cannot be filtered by a service that no longer exists.
	res, err := e.TaskList(ctx, client.TaskListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	var left []string
	for _, t := range res.Items {
		if removed[t.ServiceID] {
			left = append(left, "task "+t.ID)
		}
	}
	return left, nil
}

// remainingContainers names this node's containers of the stack, which
// Swarm removes a moment after their tasks are gone.
func remainingContainers(ctx context.Context, e RemoveAPI, stack string) ([]string, error) {
	res, err := e.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: stackFilter(stack)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var left []string
	for _, c := range res.Items {
		left = append(left, "container "+c.ID[:min(12, len(c.ID))])
	}
	return left, nil
}

// removeRest removes the stack's networks and secrets that nothing uses any
// more, and names those still in use.
func removeRest(ctx context.Context, e Engine, stack string, r *Removed) (left []string, err error) {
	nets, err := e.NetworkList(ctx, client.NetworkListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return nil, fmt.Errorf("list the networks of stack %s: %w", stack, err)
	}
	for _, n := range nets.Items {
		if _, err := e.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			left = append(left, "network "+n.Name)
			continue
		}
		r.Networks = append(r.Networks, n.Name)
	}
	secs, err := e.SecretList(ctx, client.SecretListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return nil, fmt.Errorf("list the secrets of stack %s: %w", stack, err)
	}
	for _, s := range secs.Items {
		if _, err := e.SecretRemove(ctx, s.ID, client.SecretRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			left = append(left, "secret "+s.Spec.Name)
			continue
		}
		r.Secrets = append(r.Secrets, s.Spec.Name)
	}
	return left, nil
}

// Inventory names the services, networks and secrets of stack: what
// RemoveStack would remove.
func Inventory(ctx context.Context, e Engine, stack string) (Removed, error) {
	var r Removed
	svcs, err := e.ServiceList(ctx, client.ServiceListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return r, fmt.Errorf("list the services of stack %s: %w", stack, err)
	}
	for _, s := range svcs.Items {
		r.Services = append(r.Services, ServiceName(stack, s.Spec.Name))
	}
	nets, err := e.NetworkList(ctx, client.NetworkListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return r, fmt.Errorf("list the networks of stack %s: %w", stack, err)
	}
	for _, n := range nets.Items {
		r.Networks = append(r.Networks, n.Name)
	}
	secs, err := e.SecretList(ctx, client.SecretListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return r, fmt.Errorf("list the secrets of stack %s: %w", stack, err)
	}
	for _, s := range secs.Items {
		r.Secrets = append(r.Secrets, s.Spec.Name)
	}
	slices.Sort(r.Services)
	slices.Sort(r.Networks)
	slices.Sort(r.Secrets)
	return r, nil
}
