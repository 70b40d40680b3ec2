package launch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/docker"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/health"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/stack"
)

// LabelConfigHash is the label startsvc puts on every container it creates:
// a hash of the service's resolved configuration — image, settings and every
// variable's value, as compose's own config-hash label does. Reconcile
// compares it with the hash of the configuration a run would give the
// service; computing both in startsvc keeps the comparison independent of the
// compose release in use.
const LabelConfigHash = "startsvc.config-hash"

// Action is what reconcile does to a service.
type Action string

// The actions of a plan.
const (
	Keep     Action = "keep"     // running with the wanted configuration: left alone
	Create   Action = "create"   // no container yet
	Recreate Action = "recreate" // its configuration changed: replaced
	Start    Action = "start"    // wanted configuration, but not running: started
	Remove   Action = "remove"   // not wanted any more: stopped and removed
)

// Change is the plan for one service. It names variables, never values.
type Change struct {
	Service string `json:"service"`
	Action  Action `json:"action"`
	// Reasons say why, one short phrase each.
	Reasons []string `json:"reasons"`
	// Variables are the changed variables behind a recreate, when they are known.
	Variables []Variable `json:"variables,omitempty"`
	Stage     string     `json:"stage,omitempty"`
	// Containers are the IDs (12 characters) of the containers the action
	// removes or replaces, or keeps.
	Containers []string `json:"containers,omitempty"`
}

// Variable is a variable and where its value comes from: "Infisical", the
// env file's name, "shell" or "compose file".
type Variable struct {
	Name   string `json:"name"`
	Source string `json:"source"`
}

// Plan is what reconcile would do to bring the running project to the
// wanted state, one Change per service: those the profile selects in stage
// order, then those to remove.
type Plan struct {
	Changes []Change `json:"services"`
}

// Pending reports whether the plan changes anything.
func (p Plan) Pending() bool {
	for _, c := range p.Changes {
		if c.Action != Keep {
			return true
		}
	}
	return false
}

// Count is how many changes have action a.
func (p Plan) Count(a Action) int {
	n := 0
	for _, c := range p.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// Summary counts the plan's changes: "1 to create, 2 to recreate, 4 unchanged".
func (p Plan) Summary() string {
	var parts []string
	for _, a := range []struct {
		action Action
		word   string
	}{{Create, "to create"}, {Recreate, "to recreate"}, {Start, "to start"}, {Remove, "to remove"}, {Keep, "unchanged"}} {
		if n := p.Count(a.action); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, a.word))
		}
	}
	if len(parts) == 0 {
		return "no service"
	}
	return strings.Join(parts, ", ")
}

// Services names the services whose action is one of actions, in plan order.
func (p Plan) Services(actions ...Action) []string {
	var out []string
	for _, c := range p.Changes {
		if slices.Contains(actions, c.Action) {
			out = append(out, c.Service)
		}
	}
	return out
}

// serviceHash is the configuration hash of one service of a project whose
// environment is resolved: what compose hashes (the whole service, without
// what it leaves out: build, pull policy, scale, replicas, dependencies,
// profiles) and without startsvc's own label.
func serviceHash(svc types.ServiceConfig) (string, error) {
	labels := types.Labels{}
	for k, v := range svc.Labels {
		if k != LabelConfigHash {
			labels[k] = v
		}
	}
	svc.Labels = labels
	svc.Build = nil
	svc.PullPolicy = ""
	svc.Scale = nil
	svc.DependsOn = nil
	svc.Profiles = nil
	if svc.Deploy != nil {
		d := *svc.Deploy
		d.Replicas = nil
		svc.Deploy = &d
	}
	data, err := json.Marshal(svc)
	if err != nil {
		return "", fmt.Errorf("hash service %s: %w", svc.Name, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// wanted is a service as the run would create it.
type wanted struct {
	hash  string
	svc   types.ServiceConfig // environment resolved
	files []fileSecret        // its file-delivered secrets, whose content the hash leaves out
}

// wantedServices hashes every service the profile selects.
func wantedServices(p *types.Project) (map[string]wanted, error) {
	resolved, err := p.WithServicesEnvironmentResolved(true)
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, fmt.Errorf("resolve the services' environment: %w", err))
	}
	out := map[string]wanted{}
	for name, svc := range resolved.Services {
		h, err := serviceHash(svc)
		if err != nil {
			return nil, err
		}
		out[name] = wanted{hash: h, svc: svc}
	}
	return out, nil
}

// observe lists the project's containers by service, leaving out one-off
// containers (compose run), which are the user's.
func (s *Stack) observe(ctx context.Context) (map[string][]docker.Container, error) {
	list, err := s.Engine.ProjectContainers(ctx, s.l.Options.Project)
	if err != nil {
		return nil, exitcode.With(exitcode.Unavailable, err)
	}
	out := map[string][]docker.Container{}
	for _, c := range list {
		if !c.Oneoff {
			out[c.Service] = append(out[c.Service], c)
		}
	}
	return out, nil
}

// plan compares the running containers with the wanted services and decides
// an action for each service of the given stages, and — when removals is set
// — for every container of a service the run does not want.
func (s *Stack) plan(ctx context.Context, running map[string][]docker.Container, steps []int, removals bool) (Plan, error) {
	var p Plan
	oneShots := map[string]bool{}
	for _, name := range health.OneShots(s.Project.Project) {
		oneShots[name] = true
	}
	images := map[string]string{}
	for _, i := range steps {
		step := s.steps[i]
		for _, name := range step.Services {
			w, ok := s.wanted[name]
			if !ok {
				continue
			}
			ch, err := s.decide(ctx, name, w, running[name], oneShots[name], images)
			if err != nil {
				return Plan{}, err
			}
			ch.Stage = step.Name
			p.Changes = append(p.Changes, ch)
		}
	}
	if !removals {
		return p, nil
	}
	for _, name := range slices.Sorted(maps.Keys(running)) {
		if _, ok := s.wanted[name]; ok {
			continue
		}
		ch := Change{Service: name, Action: Remove, Containers: ids(running[name])}
		switch {
		case slices.Contains(s.allServices, name):
			ch.Reasons = []string{s.outOfProfile(name)}
		default:
			ch.Reasons = []string{"no longer in the compose files"}
		}
		p.Changes = append(p.Changes, ch)
	}
	return p, nil
}

// outOfProfile says why a service the files define is not wanted.
func (s *Stack) outOfProfile(name string) string {
	if s.Profile.Name == "none" {
		return "not selected: profile none activates no compose profile"
	}
	return "not in profile " + s.Profile.Name
}

// decide is the action for one wanted service given its containers.
func (s *Stack) decide(ctx context.Context, name string, w wanted, cs []docker.Container, oneShot bool, images map[string]string) (Change, error) {
	ch := Change{Service: name, Containers: ids(cs)}
	if len(cs) == 0 {
		ch.Action, ch.Reasons = Create, []string{"no container yet"}
		return ch, nil
	}
	var stale []docker.Container
	for _, c := range cs {
		if c.Labels[LabelConfigHash] != w.hash {
			stale = append(stale, c)
		}
	}
	if len(stale) > 0 {
		ch.Action = Recreate
		reasons, vars, err := s.why(ctx, w, stale[0])
		if err != nil {
			return Change{}, err
		}
		ch.Reasons, ch.Variables = reasons, vars
		return ch, nil
	}
	if len(w.files) > 0 {
		reasons, vars, err := s.changedFiles(ctx, cs, w.files)
		if err != nil {
			return Change{}, err
		}
		if len(reasons) > 0 {
			ch.Action, ch.Reasons, ch.Variables = Recreate, reasons, vars
			return ch, nil
		}
	}
	if w.svc.Image != "" {
		id, ok := images[w.svc.Image]
		if !ok {
			var err error
			if id, err = s.Engine.ImageID(ctx, w.svc.Image); err != nil {
				return Change{}, exitcode.With(exitcode.Unavailable, err)
			}
			images[w.svc.Image] = id
		}
		for _, c := range cs {
			if id != "" && c.ImageID != id {
				ch.Action, ch.Reasons = Recreate, []string{"image " + w.svc.Image + " changed: a newer local image"}
				return ch, nil
			}
		}
	}
	for _, c := range cs {
		switch c.State {
		case "running", "restarting", "paused":
		case "exited":
			if !oneShot {
				ch.Action, ch.Reasons = Start, []string{"stopped"}
				return ch, nil
			}
		case "created":
			ch.Action, ch.Reasons = Start, []string{"created but not started"}
			return ch, nil
		default: // dead, removing
			ch.Action, ch.Reasons = Recreate, []string{"container is " + c.State}
			return ch, nil
		}
	}
	ch.Action, ch.Reasons = Keep, []string{"unchanged"}
	if oneShot && cs[0].State == "exited" {
		ch.Reasons = []string{"unchanged; a one-shot job that has run"}
	}
	return ch, nil
}

// why explains a changed configuration hash: the image, the variables whose
// values differ from the container's, or the configuration as such. Only
// names are compared out loud; values stay in memory.
func (s *Stack) why(ctx context.Context, w wanted, c docker.Container) ([]string, []Variable, error) {
	if c.Labels[LabelConfigHash] == "" {
		return []string{"created without startsvc's configuration hash"}, nil, nil
	}
	res, err := s.Engine.Client().ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		return nil, nil, exitcode.With(exitcode.Unavailable, fmt.Errorf("inspect container %s: %w", c.Name, err))
	}
	var reasons []string
	cfg := res.Container.Config
	if cfg != nil && cfg.Image != w.svc.Image {
		reasons = append(reasons, fmt.Sprintf("image changed (%s → %s)", cfg.Image, w.svc.Image))
	}
	have := map[string]string{}
	if cfg != nil {
		for _, kv := range cfg.Env {
			k, v, _ := strings.Cut(kv, "=")
			have[k] = v
		}
	}
	// A key newly delivered as a file: its variable naming the file is
	// startsvc's, not the compose file's.
	fileEnv := map[string]bool{}
	for _, f := range w.files {
		fileEnv[f.FileEnv] = true
		if _, inEnv := have[f.Key]; inEnv || have[f.FileEnv] != f.Path() {
			reasons = append(reasons, f.Key+" is now delivered as a file ("+stack.FileSecretsFile+")")
		}
	}
	var changedKeys []string
	for _, k := range slices.Sorted(maps.Keys(w.svc.Environment)) {
		if fileEnv[k] {
			continue
		}
		v := w.svc.Environment[k]
		want := ""
		if v != nil {
			want = *v
		}
		if got, ok := have[k]; !ok || got != want {
			changedKeys = append(changedKeys, k)
		}
	}
	vars, err := s.variablesBehind(ctx, w.svc.Name, changedKeys)
	if err != nil {
		return nil, nil, err
	}
	if len(vars) > 0 {
		names := make([]string, 0, len(vars))
		for _, v := range vars {
			names = append(names, v.Name+" ("+v.Source+")")
		}
		reasons = append(reasons, "variables changed: "+strings.Join(names, ", "))
	}
	if len(reasons) == 0 {
		reasons = append(reasons, "configuration changed")
	}
	return reasons, vars, nil
}

// variablesBehind maps environment keys of a service to the project
// variables their values come from (the ${VAR} they interpolate; the key
// itself for a bare name or an env_file entry), with each variable's source.
func (s *Stack) variablesBehind(ctx context.Context, service string, keys []string) ([]Variable, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	if s.envRefs == nil {
		refs, err := compose.EnvironmentVariables(ctx, s.spec())
		if err != nil {
			return nil, err
		}
		s.envRefs = refs
	}
	seen := map[string]bool{}
	var out []Variable
	for _, k := range keys {
		names, ok := s.envRefs[service][k]
		if !ok {
			names = []string{k}
		}
		if len(names) == 0 {
			if !seen["\x00"+k] {
				seen["\x00"+k] = true
				out = append(out, Variable{Name: k, Source: "compose file"})
			}
			continue
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				out = append(out, Variable{Name: n, Source: s.source(n)})
			}
		}
	}
	return out, nil
}

// source says where a variable's value comes from.
func (s *Stack) source(name string) string {
	switch s.resolved.Origin[name] {
	case secrets.FromRemote:
		return "Infisical"
	case secrets.FromEnvFile:
		return filepath.Base(s.envFile)
	}
	if _, ok := secrets.EnvMap(s.l.Env.Environ)[name]; ok {
		return "shell"
	}
	return "default"
}

func ids(cs []docker.Container) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		id := c.ID
		if len(id) > 12 {
			id = id[:12]
		}
		out = append(out, id)
	}
	return out
}
