package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/docker"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/stack"
)

// plan is what a command that runs the project needs, established by preflight
// before anything changes.
type plan struct {
	layout  *stack.Layout
	profile stack.Profile
	cli     compose.CLI
	engine  *docker.Engine
	project *compose.Project // the services the profile activates

	envFile    string // the stack's env file; may not exist
	hasEnvFile bool
	resolved   *secrets.Resolved
	via        secrets.Via
	composeEnv []string // compose's process environment
	skipped    []string // reserved names the sources tried to set
}

// close releases the Engine connection.
func (p *plan) close() {
	if p.engine != nil {
		p.engine.Close()
	}
}

// handoverPath is where the hand-over file lives while compose needs it.
func (p *plan) handoverPath() string { return filepath.Join(p.layout.Dir, secrets.FileName) }

// preflightOptions say which checks a command needs.
type preflightOptions struct {
	// variablesOnly stops after the variables are resolved: no Engine, no
	// compose CLI, no compose files (export, run).
	variablesOnly bool
	requirements  bool // check the profile's machine requirements
}

// preflight resolves settings and checks, changing nothing, that the project can
// run: the stack layout, the Engine, the compose CLI, the env file, the compose
// files with every required variable, the profile and its requirements. A
// hand-over file left by a killed run is removed on the way.
func preflight(ctx context.Context, d *deps, g *globalOptions, po preflightOptions) (_ *plan, err error) {
	p := &plan{via: secrets.Via(g.SecretsVia)}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if p.layout, err = stack.Open(absDir(d, g), g.Files, g.Environment); err != nil {
		if !po.variablesOnly {
			return nil, err
		}
		// export and run work in any folder that has an env file.
		p.layout = &stack.Layout{Dir: absDir(d, g)}
	}
	if removed, err := secrets.RemoveStale(p.handoverPath()); err != nil {
		return nil, exitcode.With(exitcode.Usage, err)
	} else if removed {
		g.ui.Warn("removed %s left behind by an earlier run that was killed", p.handoverPath())
	}
	if po.variablesOnly {
		if err := p.resolveVariables(ctx, d, g); err != nil {
			return nil, err
		}
		return p, nil
	}

	if p.engine, err = docker.Connect(d.env.Getenv); err != nil {
		return nil, err
	}
	if err := p.engine.Ping(ctx); err != nil {
		return nil, err
	}
	finder := d.finder(g, true)
	if p.cli, err = finder.Find(ctx); err != nil {
		return nil, err
	}
	g.ui.Detail("compose: %s %s; engine at %s", p.cli.Name(), p.cli.Version, p.engine.Host())

	if err := p.resolveVariables(ctx, d, g); err != nil {
		return nil, err
	}
	if err := p.loadProject(ctx, d, g, po); err != nil {
		return nil, err
	}
	return p, nil
}

// resolveVariables reads the env file and the secret sources and decides what
// compose's environment is.
func (p *plan) resolveVariables(_ context.Context, d *deps, g *globalOptions) error {
	p.envFile = g.EnvFile
	if !filepath.IsAbs(p.envFile) {
		p.envFile = filepath.Join(p.layout.Dir, p.envFile)
	}
	shell := secrets.EnvMap(d.env.Environ)
	var fileVals map[string]string
	data, err := os.ReadFile(p.envFile)
	switch {
	case errors.Is(err, fs.ErrNotExist) && g.EnvFile == ".env":
		g.ui.Detail("no %s: variables come from the shell and Infisical only", p.envFile)
	case err != nil:
		return exitcode.Usagef("env file: %w", err)
	default:
		p.hasEnvFile = true
		// First pass: the file's own keys, and its syntax errors.
		own, err := compose.ParseEnv(p.envFile, data, nil)
		if err != nil {
			return exitcode.With(exitcode.Usage, err)
		}
		// Second pass, as compose will read it: a reference resolves through
		// compose's process environment, which will no longer hold the keys the
		// file itself supplies, then through the file's earlier lines.
		lookup := func(k string) (string, bool) {
			if _, mine := own[k]; mine && !secrets.Reserved(k) {
				return "", false
			}
			v, ok := shell[k]
			return v, ok
		}
		if fileVals, err = compose.ParseEnv(p.envFile, data, lookup); err != nil {
			return exitcode.With(exitcode.Usage, err)
		}
	}
	p.resolved = secrets.Merge(fileVals, nil)
	g.redactor.Add(p.resolved.Masked...)
	p.composeEnv, p.skipped = secrets.ComposeEnv(d.env.Environ, p.resolved.Values, p.via)
	for _, k := range p.skipped {
		g.ui.Warn("%s is set in %s but startsvc never overrides %s in compose's environment; the shell's value stays",
			k, filepath.Base(p.envFile), k)
	}
	return nil
}

// interpolationEnv is every variable compose will see when it interpolates the
// compose files: its process environment plus what the env file supplies.
func (p *plan) interpolationEnv() map[string]string {
	env := secrets.EnvMap(p.composeEnv)
	for k, v := range p.resolved.Values {
		if _, set := env[k]; !set {
			env[k] = v
		}
	}
	return env
}

func (p *plan) loadProject(ctx context.Context, d *deps, g *globalOptions, po preflightOptions) error {
	all, err := compose.Load(ctx, compose.Spec{
		Name:     g.Project,
		Dir:      p.layout.Dir,
		Files:    p.layout.Files,
		Profiles: []string{"*"},
		Env:      p.interpolationEnv(),
	})
	if err != nil {
		return explainLoadError(err, p.layout.Dir, p.layout.Files)
	}
	if usesInclude(all) && !p.cli.Version.AtLeast(compose.IncludeVersion.Major, compose.IncludeVersion.Minor, compose.IncludeVersion.Patch) {
		return exitcode.With(exitcode.Unavailable, fmt.Errorf("the compose files use include:, which needs compose >= %s; %s is %s",
			compose.IncludeVersion, p.cli.Name(), p.cli.Version))
	}
	name := g.Profile
	if !g.profileSet {
		name = p.layout.DefaultProfile(all.Defined)
	}
	if name == stack.ProfileAuto {
		if name, err = p.autoProfile(ctx, all.Defined); err != nil {
			return err
		}
		g.ui.Info("profile auto: using %s", name)
	}
	if p.profile, err = p.layout.Resolve(name, all.Defined); err != nil {
		return err
	}
	if po.requirements {
		if err := p.checkRequirements(ctx, p.profile); err != nil {
			return err
		}
	}
	if p.project, err = all.Select(p.profile.Compose); err != nil {
		return err
	}
	return nil
}

func usesInclude(p *compose.Project) bool {
	return compose.UsesInclude(p.ComposeFiles)
}

// machine describes this machine for profile requirements.
func (p *plan) machine(ctx context.Context) (stack.Machine, error) {
	facts, err := p.engine.Facts(ctx)
	if err != nil {
		return stack.Machine{}, err
	}
	return stack.Machine{Runtimes: facts.Runtimes, HasDevice: func(path string) bool {
		_, err := os.Stat(path)
		return err == nil
	}}, nil
}

func (p *plan) autoProfile(ctx context.Context, defined []string) (string, error) {
	m, err := p.machine(ctx)
	if err != nil {
		return "", err
	}
	return p.layout.Auto(m, defined), nil
}

func (p *plan) checkRequirements(ctx context.Context, prof stack.Profile) error {
	if prof.Requires.Runtime == "" && len(prof.Requires.Devices) == 0 {
		return nil
	}
	m, err := p.machine(ctx)
	if err != nil {
		return err
	}
	if missing := stack.Missing(prof.Requires, m); len(missing) > 0 {
		return exitcode.Usagef("profile %s cannot run on this machine: %s", prof.Name, strings.Join(missing, "; "))
	}
	return nil
}

var requiredVar = regexp.MustCompile(`required variable (\S+) is missing a value`)

// explainLoadError adds to compose-go's message for a missing required variable
// which file asks for it and where values come from.
func explainLoadError(err error, dir string, files []string) error {
	m := requiredVar.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	name := m[1]
	var where []string
	for _, f := range files {
		data, rerr := os.ReadFile(f)
		if rerr == nil && (strings.Contains(string(data), "${"+name+":?") || strings.Contains(string(data), "${"+name+"?")) {
			if r, rerr := filepath.Rel(dir, f); rerr == nil {
				f = r
			}
			where = append(where, f)
		}
	}
	msg := fmt.Sprintf("variable %s is required", name)
	if len(where) > 0 {
		msg += " by " + strings.Join(where, ", ")
	}
	return exitcode.With(exitcode.Usage, fmt.Errorf("%s but has no value: set it in .env, Infisical or the shell\n(%w)", msg, err))
}
