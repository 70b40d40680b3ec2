package launch

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

// Stack is a project resolved and checked by Preflight: what a command that
// runs it needs, established before anything changes. Close it when done.
type Stack struct {
	l       *Launcher
	Layout  *stack.Layout
	Profile stack.Profile
	CLI     compose.CLI
	Engine  *docker.Engine
	Project *compose.Project // the services the profile activates

	envFile    string // the stack's env file; may not exist
	hasEnvFile bool
	resolved   *secrets.Resolved
	via        secrets.Via
	composeEnv []string // compose's process environment
	skipped    []string // reserved names the sources tried to set

	settings     infisical.Settings
	inStack      bool              // Infisical runs inside this stack: its stage may come first
	fetched      bool              // the Infisical phase has run
	placeholders []string          // required variables loaded with a stand-in until secrets are fetched
	steps        []stack.Step      // the bring-up in order
	allServices  []string          // every service of the files, whatever the profile
	lock         *lock.Lock        // held by commands that change the project
	notes        []string          // what a dry run of the preparation steps would change
	src          secrets.Source    // the Infisical source, made at the first fetch
	fileVals     map[string]string // the env file's values, as last read
	remote       map[string]string // Infisical's values, as last fetched
	strict       bool              // an unreachable Infisical is an error, not a fallback to .env (watch)
	ownFile      bool              // always hand compose a file of startsvc's: the env file on disk may hold other values (watch)

	overlay     *overlay                       // what startsvc computes from the files, without the hash labels
	overlayFile overlayFile                    // the overlay on disk, hash labels included, while the Stack is open
	overlayPath string                         // "" until the overlay is written
	wanted      map[string]wanted              // the selected services as this run would create them
	envRefs     map[string]map[string][]string // service -> environment key -> variables, read when needed

	fileSecrets []fileSecret      // the keys file-secrets.yml delivers as files, by service then key
	fileValues  map[string]string // the project variables that carry them to compose
	files       fileReader        // reads files of containers; nil means the Engine
}

// Close releases the Engine connection and the project's lock, and removes
// the generated overlay.
func (s *Stack) Close() {
	if s.Engine != nil {
		s.Engine.Close()
		s.Engine = nil
	}
	s.overlayFile.remove()
	s.lock.Release()
	s.lock = nil
}

// Files are the compose files of a compose command: the stack's own, then
// the generated overlay.
func (s *Stack) Files() []string {
	if s.overlayPath == "" {
		return s.Layout.Files
	}
	return append(slices.Clone(s.Layout.Files), s.overlayPath)
}

// Values are the variables startsvc supplies: the env file merged with
// Infisical's values, Infisical winning.
func (s *Stack) Values() map[string]string { return s.resolved.Values }

// Steps are the stages of the bring-up, in order.
func (s *Stack) Steps() []stack.Step { return s.steps }

// handoverPath is where the hand-over file lives while compose needs it.
func (s *Stack) handoverPath() string { return filepath.Join(s.Layout.Dir, secrets.FileName) }

// Checks say which checks a command needs of Preflight.
type Checks struct {
	// VariablesOnly stops after the variables are resolved: no Engine, no
	// compose CLI, no compose files (export, run).
	VariablesOnly bool
	Requirements  bool // check the profile's machine requirements
	// Lock makes the command wait for, then hold, the project's lock: it
	// changes the project, and must not interleave with another startsvc.
	Lock bool
	// Prepare runs the stack's preparation steps (Prepare) once the Engine and
	// compose are known good, before the compose files are loaded: the shipped
	// stack includes a folder that the first step clones.
	Prepare bool
	// DeferSecrets lets the Infisical phase wait until the stage that starts an
	// in-stack Infisical is ready (up); every other command fetches at once.
	DeferSecrets bool
	// NoFallback makes an unreachable Infisical an error (of kind
	// infisical.Unreachable, which the caller may retry) instead of a fallback
	// to .env: a watcher must not apply stale values. It also keeps the
	// source's listing for conditional requests.
	NoFallback bool
}

// Preflight resolves settings and checks, changing nothing, that the project can
// run: the stack layout, the Engine, the compose CLI, the env file, the compose
// files with every required variable, the profile and its requirements. A
// hand-over file left by a killed run is removed on the way. On error nothing
// is held; otherwise the caller closes the Stack.
func (l *Launcher) Preflight(ctx context.Context, c Checks) (_ *Stack, err error) {
	s := &Stack{l: l, via: l.via(), overlayFile: overlayFile{base: l.tempDir()}, strict: c.NoFallback}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.Layout, err = stack.Open(l.StackDir(), l.Options.Files, l.Options.Environment); err != nil {
		if !c.VariablesOnly {
			return nil, err
		}
		// export and run work in any folder that has an env file.
		s.Layout = &stack.Layout{Dir: l.StackDir()}
	}
	s.envFile = l.EnvFilePath()
	if c.Lock {
		if s.lock, err = l.acquireLock(ctx); err != nil {
			return nil, err
		}
	}
	if err := l.removeStale(s.handoverPath(), s.lock != nil); err != nil {
		return nil, err
	}
	if c.VariablesOnly {
		if err := s.resolveVariables(ctx); err != nil {
			return nil, err
		}
		return s, nil
	}

	if s.Engine, err = docker.Open(ctx, l.Env.Getenv); err != nil {
		return nil, err
	}
	finder := l.Finder(true)
	if s.CLI, err = finder.Find(ctx); err != nil {
		return nil, err
	}
	l.Report.Detail("compose: %s %s; engine at %s", s.CLI.Name(), s.CLI.Version, s.Engine.Host())
	if c.Prepare && s.Layout.Conventional {
		prep, err := l.Prepare(ctx, PrepareOptions{})
		if err != nil {
			return nil, err
		}
		s.notes = prep.DryRun
	}

	if err := s.resolveSettings(); err != nil {
		return nil, err
	}
	if !s.inStack {
		// The usual case: secrets first, then one strict load.
		if err := s.resolveVariables(ctx); err != nil {
			return nil, err
		}
		if err := s.loadProject(ctx, c, false); err != nil {
			return nil, err
		}
		return s, s.planStages()
	}
	// Infisical may run inside this stack: load with .env alone (and the
	// snapshot of the last fetch, when there is one), required variables it
	// may supply standing in, and see whether its stage comes first.
	early := l.snapshots(s.strict).Early(s.settings)
	early.Tell(l.Report.Warn, l.Report.Info, l.Report.Detail)
	if err := s.mergeVariables(early.Values); err != nil {
		return nil, err
	}
	if err := s.loadProject(ctx, c, true); err != nil {
		return nil, err
	}
	if err := s.planStages(); err != nil {
		return nil, err
	}
	if c.DeferSecrets && s.fetchStep() >= 0 {
		if err := s.checkEarlyStages(); err != nil {
			return nil, err
		}
		l.Report.Detail("Infisical runs in this stack: secrets are fetched once stage %q is ready", s.steps[s.fetchStep()].Name)
		return s, nil
	}
	if err := s.fetchSecrets(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// resolveSettings reads the Infisical settings (no network) and decides
// whether Infisical runs inside the stack: its URL names this machine and the
// stack has a stages file that can start it first.
func (s *Stack) resolveSettings() error {
	o := &s.l.Options
	if o.SkipInfisical {
		return nil
	}
	st, err := infisical.ResolveSettings(infisical.FlagValues{
		URL: o.InfisicalURL, ProjectID: o.InfisicalProject, Environment: o.InfisicalEnv,
		SecretPath: o.SecretPath, Recursive: o.Recursive,
	}, infisical.EnvFileGetenv(s.l.Env.Getenv, s.envFile), s.Layout.Dir)
	if err != nil {
		return exitcode.With(exitcode.Usage, err)
	}
	s.settings = st
	s.inStack = st.Configured() && !o.Offline && stack.InfisicalInStack(s.Layout, st.SiteURL)
	return nil
}

// checkEarlyStages refuses a plan in which a service that starts before the
// secrets are fetched uses a required variable that only Infisical could
// supply: it would start with the stand-in.
func (s *Stack) checkEarlyStages() error {
	if len(s.placeholders) == 0 {
		return nil
	}
	for _, step := range s.steps[:s.fetchStep()+1] {
		for _, name := range step.Services {
			svc, ok := s.Project.Services[name]
			if !ok {
				continue
			}
			data, err := yaml.Marshal(svc)
			if err != nil {
				return err
			}
			for _, f := range s.filesOf(name) {
				data = append(data, f.value...)
			}
			if strings.Contains(string(data), placeholderValue) {
				return exitcode.Usagef("service %s starts in stage %q, before secrets are fetched from Infisical, but needs %s, "+
					"which has no value yet: put it in %s (the in-stack Infisical's own settings live there)",
					name, step.Name, strings.Join(s.placeholders, " or "), filepath.Base(s.envFile))
			}
		}
	}
	return nil
}

// earlyEnv is compose's environment before the secrets are fetched: the
// required variables Infisical will supply stand in, because compose refuses
// to load the files while any has no value — even for services it does not start.
func (s *Stack) earlyEnv() []string {
	env := slices.Clone(s.composeEnv)
	for _, k := range s.placeholders {
		env = append(env, k+"="+placeholderValue)
	}
	return env
}

// fetchStep is the index of the step after which secrets are fetched, or -1
// when they are fetched before the first.
func (s *Stack) fetchStep() int {
	for i, st := range s.steps {
		if st.FetchSecrets {
			return i
		}
	}
	return -1
}

// fetchSecrets runs the Infisical phase once and, with its values merged,
// loads the compose files again strictly: every required variable must now
// have a real value.
func (s *Stack) fetchSecrets(ctx context.Context) error {
	if s.fetched {
		return nil
	}
	s.fetched = true
	remote, err := s.fetchRemote(ctx)
	if err != nil {
		return err
	}
	if len(remote) == 0 && len(s.placeholders) == 0 && s.resolved.FromRemoteCount() == 0 {
		return nil
	}
	if err := s.mergeVariables(remote); err != nil {
		return err
	}
	s.overlayPath = ""
	all, err := s.load(ctx, false)
	if err != nil {
		return err
	}
	return s.settle(ctx, all, false)
}

// planStages orders the bring-up: stages.yml of a conventional stack, else one stage.
func (s *Stack) planStages() error {
	stages := &stack.Stages{}
	if s.Layout.Conventional {
		var err error
		if stages, err = stack.LoadStages(s.Layout.Dir, s.allServices); err != nil {
			return err
		}
	}
	s.steps = stages.Plan(s.Project.Active(), func(cond string) bool {
		return cond == stack.WhenInfisicalInStack && s.inStack
	})
	return nil
}

// resolveVariables reads the secret sources and the env file and decides what
// compose's environment is.
func (s *Stack) resolveVariables(ctx context.Context) error {
	s.fetched = true
	remote, err := s.fetchRemote(ctx)
	if err != nil {
		return err
	}
	return s.mergeVariables(remote)
}

// mergeVariables layers the env file under the remote values, and computes
// compose's environment from the result.
func (s *Stack) mergeVariables(remote map[string]string) error {
	fileVals, err := s.readEnvFile(remote)
	if err != nil {
		return err
	}
	return s.setVariables(fileVals, remote)
}

// readEnvFile reads the stack's env file as compose does; a missing default
// .env is no file.
func (s *Stack) readEnvFile(remote map[string]string) (map[string]string, error) {
	l := s.l
	shell := secrets.EnvMap(l.Env.Environ)
	data, err := secrets.ReadFile(s.envFile, secrets.MaxEnvFile)
	switch {
	case errors.Is(err, fs.ErrNotExist) && l.Options.EnvFile == ".env":
		l.Report.Detail("no %s: variables come from the shell and Infisical only", s.envFile)
		s.hasEnvFile = false
		return nil, nil
	case err != nil:
		return nil, exitcode.Usagef("env file: %w", err)
	}
	s.hasEnvFile = true
	fileVals, err := secrets.ReadEnvFile(s.envFile, data, shell, remote)
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, err)
	}
	return fileVals, nil
}

// setVariables makes fileVals (the env file's) and remote (Infisical's) the
// variables the Stack supplies, and computes compose's environment.
func (s *Stack) setVariables(fileVals, remote map[string]string) error {
	l := s.l
	s.fileVals, s.remote = fileVals, remote
	for k, v := range remote {
		if err := compose.CheckValue(k, v); err != nil {
			return exitcode.With(exitcode.Infisical, fmt.Errorf("Infisical secret %w", err))
		}
		if err := compose.CheckKey(k); err != nil && s.via == secrets.ViaFile {
			return exitcode.With(exitcode.Infisical, fmt.Errorf("Infisical secret: %w; rename it, or use --secrets-via env", err))
		}
	}
	s.resolved = secrets.Merge(fileVals, remote)
	s.fileSecrets, s.fileValues = nil, nil // computed again with the overlay
	l.Redactor.Add(s.resolved.Masked...)
	// What init generates is secret whatever its name says (POOLER_TENANT_ID).
	var generated []string
	for _, k := range envgen.Keys() {
		if v, ok := fileVals[k]; ok {
			generated = append(generated, v)
		}
	}
	l.Redactor.Add(generated...)
	if err := s.setComposeEnv(); err != nil {
		return err
	}
	for _, k := range s.skipped {
		l.Report.Warn("%s is set in %s but startsvc never overrides %s in compose's environment; the shell's value stays",
			k, s.resolved.Source(k, filepath.Base(s.envFile)), k)
	}
	return nil
}

// setComposeEnv computes compose's process environment from the shell's and
// what startsvc supplies.
func (s *Stack) setComposeEnv() error {
	s.composeEnv, s.skipped = secrets.ComposeEnv(s.l.Env.Environ, s.supplied(), s.via)
	s.l.Redactor.Add(secrets.MaskedEnv(s.composeEnv, s.l.Options.Project)...) // shell values compose interpolates and prints
	return secrets.CheckComposeEnv(s.via, s.composeEnv)
}

// supplied is every variable startsvc hands to compose: the resolved values
// and the variables that carry file-delivered secrets. Only compose sees the
// latter; export and run do not.
func (s *Stack) supplied() map[string]string {
	if len(s.fileValues) == 0 {
		return s.resolved.Values
	}
	m := maps.Clone(s.resolved.Values)
	maps.Copy(m, s.fileValues)
	return m
}

// interpolationEnv is every variable compose will see when it interpolates the
// compose files: its process environment plus what the env file supplies.
func (s *Stack) interpolationEnv() map[string]string {
	return secrets.InterpolationEnv(s.composeEnv, s.supplied())
}

func (s *Stack) loadProject(ctx context.Context, c Checks, lenient bool) error {
	all, err := s.load(ctx, lenient)
	if err != nil {
		return err
	}
	for _, f := range compose.Needs(append(slices.Clone(s.Layout.Files), all.ComposeFiles...)) {
		if !s.CLI.Version.AtLeast(f.Version.Major, f.Version.Minor, f.Version.Patch) {
			return exitcode.With(exitcode.Unavailable, fmt.Errorf("the compose files use %s, which needs compose >= %s; %s is %s: "+
				"upgrade the Docker Compose plugin (https://docs.docker.com/compose/install/)", f.Name, f.Version, s.CLI.Name(), s.CLI.Version))
		}
	}
	s.allServices = slices.Sorted(maps.Keys(all.AllServices()))
	name := s.l.Options.Profile
	if !s.l.Options.ProfileSet {
		name = s.Layout.DefaultProfile(all.Defined)
	}
	if name == stack.ProfileAuto {
		if name, err = s.autoProfile(ctx, all.Defined); err != nil {
			return err
		}
		s.l.Report.Info("profile auto: using %s", name)
	}
	if s.Profile, err = s.Layout.Resolve(name, all.Defined); err != nil {
		return err
	}
	if c.Requirements {
		if err := s.checkRequirements(ctx, s.Profile); err != nil {
			return err
		}
	}
	return s.settle(ctx, all, lenient)
}

// settle completes a load: it computes the generated overlay from the loaded
// files and, when the overlay changes anything, loads them again with it, so
// that the model is the one compose will build; then it selects the profile's
// services, hashes each, and writes the overlay with the hash labels for
// compose.
func (s *Stack) settle(ctx context.Context, all *compose.Project, lenient bool) error {
	ov, err := s.computeOverlay(ctx, all)
	if err != nil {
		return err
	}
	s.overlay = ov
	if !ov.empty() {
		data, err := ov.render()
		if err != nil {
			return err
		}
		if s.overlayPath, err = s.overlayFile.write(data); err != nil {
			return exitcode.With(exitcode.Failure, err)
		}
		if all, err = s.load(ctx, lenient); err != nil {
			return err
		}
		if err := s.checkFileSecrets(all); err != nil {
			return err
		}
	}
	if s.Project, err = all.Select(s.Profile.Compose); err != nil {
		return err
	}
	if s.wanted, err = wantedServices(s.Project.Project); err != nil {
		return err
	}
	for name, w := range s.wanted {
		w.files = s.filesOf(name)
		s.wanted[name] = w
	}
	full := ov.clone()
	for name, w := range s.wanted {
		full.service(name).labels[LabelConfigHash] = w.hash
	}
	data, err := full.render()
	if err != nil {
		return err
	}
	if s.overlayPath, err = s.overlayFile.write(data); err != nil {
		return exitcode.With(exitcode.Failure, err)
	}
	return nil
}

// computeOverlay is what startsvc adds to the loaded files, without the hash
// labels: the environment's rule for published ports, and the file-delivered
// secrets of file-secrets.yml. The variables that carry their values join
// compose's environment (or the hand-over file).
func (s *Stack) computeOverlay(ctx context.Context, all *compose.Project) (*overlay, error) {
	ov := newOverlay()
	// The environment's rule for published ports (x-startsvc-ports in its
	// override file), applied to the loaded model: it covers services the
	// stack's own files do not name, such as Supabase's.
	rule, err := stack.PortRuleOf(all.Project)
	if err != nil {
		return nil, err
	}
	for name, ports := range rule.Apply(all.Project) {
		so := ov.service(name)
		so.ports, so.setPorts = ports, true
	}
	s.fileSecrets, s.fileValues = nil, map[string]string{}
	if err := s.planFileSecrets(ctx, all, ov); err != nil {
		return nil, err
	}
	if err := s.setComposeEnv(); err != nil {
		return nil, err
	}
	return ov, nil
}

// placeholderValue stands in for a required variable that Infisical may
// supply once its in-stack server runs; the strict load after the fetch
// decides.
const placeholderValue = "startsvc-pending-infisical"

// load reads every service of the compose files. Lenient gives each required
// variable without a value a stand-in (remembered in placeholders).
func (s *Stack) load(ctx context.Context, lenient bool) (*compose.Project, error) {
	spec := s.spec()
	s.placeholders = nil
	if lenient {
		// The stack's own files: the overlay requires nothing, and its !reset
		// would hide a key whose value still needs its variables.
		own := spec
		own.Files = s.Layout.Files
		vars, err := compose.Variables(ctx, own)
		if err != nil {
			return nil, explainLoadError(err, s.Layout.Dir, s.Layout.Files)
		}
		for _, v := range vars {
			if _, set := spec.Env[v.Name]; v.Required && !set {
				spec.Env[v.Name] = placeholderValue
				s.placeholders = append(s.placeholders, v.Name)
			}
		}
	}
	all, err := compose.Load(ctx, spec)
	if err != nil {
		return nil, explainLoadError(err, s.Layout.Dir, s.Layout.Files)
	}
	return all, nil
}

// spec is the compose project as compose will load it: every profile, the
// stack's files and the overlay written so far, compose's variables.
func (s *Stack) spec() compose.Spec {
	return compose.Spec{
		Name:     s.l.Options.Project,
		Dir:      s.Layout.Dir,
		Files:    s.Files(),
		Profiles: []string{"*"},
		Env:      s.interpolationEnv(),
	}
}

// machine describes this machine for profile requirements.
func (s *Stack) machine(ctx context.Context) (stack.Machine, error) {
	facts, err := s.Engine.Facts(ctx)
	if err != nil {
		return stack.Machine{}, err
	}
	return stack.Machine{Runtimes: facts.Runtimes, HasDevice: func(path string) bool {
		_, err := os.Stat(path)
		return err == nil
	}}, nil
}

func (s *Stack) autoProfile(ctx context.Context, defined []string) (string, error) {
	m, err := s.machine(ctx)
	if err != nil {
		return "", err
	}
	return s.Layout.Auto(m, defined), nil
}

func (s *Stack) checkRequirements(ctx context.Context, prof stack.Profile) error {
	if prof.Requires.Runtime == "" && len(prof.Requires.Devices) == 0 {
		return nil
	}
	m, err := s.machine(ctx)
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

// envName is the env file's name, as messages show it.
func (s *Stack) envName() string { return filepath.Base(s.envFile) }
