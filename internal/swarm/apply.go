package swarm

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/exitcode"
)

// State is the stack as the swarm runs it, read by Observe.
type State struct {
	Services map[string]swarm.Service // the stack's services, by compose service name
	Secrets  map[string]string        // the stack's secrets: name -> ID
	Networks map[string]string        // every swarm-scoped network: name -> ID
	local    map[string]bool          // names of networks only this node knows (bridge and the like)
}

// Observe reads the stack's services and secrets and the swarm's networks.
func Observe(ctx context.Context, e Engine, stack string) (*State, error) {
	st := &State{Services: map[string]swarm.Service{}, Secrets: map[string]string{}, Networks: map[string]string{}, local: map[string]bool{}}
	svcs, err := e.ServiceList(ctx, client.ServiceListOptions{Filters: stackFilter(stack), Status: true})
	if err != nil {
		return nil, fmt.Errorf("list the services of stack %s: %w", stack, err)
	}
	for _, s := range svcs.Items {
		st.Services[ServiceName(stack, s.Spec.Name)] = s
	}
	secs, err := e.SecretList(ctx, client.SecretListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return nil, fmt.Errorf("list the secrets of stack %s: %w", stack, err)
	}
	for _, s := range secs.Items {
		st.Secrets[s.Spec.Name] = s.ID
	}
	nets, err := e.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range nets.Items {
		if n.Scope == "swarm" {
			st.Networks[n.Name] = n.ID
		} else {
			st.local[n.Name] = true
		}
	}
	return st, nil
}

// ServiceName is the compose service name of a Swarm service of stack.
func ServiceName(stack, swarmName string) string { return strings.TrimPrefix(swarmName, stack+"_") }

// Action is what deploy does to a service.
type Action string

// The actions of a deploy.
const (
	Create Action = "create" // not in the swarm yet
	Update Action = "update" // its specification changed: a rolling update
	Keep   Action = "keep"   // unchanged: left alone
	Remove Action = "remove" // no longer wanted
)

// Change is what deploy does to one service, and why. It names keys, never values.
type Change struct {
	Service string   `json:"service"`
	Action  Action   `json:"action"`
	Reasons []string `json:"reasons"`
	Stage   string   `json:"stage,omitempty"`
}

// Plan compares the definition with what runs: one Change per service of
// the definition, sorted, then one per service of the stack it no longer has.
func (d *Definition) Plan(st *State) []Change {
	var out []Change
	for _, name := range d.Names() {
		s := d.Services[name]
		cur, ok := st.Services[name]
		switch {
		case !ok:
			out = append(out, Change{Service: name, Action: Create, Reasons: []string{"not deployed yet"}})
		case cur.Spec.Labels[LabelSpecHash] != s.Hash:
			out = append(out, Change{Service: name, Action: Update, Reasons: why(cur.Spec, s.Spec)})
		case stuck(cur):
			out = append(out, Change{Service: name, Action: Update, Reasons: []string{"its last update " + strings.ReplaceAll(string(cur.UpdateStatus.State), "_", " ") + ": tried again"}})
		default:
			out = append(out, Change{Service: name, Action: Keep, Reasons: []string{"unchanged"}})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(st.Services)) {
		if _, ok := d.Services[name]; !ok {
			out = append(out, Change{Service: name, Action: Remove, Reasons: []string{"not in the selected services any more"}})
		}
	}
	return out
}

// stuck reports whether a service's last update did not complete.
func stuck(s swarm.Service) bool {
	if s.UpdateStatus == nil {
		return false
	}
	switch s.UpdateStatus.State {
	case swarm.UpdateStatePaused, swarm.UpdateStateRollbackPaused, swarm.UpdateStateRollbackCompleted:
		return true
	}
	return false
}

// why names what changed between two specifications: secrets by the key
// they hold, environment variables by name, the image.
func why(old, new swarm.ServiceSpec) []string {
	if old.Labels[LabelSpecHash] == "" {
		return []string{"deployed without startsvc's specification hash"}
	}
	var reasons []string
	oc, nc := old.TaskTemplate.ContainerSpec, new.TaskTemplate.ContainerSpec
	if oc == nil || nc == nil {
		return []string{"specification changed"}
	}
	if oc.Image != nc.Image {
		reasons = append(reasons, fmt.Sprintf("image %s → %s", oc.Image, nc.Image))
	}
	files := func(refs []*swarm.SecretReference) map[string]string {
		m := map[string]string{}
		for _, r := range refs {
			if r.File != nil {
				m[r.File.Name] = r.SecretName
			}
		}
		return m
	}
	of, nf := files(oc.Secrets), files(nc.Secrets)
	for _, k := range slices.Sorted(maps.Keys(nf)) {
		switch o, ok := of[k]; {
		case !ok:
			reasons = append(reasons, "secret "+k+" added")
		case o != nf[k]:
			reasons = append(reasons, "secret "+k+" changed")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(of)) {
		if _, ok := nf[k]; !ok {
			reasons = append(reasons, "secret "+k+" removed")
		}
	}
	env := func(list []string) map[string]string {
		m := map[string]string{}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		return m
	}
	oe, ne := env(oc.Env), env(nc.Env)
	var changed []string
	for k, v := range ne {
		if o, ok := oe[k]; !ok || o != v {
			changed = append(changed, k)
		}
	}
	for k := range oe {
		if _, ok := ne[k]; !ok {
			changed = append(changed, k)
		}
	}
	if len(changed) > 0 {
		slices.Sort(changed)
		reasons = append(reasons, "environment changed: "+strings.Join(changed, ", "))
	}
	if len(reasons) == 0 {
		reasons = []string{"specification changed"}
	}
	return reasons
}

// Apply carries out the changes for the named services (one stage): it
// creates the networks and secrets they need, then creates or updates each
// service whose change says so, and leaves the others alone. Secrets are
// created from memory through the API. Images are used as given, never
// resolved at a registry. warn hears what the Engine warns of.
func (d *Definition) Apply(ctx context.Context, e Engine, st *State, changes []Change, names []string, warn func(string)) error {
	action := map[string]Action{}
	for _, c := range changes {
		action[c.Service] = c.Action
	}
	for _, name := range names {
		s, ok := d.Services[name]
		if !ok || action[name] == Keep {
			continue
		}
		spec, err := d.resolve(ctx, e, st, s)
		if err != nil {
			return err
		}
		if cur, ok := st.Services[name]; ok {
			spec.TaskTemplate.ForceUpdate = cur.Spec.TaskTemplate.ForceUpdate
			if cur.Spec.Labels[LabelSpecHash] == s.Hash {
				spec.TaskTemplate.ForceUpdate++ // the same specification: only a force restarts a stuck update
			}
			res, err := e.ServiceUpdate(ctx, cur.ID, client.ServiceUpdateOptions{Version: cur.Version, Spec: spec})
			if err != nil {
				return exitcode.With(exitcode.Failure, fmt.Errorf("update service %s: %w", s.Spec.Name, err))
			}
			notify(warn, res.Warnings)
			continue
		}
		res, err := e.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec})
		if err != nil {
			return exitcode.With(exitcode.Failure, fmt.Errorf("create service %s: %w", s.Spec.Name, err))
		}
		notify(warn, res.Warnings)
	}
	return nil
}

func notify(warn func(string), warnings []string) {
	for _, w := range warnings {
		if warn != nil {
			warn(strings.TrimSpace(w))
		}
	}
}

// resolve returns a copy of the service's specification with the IDs of its
// networks and secrets, creating those that do not exist yet.
func (d *Definition) resolve(ctx context.Context, e Engine, st *State, s *Service) (swarm.ServiceSpec, error) {
	spec := s.Spec
	task := spec.TaskTemplate
	cs := *task.ContainerSpec
	task.ContainerSpec = &cs
	task.Networks = slices.Clone(task.Networks)
	for i, att := range task.Networks {
		if att.Target == "host" {
			continue
		}
		id, err := d.ensureNetwork(ctx, e, st, att.Target)
		if err != nil {
			return swarm.ServiceSpec{}, err
		}
		task.Networks[i].Target = id
	}
	cs.Secrets = make([]*swarm.SecretReference, len(s.Spec.TaskTemplate.ContainerSpec.Secrets))
	for i, ref := range s.Spec.TaskTemplate.ContainerSpec.Secrets {
		r := *ref
		id, err := d.ensureSecret(ctx, e, st, r.SecretName)
		if err != nil {
			return swarm.ServiceSpec{}, err
		}
		r.SecretID = id
		cs.Secrets[i] = &r
	}
	spec.TaskTemplate = task
	return spec, nil
}

func (d *Definition) ensureNetwork(ctx context.Context, e Engine, st *State, name string) (string, error) {
	if id, ok := st.Networks[name]; ok {
		return id, nil
	}
	n := d.Networks[name]
	if n == nil || n.External {
		if st.local[name] {
			return name, nil // a node-local network such as bridge: the Engine takes its name
		}
		return "", exitcode.Usagef("network %s is external, and the swarm has no such network: create it with `docker network create --driver overlay %s`", name, name)
	}
	if st.local[name] {
		return "", exitcode.Usagef("network %s exists on this Engine as a local network (a compose project of the same name?): "+
			"`startsvc down -p %s` removes it, or deploy under another --project-name", name, d.Stack)
	}
	res, err := e.NetworkCreate(ctx, name, n.Options)
	if err != nil {
		return "", exitcode.With(exitcode.Failure, fmt.Errorf("create network %s: %w", name, err))
	}
	st.Networks[name] = res.ID
	return res.ID, nil
}

func (d *Definition) ensureSecret(ctx context.Context, e Engine, st *State, name string) (string, error) {
	if id, ok := st.Secrets[name]; ok {
		return id, nil
	}
	s, ok := d.Secrets[name]
	if !ok {
		// An external secret of the compose files: it must exist.
		res, err := e.SecretList(ctx, client.SecretListOptions{Filters: make(client.Filters).Add("name", name)})
		if err != nil {
			return "", fmt.Errorf("list secrets: %w", err)
		}
		for _, sec := range res.Items {
			if sec.Spec.Name == name {
				st.Secrets[name] = sec.ID
				return sec.ID, nil
			}
		}
		return "", exitcode.Usagef("secret %s is external, and the swarm has no such secret: create it with `docker secret create %s -`", name, name)
	}
	res, err := e.SecretCreate(ctx, client.SecretCreateOptions{Spec: swarm.SecretSpec{
		Annotations: swarm.Annotations{Name: name, Labels: map[string]string{LabelNamespace: d.Stack, LabelSecretKey: s.Key}},
		Data:        s.data,
	}})
	if err != nil && cerrdefs.IsConflict(err) {
		// Created since Observe, by a run that raced this one: the name says
		// the content is the same.
		return d.lookupSecret(ctx, e, st, name)
	}
	if err != nil {
		return "", exitcode.With(exitcode.Failure, fmt.Errorf("create secret %s: %w", name, err))
	}
	st.Secrets[name] = res.ID
	return res.ID, nil
}

func (d *Definition) lookupSecret(ctx context.Context, e Engine, st *State, name string) (string, error) {
	res, err := e.SecretList(ctx, client.SecretListOptions{Filters: make(client.Filters).Add("name", name)})
	if err != nil {
		return "", fmt.Errorf("list secrets: %w", err)
	}
	for _, sec := range res.Items {
		if sec.Spec.Name == name {
			st.Secrets[name] = sec.ID
			return sec.ID, nil
		}
	}
	return "", exitcode.With(exitcode.Failure, fmt.Errorf("secret %s: created by another run, then gone", name))
}

// RemoveServices removes the named services of the stack.
func RemoveServices(ctx context.Context, e ServiceAPI, st *State, names []string) error {
	for _, name := range names {
		s, ok := st.Services[name]
		if !ok {
			continue
		}
		if _, err := e.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return exitcode.With(exitcode.Failure, fmt.Errorf("remove service %s: %w", s.Spec.Name, err))
		}
		delete(st.Services, name)
	}
	return nil
}

// PruneSecrets removes the secrets startsvc created for stack that no
// service of the stack mounts any more, and returns their names. Call it once
// the services converged: a secret a service still mounts cannot be removed.
func PruneSecrets(ctx context.Context, e Engine, stack string) ([]string, error) {
	svcs, err := e.ServiceList(ctx, client.ServiceListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return nil, fmt.Errorf("list the services of stack %s: %w", stack, err)
	}
	used := map[string]bool{}
	for _, s := range svcs.Items {
		if cs := s.Spec.TaskTemplate.ContainerSpec; cs != nil {
			for _, r := range cs.Secrets {
				used[r.SecretID] = true
				used[r.SecretName] = true
			}
		}
	}
	secs, err := e.SecretList(ctx, client.SecretListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return nil, fmt.Errorf("list the secrets of stack %s: %w", stack, err)
	}
	var removed []string
	for _, s := range secs.Items {
		if s.Spec.Labels[LabelSecretKey] == "" || used[s.ID] || used[s.Spec.Name] {
			continue
		}
		if _, err := e.SecretRemove(ctx, s.ID, client.SecretRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return removed, exitcode.With(exitcode.Failure, fmt.Errorf("remove secret %s: %w", s.Spec.Name, err))
		}
		removed = append(removed, s.Spec.Name)
	}
	slices.Sort(removed)
	return removed, nil
}
