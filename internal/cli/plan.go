package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/docker"
	"github.com/startsvc/startsvc/internal/envgen"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/lock"
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

	settings     infisical.Settings
	inStack      bool         // Infisical runs inside this stack: its stage may come first
	fetched      bool         // the Infisical phase has run
	placeholders []string     // required variables loaded with a stand-in until secrets are fetched
	steps        []stack.Step // the bring-up in order
	allServices  []string     // every service of the files, whatever the profile
	projectName  string
	lock         *lock.Lock // held by commands that change the project
}

// close releases the Engine connection.
func (p *plan) close() {
	if p.engine != nil {
		p.engine.Close()
	}
	p.lock.Release()
}

// handoverPath is where the hand-over file lives while compose needs it.
func (p *plan) handoverPath() string { return filepath.Join(p.layout.Dir, secrets.FileName) }

// preflightOptions say which checks a command needs.
type preflightOptions struct {
	// variablesOnly stops after the variables are resolved: no Engine, no
	// compose CLI, no compose files (export, run).
	variablesOnly bool
	requirements  bool // check the profile's machine requirements
	// lock makes the command wait for, then hold, the project's lock: it
	// changes the project, and must not interleave with another startsvc.
	lock bool
	// prepare runs the stack's preparation steps (prepareStack) once the
	// Engine and compose are known good, before the compose files are loaded:
	// the shipped stack includes a folder that the first step clones.
	prepare bool
	// deferSecrets lets the Infisical phase wait until the stage that starts an
	// in-stack Infisical is ready (up); every other command fetches at once.
	deferSecrets bool
}

// preflight resolves settings and checks, changing nothing, that the project can
// run: the stack layout, the Engine, the compose CLI, the env file, the compose
// files with every required variable, the profile and its requirements. A
// hand-over file left by a killed run is removed on the way.
func preflight(ctx context.Context, d *deps, g *globalOptions, po preflightOptions) (_ *plan, err error) {
	p := &plan{via: secrets.Via(g.SecretsVia), projectName: g.Project}
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
	p.envFile = g.EnvFile
	if !filepath.IsAbs(p.envFile) {
		p.envFile = filepath.Join(p.layout.Dir, p.envFile)
	}
	if po.lock {
		if p.lock, err = acquireLock(ctx, d, g); err != nil {
			return nil, err
		}
	}
	if err := removeStale(d, g, p.handoverPath(), p.lock != nil); err != nil {
		return nil, err
	}
	if po.variablesOnly {
		if err := p.resolveVariables(ctx, d, g); err != nil {
			return nil, err
		}
		return p, nil
	}

	if p.engine, err = docker.Open(ctx, d.env.Getenv); err != nil {
		return nil, err
	}
	finder := d.finder(g, true)
	if p.cli, err = finder.Find(ctx); err != nil {
		return nil, err
	}
	g.ui.Detail("compose: %s %s; engine at %s", p.cli.Name(), p.cli.Version, p.engine.Host())
	if po.prepare && p.layout.Conventional {
		if _, err := prepareStack(ctx, d, g, prepareOptions{}); err != nil {
			return nil, err
		}
	}

	if err := p.resolveSettings(d, g); err != nil {
		return nil, err
	}
	if !p.inStack {
		// The usual case: secrets first, then one strict load.
		if err := p.resolveVariables(ctx, d, g); err != nil {
			return nil, err
		}
		if err := p.loadProject(ctx, d, g, po, false); err != nil {
			return nil, err
		}
		return p, p.planStages(g)
	}
	// Infisical may run inside this stack: load with .env alone, required
	// variables it may supply standing in, and see whether its stage comes first.
	if err := p.mergeVariables(d, g, nil); err != nil {
		return nil, err
	}
	if err := p.loadProject(ctx, d, g, po, true); err != nil {
		return nil, err
	}
	if err := p.planStages(g); err != nil {
		return nil, err
	}
	if po.deferSecrets && p.fetchStep() >= 0 {
		if err := p.checkEarlyStages(); err != nil {
			return nil, err
		}
		g.ui.Detail("Infisical runs in this stack: secrets are fetched once stage %q is ready", p.steps[p.fetchStep()].Name)
		return p, nil
	}
	if err := p.fetchSecrets(ctx, d, g); err != nil {
		return nil, err
	}
	return p, nil
}

// resolveSettings reads the Infisical settings (no network) and decides
// whether Infisical runs inside the stack: its URL names this machine and the
// stack has a stages file that can start it first.
func (p *plan) resolveSettings(d *deps, g *globalOptions) error {
	if g.SkipInfisical {
		return nil
	}
	s, err := infisical.ResolveSettings(infisical.FlagValues{
		URL: g.InfisicalURL, ProjectID: g.InfisicalProject, Environment: g.InfisicalEnv,
		SecretPath: g.SecretPath, Recursive: g.Recursive,
	}, d.env.Getenv, p.layout.Dir)
	if err != nil {
		return exitcode.With(exitcode.Usage, err)
	}
	p.settings = s
	p.inStack = s.Configured() && stack.InfisicalInStack(p.layout, s.SiteURL)
	return nil
}

// checkEarlyStages refuses a plan in which a service that starts before the
// secrets are fetched uses a required variable that only Infisical could
// supply: it would start with the stand-in.
func (p *plan) checkEarlyStages() error {
	if len(p.placeholders) == 0 {
		return nil
	}
	for _, step := range p.steps[:p.fetchStep()+1] {
		for _, name := range step.Services {
			svc, ok := p.project.Services[name]
			if !ok {
				continue
			}
			data, err := yaml.Marshal(svc)
			if err != nil {
				return err
			}
			if strings.Contains(string(data), placeholderValue) {
				return exitcode.Usagef("service %s starts in stage %q, before secrets are fetched from Infisical, but needs %s, "+
					"which has no value yet: put it in %s (the in-stack Infisical's own settings live there)",
					name, step.Name, strings.Join(p.placeholders, " or "), filepath.Base(p.envFile))
			}
		}
	}
	return nil
}

// earlyEnv is compose's environment before the secrets are fetched: the
// required variables Infisical will supply stand in, because compose refuses
// to load the files while any has no value — even for services it does not start.
func (p *plan) earlyEnv() []string {
	env := slices.Clone(p.composeEnv)
	for _, k := range p.placeholders {
		env = append(env, k+"="+placeholderValue)
	}
	return env
}

// fetchStep is the index of the step after which secrets are fetched, or -1
// when they are fetched before the first.
func (p *plan) fetchStep() int {
	for i, st := range p.steps {
		if st.FetchSecrets {
			return i
		}
	}
	return -1
}

// fetchSecrets runs the Infisical phase once and, with its values merged,
// loads the compose files again strictly: every required variable must now
// have a real value.
func (p *plan) fetchSecrets(ctx context.Context, d *deps, g *globalOptions) error {
	if p.fetched {
		return nil
	}
	p.fetched = true
	remote, err := p.fetchRemote(ctx, d, g)
	if err != nil {
		return err
	}
	if len(remote) == 0 && len(p.placeholders) == 0 {
		return nil
	}
	if err := p.mergeVariables(d, g, remote); err != nil {
		return err
	}
	all, err := p.load(ctx, false)
	if err != nil {
		return err
	}
	p.project, err = all.Select(p.profile.Compose)
	return err
}

// planStages orders the bring-up: stages.yml of a conventional stack, else one stage.
func (p *plan) planStages(g *globalOptions) error {
	stages := &stack.Stages{}
	if p.layout.Conventional {
		var err error
		if stages, err = stack.LoadStages(p.layout.Dir, p.allServices); err != nil {
			return err
		}
	}
	p.steps = stages.Plan(p.project.Active(), func(cond string) bool {
		return cond == stack.WhenInfisicalInStack && p.inStack
	})
	return nil
}

// resolveVariables reads the secret sources and the env file and decides what
// compose's environment is.
func (p *plan) resolveVariables(ctx context.Context, d *deps, g *globalOptions) error {
	p.fetched = true
	remote, err := p.fetchRemote(ctx, d, g)
	if err != nil {
		return err
	}
	return p.mergeVariables(d, g, remote)
}

// mergeVariables layers the env file under the remote values, and computes
// compose's environment from the result.
func (p *plan) mergeVariables(d *deps, g *globalOptions, remote map[string]string) error {
	shell := secrets.EnvMap(d.env.Environ)
	var fileVals map[string]string
	data, err := secrets.ReadFile(p.envFile, secrets.MaxEnvFile)
	switch {
	case errors.Is(err, fs.ErrNotExist) && g.EnvFile == ".env":
		g.ui.Detail("no %s: variables come from the shell and Infisical only", p.envFile)
	case err != nil:
		return exitcode.Usagef("env file: %w", err)
	default:
		p.hasEnvFile = true
		if fileVals, err = secrets.ReadEnvFile(p.envFile, data, shell, remote); err != nil {
			return exitcode.With(exitcode.Usage, err)
		}
	}
	for k, v := range remote {
		if err := compose.CheckValue(k, v); err != nil {
			return exitcode.With(exitcode.Infisical, fmt.Errorf("Infisical secret %w", err))
		}
		if err := compose.CheckKey(k); err != nil && p.via == secrets.ViaFile {
			return exitcode.With(exitcode.Infisical, fmt.Errorf("Infisical secret: %w; rename it, or use --secrets-via env", err))
		}
	}
	p.resolved = secrets.Merge(fileVals, remote)
	g.redactor.Add(p.resolved.Masked...)
	// What init generates is secret whatever its name says (POOLER_TENANT_ID).
	var generated []string
	for _, k := range envgen.Keys() {
		if v, ok := fileVals[k]; ok {
			generated = append(generated, v)
		}
	}
	g.redactor.Add(generated...)
	p.composeEnv, p.skipped = secrets.ComposeEnv(d.env.Environ, p.resolved.Values, p.via)
	g.redactor.Add(secrets.MaskedEnv(p.composeEnv, g.Project)...) // shell values compose interpolates and prints
	if err := secrets.CheckComposeEnv(p.via, p.composeEnv); err != nil {
		return err
	}
	for _, k := range p.skipped {
		g.ui.Warn("%s is set in %s but startsvc never overrides %s in compose's environment; the shell's value stays",
			k, p.resolved.Source(k, filepath.Base(p.envFile)), k)
	}
	return nil
}

// interpolationEnv is every variable compose will see when it interpolates the
// compose files: its process environment plus what the env file supplies.
func (p *plan) interpolationEnv() map[string]string {
	return secrets.InterpolationEnv(p.composeEnv, p.resolved.Values)
}

func (p *plan) loadProject(ctx context.Context, d *deps, g *globalOptions, po preflightOptions, lenient bool) error {
	all, err := p.load(ctx, lenient)
	if err != nil {
		return err
	}
	for _, f := range compose.Needs(append(slices.Clone(p.layout.Files), all.ComposeFiles...)) {
		if !p.cli.Version.AtLeast(f.Version.Major, f.Version.Minor, f.Version.Patch) {
			return exitcode.With(exitcode.Unavailable, fmt.Errorf("the compose files use %s, which needs compose >= %s; %s is %s: "+
				"upgrade the Docker Compose plugin (https://docs.docker.com/compose/install/)", f.Name, f.Version, p.cli.Name(), p.cli.Version))
		}
	}
	p.allServices = slices.Sorted(maps.Keys(all.AllServices()))
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

// placeholderValue stands in for a required variable that Infisical may
// supply once its in-stack server runs; the strict load after the fetch
// decides.
const placeholderValue = "startsvc-pending-infisical"

// load reads every service of the compose files. Lenient gives each required
// variable without a value a stand-in (remembered in placeholders).
func (p *plan) load(ctx context.Context, lenient bool) (*compose.Project, error) {
	spec := compose.Spec{
		Name:     p.projectName,
		Dir:      p.layout.Dir,
		Files:    p.layout.Files,
		Profiles: []string{"*"},
		Env:      p.interpolationEnv(),
	}
	p.placeholders = nil
	if lenient {
		vars, err := compose.Variables(ctx, spec)
		if err != nil {
			return nil, explainLoadError(err, p.layout.Dir, p.layout.Files)
		}
		for _, v := range vars {
			if _, set := spec.Env[v.Name]; v.Required && !set {
				spec.Env[v.Name] = placeholderValue
				p.placeholders = append(p.placeholders, v.Name)
			}
		}
	}
	all, err := compose.Load(ctx, spec)
	if err != nil {
		return nil, explainLoadError(err, p.layout.Dir, p.layout.Files)
	}
	return all, nil
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
	if strings.Contains(err.Error(), filepath.FromSlash(stack.SupabaseCompose)) && strings.Contains(err.Error(), "no such file") {
		return exitcode.With(exitcode.Usage, fmt.Errorf("%w\nthe stack includes Supabase's compose file, which is not there yet: "+
			"`startsvc prepare` (or `startsvc up`) clones it", err))
	}
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

// fetchRemote applies the Infisical policy: skipped or not configured means
// the env file alone (said once); unreachable means a warning naming the cause
// and the env file; a configuration error (bad credentials, no access, unknown
// project, environment or path) is exit 4, as is every fallback under
// --require-infisical. The whole phase is bounded by --infisical-timeout.
func (p *plan) fetchRemote(ctx context.Context, d *deps, g *globalOptions) (map[string]string, error) {
	envName := filepath.Base(p.envFile)
	if g.SkipInfisical {
		g.ui.Info("Infisical skipped (--skip-infisical): variables come from %s", envName)
		return nil, nil
	}
	if err := p.resolveSettings(d, g); err != nil {
		return nil, err
	}
	settings := p.settings
	src, err := infisical.NewSource(settings, infisical.Deps{
		LookPath: d.lookPath, Command: d.command, Environ: d.env.Environ, Dir: p.layout.Dir,
		HTTP:   infisical.Options{Timeout: g.InfisicalTimeout, MaxRetryWait: g.InfisicalTimeout / 2},
		Notify: func(msg string) { g.ui.Warn("%s", msg) },
	})
	var vals map[string]string
	if err == nil {
		fctx, cancel := context.WithTimeout(ctx, g.InfisicalTimeout)
		vals, err = src.Fetch(fctx)
		cancel()
	}
	if cause := context.Cause(ctx); cause != nil {
		return nil, cause
	}
	if err == nil {
		g.redactor.Add(slices.Collect(maps.Values(vals))...)
		g.ui.Info("%s from %s", plural(len(vals), "secret"), src.Name())
		return vals, nil
	}
	kind := infisical.KindOf(err)
	switch {
	case g.RequireInfisical:
		return nil, exitcode.With(exitcode.Infisical, fmt.Errorf("%w (--require-infisical: no fallback to %s)", err, envName))
	case kind == infisical.NotConfigured:
		how := settings.Hint()
		if settings.Configured() || src != nil {
			how = err.Error() // the Infisical CLI is there but not logged in: it says what to do
		}
		g.ui.Info("Infisical is not configured, so variables come from %s only. To use Infisical: %s", envName, how)
		return nil, nil
	case kind.Fallback():
		g.ui.Warn("Infisical is unreachable, falling back to %s: %s", envName, err)
		return nil, nil
	}
	return nil, exitcode.With(exitcode.Infisical, fmt.Errorf("%w\nnothing was started: fix the Infisical settings, or run with --skip-infisical to use %s alone", err, envName))
}

// lockDir is where project locks live: a folder of the user's own.
func lockDir(d *deps) string {
	return lock.Dir(d.env.Getenv)
}

// acquireLock waits for the project's lock, saying so, for at most
// --wait-timeout: a second up or down of the same project never interleaves
// with the first.
func acquireLock(ctx context.Context, d *deps, g *globalOptions) (*lock.Lock, error) {
	ctx, cancel := context.WithTimeout(ctx, g.WaitTimeout)
	defer cancel()
	l, err := lock.Acquire(ctx, lock.Path(lockDir(d), g.Project), func(holder string) {
		g.ui.Info("another startsvc (%s) is working on project %s; waiting for it to finish (at most %s)", holder, g.Project, g.WaitTimeout)
	})
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, exitcode.ErrInterrupted) {
			return nil, cause
		}
		if !errors.Is(err, lock.ErrBusy) {
			return nil, exitcode.With(exitcode.Usage, err)
		}
		return nil, exitcode.With(exitcode.Failure, fmt.Errorf("project %s is busy: %w", g.Project, err))
	}
	return l, nil
}

// removeStale removes a hand-over file left by a killed run. Without the
// project's lock it does so only when no other startsvc holds it — the file
// may be a running up's — holding a shared lock meanwhile.
func removeStale(d *deps, g *globalOptions, path string, locked bool) error {
	if !locked {
		l, _, err := lock.TryShared(lock.Path(lockDir(d), g.Project))
		if err != nil || l == nil {
			return nil
		}
		defer l.Release()
	}
	removed, err := secrets.RemoveStale(path)
	if err != nil {
		return exitcode.With(exitcode.Usage, err)
	}
	if removed {
		g.ui.Warn("removed %s left behind by an earlier run that was killed", path)
	}
	return nil
}
