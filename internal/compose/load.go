package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
	"go.yaml.in/yaml/v4"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/startsvc/startsvc/internal/exitcode"
)

// Spec says which compose project to load and with what, the same things
// startsvc passes on compose's command line.
type Spec struct {
	Name     string   // project name (-p)
	Dir      string   // project directory (--project-directory); relative paths in files resolve here
	Files    []string // compose files (-f), absolute or relative to Dir
	Profiles []string // active compose profiles (--profile)
	// Env is every variable compose will see for interpolation: its process
	// environment and its --env-file, already merged by the caller.
	Env map[string]string
}

// Project is a loaded compose project.
type Project struct {
	*types.Project
	// Defined lists every profile any service declares, sorted.
	Defined []string
}

// Active reports the names of the services the active profiles select, sorted.
func (p *Project) Active() []string {
	names := slices.Collect(maps.Keys(p.Services))
	sort.Strings(names)
	return names
}

// Load reads the compose files as compose itself will for spec: interpolated with
// spec.Env (never this process's environment), validated, profiles applied. A file
// that does not parse or validate, or a required variable without a value, is a
// usage error (exit 2) that names the file or the variable.
func Load(ctx context.Context, spec Spec) (*Project, error) {
	quietLoader()
	opts, err := projectOptions(spec, true)
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, err)
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, fmt.Errorf("load compose files: %w", err))
	}
	out := &Project{Project: p}
	seen := map[string]bool{}
	for _, s := range p.AllServices() {
		for _, prof := range s.Profiles {
			if !seen[prof] {
				seen[prof] = true
				out.Defined = append(out.Defined, prof)
			}
		}
	}
	sort.Strings(out.Defined)
	return out, nil
}

// Variable is a variable a compose file references.
type Variable struct {
	Name       string
	HasDefault bool // ${X:-d} or ${X-d}: compose has a value even when nothing sets it
	Required   bool // ${X:?msg} or ${X?msg}: compose refuses to load without it
}

// Variables lists every variable the compose files of spec reference, whatever
// the profiles, without interpolating anything; sorted by name.
func Variables(ctx context.Context, spec Spec) ([]Variable, error) {
	quietLoader()
	opts, err := projectOptions(spec, false)
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, err)
	}
	model, err := opts.LoadModel(ctx)
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, fmt.Errorf("load compose files: %w", err))
	}
	vars := template.ExtractVariables(model, template.DefaultPattern)
	out := make([]Variable, 0, len(vars))
	for _, v := range vars {
		out = append(out, Variable{Name: v.Name, HasDefault: v.DefaultValue != "", Required: v.Required})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func projectOptions(spec Spec, interpolate bool) (*cli.ProjectOptions, error) {
	if len(spec.Files) == 0 {
		return nil, errors.New("no compose file given")
	}
	env := make([]string, 0, len(spec.Env))
	for k, v := range spec.Env {
		env = append(env, k+"="+v)
	}
	fns := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(spec.Dir),
		cli.WithEnv(env),
		cli.WithInterpolation(interpolate),
		cli.WithProfiles(spec.Profiles),
	}
	if spec.Name != "" {
		fns = append(fns, cli.WithName(spec.Name))
	}
	if !interpolate {
		fns = append(fns, cli.WithNormalization(false), cli.WithConsistency(false), cli.WithResolvedPaths(false))
	}
	return cli.NewProjectOptions(spec.Files, fns...)
}

// Select returns the project with only the services the given compose profiles
// activate (and those without a profile).
func (p *Project) Select(profiles []string) (*Project, error) {
	sel, err := p.Project.WithProfiles(profiles)
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, fmt.Errorf("select profiles: %w", err))
	}
	return &Project{Project: sel, Defined: p.Defined}, nil
}

// Feature is a compose file feature that needs a minimum compose release.
type Feature struct {
	Name    string
	Version Version
}

// Features that appear in compose files and need a newer compose than MinVersion.
var (
	FeatureInclude  = Feature{"include:", Version{2, 20, 0}}
	FeatureOverride = Feature{"the !override and !reset tags", Version{2, 24, 4}}
	// FeatureFileSecrets is what delivering keys as files needs: secrets
	// sourced from a project variable that a non-root user can read (2.19.0,
	// docker/compose#10595), and the removal of one variable from a service's
	// environment with !reset (2.24.4).
	FeatureFileSecrets = Feature{"file-delivered secrets", Version{2, 24, 4}}
)

// Needs returns the features used by files (and by the files they include,
// which compose-go lists among a loaded project's ComposeFiles).
func Needs(files []string) []Feature {
	var out []Feature
	include, override := false, false
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var top map[string]any
		if !include && yaml.Unmarshal(data, &top) == nil {
			_, include = top["include"]
		}
		if !override && (bytes.Contains(data, []byte("!override")) || bytes.Contains(data, []byte("!reset"))) {
			override = true
		}
	}
	if include {
		out = append(out, FeatureInclude)
	}
	if override {
		out = append(out, FeatureOverride)
	}
	return out
}

var quietOnce sync.Once

// quietLoader stops compose-go from writing warnings ("variable is not set")
// to the process's standard error through its global logger: startsvc reports
// such things itself, and compose repeats them when it runs.
func quietLoader() {
	quietOnce.Do(func() { logrus.SetOutput(io.Discard) })
}

// EnvironmentVariables maps, for every service of the files of spec, each key
// of its environment: section to the variables its value interpolates, read
// from the files without interpolating anything. A bare name (`- KEY` or
// `KEY:` without a value) maps to itself: compose takes it from the project's
// environment. Keys an env_file supplies are not listed.
func EnvironmentVariables(ctx context.Context, spec Spec) (map[string]map[string][]string, error) {
	quietLoader()
	opts, err := projectOptions(spec, false)
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, err)
	}
	model, err := opts.LoadModel(ctx)
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, fmt.Errorf("load compose files: %w", err))
	}
	out := map[string]map[string][]string{}
	services, _ := model["services"].(map[string]any)
	for name, raw := range services {
		svc, _ := raw.(map[string]any)
		refs := map[string][]string{}
		out[name] = refs
		entry := func(key string, value any) {
			str, ok := value.(string)
			if value == nil || !ok {
				if value == nil {
					refs[key] = []string{key}
				} else {
					refs[key] = nil // a number or a boolean: a literal
				}
				return
			}
			vars := template.ExtractVariables(map[string]any{"v": str}, template.DefaultPattern)
			refs[key] = slices.Sorted(maps.Keys(vars))
		}
		switch env := svc["environment"].(type) {
		case map[string]any:
			for k, v := range env {
				entry(k, v)
			}
		case []any:
			for _, item := range env {
				s, _ := item.(string)
				if k, v, ok := strings.Cut(s, "="); ok {
					entry(k, v)
				} else if s != "" {
					entry(s, nil)
				}
			}
		}
	}
	return out, nil
}
