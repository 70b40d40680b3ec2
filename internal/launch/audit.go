package launch

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/envgen"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/stack"
)

// The places audit reads. The first five are fields of a container as
// `docker inspect` shows it; PlaceConfig is the resolved configuration that
// `startsvc config` prints masked, which compose creates containers from.
const (
	PlaceEnv         = "Config.Env"
	PlaceLabels      = "Config.Labels"
	PlaceCmd         = "Config.Cmd"
	PlaceEntrypoint  = "Config.Entrypoint"
	PlaceHealthcheck = "Config.Healthcheck.Test"
	PlaceConfig      = "config"
)

// Exposure is one place where the value of a secret can be read. It names
// variables, keys and places, never a value.
type Exposure struct {
	Service string `json:"service"`
	// Container is the container's name; empty for PlaceConfig.
	Container string `json:"container,omitempty"`
	Place     string `json:"place"`
	// Field is where in the place: the variable of Config.Env, the label, the
	// argument ("[2]"), or the path in the configuration ("environment.KEY").
	Field string `json:"field"`
	// Secrets are the variables whose values appear there; empty when a key
	// declared as a file is there whatever its value.
	Secrets []string `json:"secrets"`
	// Exposed is true when the value is there outside the channel the stack
	// declares for it (see Audit); false for a key file-secrets.yml keeps in
	// the environment on purpose (env_only).
	Exposed bool   `json:"exposed"`
	Reason  string `json:"reason"`
}

// AuditReport is what Audit found.
type AuditReport struct {
	Containers int `json:"containers"`
	// Values is how many distinct secret values were looked for.
	Values   int        `json:"values"`
	Findings []Exposure `json:"findings"`
}

// Exposed counts the findings outside their declared channel.
func (r *AuditReport) Exposed() int {
	n := 0
	for _, f := range r.Findings {
		if f.Exposed {
			n++
		}
	}
	return n
}

// Audit reports where secret values can be read without entering a
// container: in every container of the project (Config.Env, labels,
// command, entrypoint, healthcheck) and in the resolved configuration of the
// selected services. The secret values are those startsvc masks: every
// Infisical value, every env-file value whose name or shape says it is a
// secret or that init generates, such shell variables, and every
// file-delivered value; values shorter than secrets.MinMasked bytes are not
// looked for.
//
// A finding is exposed (outside the channel the stack declares) when:
//   - a key file-secrets.yml delivers as a file is in the service's
//     environment, whatever its value;
//   - a secret value is in any other variable of the environment, unless
//     file-secrets.yml lists that variable under env_only for the service
//     (then it is reported, not exposed);
//   - a secret value is in a label, the command, the entrypoint or the
//     healthcheck: no channel may carry one there.
//
// It changes nothing and never reads a file inside a container.
func (s *Stack) Audit(ctx context.Context) (*AuditReport, error) {
	rules, err := loadRules(s.Layout.Dir)
	if err != nil {
		return nil, err
	}
	known := s.knownSecrets()
	rep := &AuditReport{Values: len(known), Findings: []Exposure{}}
	list, err := s.Engine.ProjectContainers(ctx, s.l.Options.Project)
	if err != nil {
		return nil, exitcode.With(exitcode.Unavailable, err)
	}
	for _, c := range list {
		res, err := s.Engine.Client().ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			return nil, exitcode.With(exitcode.Unavailable, fmt.Errorf("inspect container %s: %w", c.Name, err))
		}
		view := containerView{Service: c.Service, Name: c.Name}
		if cfg := res.Container.Config; cfg != nil {
			view.Env, view.Labels, view.Cmd, view.Entrypoint = cfg.Env, cfg.Labels, cfg.Cmd, cfg.Entrypoint
			if cfg.Healthcheck != nil {
				view.Healthcheck = cfg.Healthcheck.Test
			}
		}
		rep.Containers++
		rep.Findings = append(rep.Findings, auditContainer(view, known, rules)...)
	}
	for _, name := range slices.Sorted(maps.Keys(s.wanted)) {
		found, err := auditConfig(name, s.wanted[name].svc, known, rules)
		if err != nil {
			return nil, err
		}
		rep.Findings = append(rep.Findings, found...)
	}
	for i := range rep.Findings {
		if rep.Findings[i].Secrets == nil {
			rep.Findings[i].Secrets = []string{}
		}
	}
	return rep, nil
}

// knownSecrets are the values audit looks for, by value.
func (s *Stack) knownSecrets() secretSet {
	set := secretSet{}
	generated := envgen.Keys()
	for k, v := range s.resolved.Values {
		if s.resolved.Origin[k] == secrets.FromRemote || slices.Contains(generated, k) || secrets.LooksSecret(k, v) {
			set.add(k, v)
		}
	}
	for k, v := range secrets.EnvMap(s.l.Env.Environ) {
		if _, supplied := s.resolved.Values[k]; !supplied && !secrets.Reserved(k) && secrets.LooksSecret(k, v) {
			set.add(k, v)
		}
	}
	for _, f := range s.fileSecrets {
		set.add(f.Key, f.value)
	}
	return set
}

// secretSet maps each secret value to the variables that hold it.
type secretSet map[string][]string

func (set secretSet) add(name, value string) {
	if len(value) >= secrets.MinMasked && !slices.Contains(set[value], name) {
		set[value] = append(set[value], name)
	}
}

// in names the variables whose values text contains, sorted.
func (set secretSet) in(text string) []string {
	var out []string
	for v, names := range set {
		if strings.Contains(text, v) {
			out = append(out, names...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// name is a key or label as audit may print it: hidden when it holds a
// secret value itself.
func (set secretSet) name(key string) string {
	if len(set.in(key)) > 0 {
		return "(a name holding a secret value)"
	}
	return key
}

// rules are the channels file-secrets.yml declares.
type rules struct {
	files   stack.FileSecrets
	envOnly stack.EnvOnly
}

func loadRules(dir string) (rules, error) {
	files, err := stack.LoadFileSecrets(dir)
	if err != nil {
		return rules{}, err
	}
	envOnly, err := stack.LoadEnvOnly(dir)
	if err != nil {
		return rules{}, err
	}
	return rules{files: files, envOnly: envOnly}, nil
}

// asFile reports whether service takes key as a file.
func (r rules) asFile(service, key string) bool {
	return slices.ContainsFunc(r.files.For(service), func(f stack.FileSecret) bool { return f.Key == key })
}

// env judges a variable of a service's environment that holds the secret
// values names (none: only its key matters). ok is false when nothing is
// to report.
func (r rules) env(e Exposure, key string, names []string) (Exposure, bool) {
	e.Secrets = names
	switch {
	case r.asFile(e.Service, key):
		e.Exposed, e.Reason = true, stack.FileSecretsFile+" delivers "+key+" as a file, but it is in the environment"
	case len(names) == 0:
		return e, false
	case r.envOnly.Has(e.Service, key):
		e.Reason = "kept in the environment on purpose (env_only in " + stack.FileSecretsFile + "): docker inspect shows it"
	default:
		e.Exposed, e.Reason = true, "in the environment, which docker inspect shows: declare "+key+" in "+stack.FileSecretsFile+
			" as a file (when the image reads "+key+"_FILE) or under env_only"
	}
	return e, true
}

// elsewhere judges a secret value outside the environment.
func elsewhere(e Exposure, names []string) Exposure {
	e.Secrets, e.Exposed = names, true
	e.Reason = "no channel may carry a secret here: docker inspect shows it"
	if e.Place == PlaceCmd || e.Place == PlaceEntrypoint {
		e.Reason = "on the command line, which docker inspect and the host's process list show"
	}
	return e
}

// containerView is what audit reads of a container.
type containerView struct {
	Service, Name                string
	Env                          []string
	Labels                       map[string]string
	Cmd, Entrypoint, Healthcheck []string
}

// auditContainer finds the secret values of one container.
func auditContainer(c containerView, known secretSet, r rules) []Exposure {
	var out []Exposure
	at := func(place, field string) Exposure {
		return Exposure{Service: c.Service, Container: c.Name, Place: place, Field: field}
	}
	for _, kv := range c.Env {
		k, v, _ := strings.Cut(kv, "=")
		if e, ok := r.env(at(PlaceEnv, known.name(k)), k, known.in(v)); ok {
			out = append(out, e)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
		if names := known.in(k + "=" + c.Labels[k]); len(names) > 0 {
			out = append(out, elsewhere(at(PlaceLabels, known.name(k)), names))
		}
	}
	for _, list := range []struct {
		place string
		args  []string
	}{{PlaceEntrypoint, c.Entrypoint}, {PlaceCmd, c.Cmd}, {PlaceHealthcheck, c.Healthcheck}} {
		for i, a := range list.args {
			if names := known.in(a); len(names) > 0 {
				out = append(out, elsewhere(at(list.place, "["+strconv.Itoa(i)+"]"), names))
			}
		}
	}
	return out
}

// auditConfig finds the secret values of one service of the resolved
// configuration: its environment under the same rules as a container's,
// any other field as exposed.
func auditConfig(name string, svc any, known secretSet, r rules) ([]Exposure, error) {
	data, err := json.Marshal(svc)
	if err != nil {
		return nil, fmt.Errorf("audit the configuration: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("audit the configuration: %w", err)
	}
	at := func(field string) Exposure { return Exposure{Service: name, Place: PlaceConfig, Field: field} }
	var out []Exposure
	env, _ := doc["environment"].(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(env)) {
		v, _ := env[k].(string)
		if e, ok := r.env(at("environment."+known.name(k)), k, known.in(v)); ok {
			out = append(out, e)
		}
	}
	delete(doc, "environment")
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case string:
			if names := known.in(x); len(names) > 0 {
				out = append(out, elsewhere(at(path), names))
			}
		case []any:
			for i, e := range x {
				walk(path+"["+strconv.Itoa(i)+"]", e)
			}
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				p := known.name(k)
				if path != "" {
					p = path + "." + p
				}
				if names := known.in(k); len(names) > 0 {
					out = append(out, elsewhere(at(p), names))
				}
				walk(p, x[k])
			}
		}
	}
	walk("", doc)
	return out, nil
}
