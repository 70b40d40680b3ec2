package launch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/docker"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/health"
	"github.com/startsvc/startsvc/internal/lock"
	"github.com/startsvc/startsvc/internal/stack"
	"github.com/startsvc/startsvc/internal/swarm"
)

// Deployment is what Deploy did, or with Options.DryRun would do.
type Deployment struct {
	// Changes are per service: create, update, keep or remove, and why (keys
	// and names, never values), in stage order, removals first.
	Changes []swarm.Change `json:"services"`
	// Secrets are the names of the stack's secrets the definition mounts.
	Secrets []string `json:"secrets"`
	// Pruned are the secrets removed after the update converged because no
	// service mounts them any more.
	Pruned []string `json:"pruned,omitempty"`
}

// Pending reports whether the deployment changes any service.
func (d *Deployment) Pending() bool {
	for _, c := range d.Changes {
		if c.Action != swarm.Keep {
			return true
		}
	}
	return false
}

// Deploy runs the project on Docker Swarm as a stack named after the
// project. It resolves the stack exactly as up does (Preflight: files,
// profile, environment, Infisical and the env file, fallback policy), turns
// the compose model of the selected services into Swarm services (keys the
// stack data delivers as files become Swarm secrets named by a hash of their
// value, mounted at /run/secrets/<KEY>; every other variable stays in the
// service's environment), and then, stage by stage as up does, creates or
// updates the stage's services and waits until every service deployed so far
// has converged. Services whose specification is unchanged are left alone,
// so a changed secret rolls only the services that mount it. Services of the
// stack no longer selected are removed first; secrets no service mounts any
// more are removed once everything converged.
//
// The Engine must be a swarm manager (exit 3 otherwise, saying how), and no
// compose container of the project may run on it (exit 2). With
// Options.DryRun nothing changes and the plan is returned.
func (l *Launcher) Deploy(ctx context.Context) (*Deployment, error) {
	o := &l.Options
	if err := l.checkManager(ctx); err != nil {
		return nil, err
	}
	s, err := l.Preflight(ctx, Checks{Lock: !o.DryRun, Prepare: true})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.deploy(ctx)
}

// checkManager fails, before anything else is read, when the Engine is not
// a swarm manager.
func (l *Launcher) checkManager(ctx context.Context) error {
	e, err := docker.Open(ctx, l.Env.Getenv)
	if err != nil {
		return err
	}
	defer e.Close()
	return swarm.CheckManager(ctx, e.Client())
}

// definition builds the Swarm definition of the selected services.
func (s *Stack) definition() (*swarm.Definition, error) {
	files, err := stack.LoadFileSecrets(s.Layout.Dir)
	if err != nil {
		return nil, err
	}
	if err := files.Check(s.allServices); err != nil {
		return nil, err
	}
	resolved, err := s.Project.Project.WithServicesEnvironmentResolved(true)
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, fmt.Errorf("resolve the services' environment: %w", err))
	}
	def, err := swarm.Build(swarm.Input{
		Stack: s.l.Options.Project, Project: resolved, FileSecrets: files,
		OneShots: health.OneShots(s.Project.Project), DropLabels: []string{LabelConfigHash},
	})
	if err != nil {
		return nil, err
	}
	// What the stack delivers as files is secret whatever its name says.
	s.l.Redactor.Add(def.Values()...)
	return def, nil
}

func (s *Stack) deploy(ctx context.Context) (*Deployment, error) {
	l, o := s.l, &s.l.Options
	running, err := s.observe(ctx)
	if err != nil {
		return nil, err
	}
	if len(running) > 0 {
		return nil, exitcode.Usagef("project %s runs under compose on this Engine (%s): `startsvc down -p %s` stops it, "+
			"or deploy under another --project-name; both would claim the same ports and volumes",
			o.Project, Plural(len(running), "service"), o.Project)
	}
	def, err := s.definition()
	if err != nil {
		return nil, err
	}
	for _, w := range def.Warnings {
		l.Report.Warn("%s", w)
	}
	api := s.Engine.Client()
	since := engineTime(ctx, api)
	st, err := swarm.Observe(ctx, api, o.Project)
	if err != nil {
		return nil, exitcode.With(exitcode.Unavailable, err)
	}
	dep := &Deployment{Secrets: keysOf(def.Secrets)}
	dep.Changes = s.stageOrder(def.Plan(st))
	if o.DryRun {
		return dep, nil
	}
	l.Report.Step("deploying stack %s to Docker Swarm: profile %s, environment %s", o.Project, s.Profile.Name, o.Environment)
	reportDeploy(l, dep)
	var gone []string
	for _, c := range dep.Changes {
		if c.Action == swarm.Remove {
			gone = append(gone, c.Service)
		}
	}
	if err := swarm.RemoveServices(ctx, api, st, gone); err != nil {
		return nil, err
	}
	waitCtx, cancel := context.WithTimeout(ctx, o.WaitTimeout)
	defer cancel()
	waiter := &swarm.Waiter{Engine: api, Stack: o.Project, Since: since, Mask: l.Redactor.String}
	var deployed []string
	for i, step := range s.steps {
		names := slices.DeleteFunc(slices.Clone(step.Services), func(n string) bool { return def.Services[n] == nil })
		if len(s.steps) > 1 {
			l.Report.Step("stage %d/%d %s: %s", i+1, len(s.steps), step.Name, strings.Join(names, ", "))
		}
		warn := func(msg string) { l.Report.Warn("%s", msg) }
		if err := def.Apply(ctx, api, st, dep.Changes, names, warn); err != nil {
			return nil, s.interruptedDeploy(err)
		}
		deployed = append(deployed, names...)
		if err := s.waitDeployed(waitCtx, waiter, def, deployed); err != nil {
			return nil, s.interruptedDeploy(err)
		}
	}
	if dep.Pruned, err = swarm.PruneSecrets(ctx, api, o.Project); err != nil {
		return nil, err
	}
	if len(dep.Pruned) > 0 {
		l.Report.Info("removed %s no service mounts any more: %s", Plural(len(dep.Pruned), "secret"), strings.Join(dep.Pruned, ", "))
	}
	return dep, nil
}

// stageOrder puts the changes in the order of the stages, removals first.
func (s *Stack) stageOrder(changes []swarm.Change) []swarm.Change {
	var out []swarm.Change
	for _, c := range changes {
		if c.Action == swarm.Remove {
			out = append(out, c)
		}
	}
	for _, step := range s.steps {
		for _, name := range step.Services {
			for _, c := range changes {
				if c.Service == name && c.Action != swarm.Remove {
					c.Stage = step.Name
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// reportDeploy says what deploy is about to change, a line per service it touches.
func reportDeploy(l *Launcher, dep *Deployment) {
	if !dep.Pending() {
		l.Report.Step("stack %s: %s unchanged", l.Options.Project, Plural(len(dep.Changes), "service"))
		return
	}
	for _, c := range dep.Changes {
		if c.Action != swarm.Keep {
			l.Report.Info("  %-7s %s: %s", c.Action, c.Service, strings.Join(c.Reasons, "; "))
		}
	}
}

// waitDeployed waits until the services deployed so far converged, showing progress.
func (s *Stack) waitDeployed(ctx context.Context, w *swarm.Waiter, def *swarm.Definition, names []string) error {
	l := s.l
	tr := l.Report.Waiting(names)
	w.Report = nil
	if tr != nil {
		w.Report = tr
	}
	err := w.Wait(ctx, def, names)
	if tr != nil {
		tr.Stop()
	}
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); errors.Is(cause, exitcode.ErrInterrupted) {
		return cause
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (--wait-timeout %s)", err, l.Options.WaitTimeout)
	}
	return exitcode.With(exitcode.Failure, fmt.Errorf("%w\n`startsvc status` shows every service; `docker service ps %s_<service> --no-trunc` shows its tasks; "+
		"`startsvc deploy --rm` removes the stack", err, l.Options.Project))
}

// interruptedDeploy adds what to do next to an error that ended a deploy midway.
func (s *Stack) interruptedDeploy(err error) error {
	if exitcode.Of(nil, err) == exitcode.Interrupted {
		s.l.Report.Info("stopped before the stack was complete; Swarm keeps what was deployed: `startsvc deploy --rm -p %s` removes it", s.l.Options.Project)
	}
	return err
}

// engineTime is the Engine's clock, or zero when it does not say.
func engineTime(ctx context.Context, e swarm.InfoAPI) time.Time {
	res, err := e.Info(ctx, client.InfoOptions{})
	if err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, res.Info.SystemTime)
	if err != nil {
		return time.Time{}
	}
	return t
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Undeploy removes the project's stack from Docker Swarm: its services, then
// its networks and secrets once no container uses them, bounded by
// Options.WaitTimeout. Volumes stay. Like Down it needs neither the env file
// nor Infisical. With Options.DryRun it removes nothing and returns what it
// would remove.
func (l *Launcher) Undeploy(ctx context.Context) (swarm.Removed, error) {
	o := &l.Options
	e, err := docker.Open(ctx, l.Env.Getenv)
	if err != nil {
		return swarm.Removed{}, err
	}
	defer e.Close()
	api := e.Client()
	if err := swarm.CheckManager(ctx, api); err != nil {
		return swarm.Removed{}, err
	}
	if o.DryRun {
		return swarm.Inventory(ctx, api, o.Project)
	}
	var lk *lock.Lock
	if lk, err = l.acquireLock(ctx); err != nil {
		return swarm.Removed{}, err
	}
	defer lk.Release()
	rmCtx, cancel := context.WithTimeout(ctx, o.WaitTimeout)
	defer cancel()
	l.Report.Step("removing stack %s from Docker Swarm", o.Project)
	removed, err := swarm.RemoveStack(rmCtx, api, o.Project, 0)
	if err != nil && ctx.Err() != nil {
		return removed, context.Cause(ctx)
	}
	return removed, err
}
