package launch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/health"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/stack"
)

// handover decides how the supplied variables reach compose and returns the
// --env-file to pass ("" for none) and a function that removes a file written for
// it. Without remote values the stack's own env file is passed as it is; with
// them, a merged 0600 file is written unless dryRun.
func (s *Stack) handover(dryRun bool) (envFile string, remove func() error, err error) {
	noop := func() error { return nil }
	switch {
	case s.via == secrets.ViaEnv:
		return "", noop, nil
	case s.resolved.FromRemoteCount() == 0 && len(s.fileValues) == 0 && !s.ownFile:
		if s.hasEnvFile {
			return s.envFile, noop, nil
		}
		return "", noop, nil
	}
	values := s.supplied()
	data, err := compose.FormatEnv(values, secrets.Header()...)
	if err != nil {
		return "", nil, exitcode.With(exitcode.Usage, err)
	}
	if err := compose.VerifyEnv(data, values); err != nil {
		return "", nil, exitcode.With(exitcode.Failure, err)
	}
	path := s.handoverPath()
	if dryRun {
		return path, noop, nil
	}
	remove, err = secrets.CreateFile(path, data)
	if err != nil {
		return "", nil, handoverError(err)
	}
	s.l.Report.Detail("wrote %s (mode 0600, %d variables); it is removed when compose returns", path, len(values))
	return path, remove, nil
}

// Up converges the project onto its configuration: containers of services
// the run does not want are removed; per stage, in order, services without a
// container are created, services whose configuration changed are
// recreated, stopped ones are started, and the rest are left running; then
// every service of the stage, kept ones included, must be ready before the
// next stage starts. With Options.Fresh everything of the project is removed
// first. The hand-over file exists only while compose needs it and is
// removed on every way out.
func (s *Stack) Up(ctx context.Context) (err error) {
	l, o := s.l, &s.l.Options
	// The hand-over file exists from before the first compose command that
	// needs it to the return of the last one, and is removed on every way out.
	// It is written before anything changes: a stack directory startsvc cannot
	// write to must stop it while the project still runs untouched.
	inv := compose.Invocation{Project: o.Project, Dir: s.Layout.Dir, Files: s.Files(), Profiles: s.Profile.Compose}
	remove := func() error { return nil }
	defer func() {
		if rerr := remove(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	handover := func() error {
		// A file written for the stages before the fetch goes first.
		if err := remove(); err != nil {
			return err
		}
		envFile, rm, err := s.handover(false)
		if err != nil {
			return err
		}
		inv.EnvFile, remove = envFile, rm
		return nil
	}
	if err := handover(); err != nil {
		return err
	}
	if !s.fetched && s.via == secrets.ViaFile {
		if err := secrets.CheckWritable(s.Layout.Dir); err != nil {
			return handoverError(err)
		}
	}

	runner, flush := l.runner(s.CLI, s.composeEnv, s.Layout.Dir)
	defer flush()
	if !s.fetched {
		runner.Env = s.earlyEnv()
	}
	running, err := s.observe(ctx)
	if err != nil {
		return err
	}
	if o.Fresh && len(running) > 0 {
		n := 0
		for _, cs := range running {
			n += len(cs)
		}
		l.Report.Step("removing %s of project %s, whatever profile started them (--fresh)", Plural(n, "container"), o.Project)
		if err := runner.Run(ctx, compose.DownAll(o.Project, false)...); err != nil {
			return s.interrupted(err)
		}
		running = nil
	}
	fetchAt := s.fetchStep()
	deferred := fetchAt >= 0 && !s.fetched
	plan, err := s.plan(ctx, running, s.knownSteps(), true)
	if err != nil {
		return err
	}
	s.reportPlan(plan)
	for _, ch := range plan.Changes {
		if ch.Action != Remove {
			continue
		}
		for _, c := range running[ch.Service] {
			if err := s.Engine.Remove(ctx, c.ID); err != nil {
				return s.interrupted(exitcode.With(exitcode.Failure, err))
			}
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, o.WaitTimeout)
	defer cancel()
	waiter := health.New(s.Engine.Client(), l.Redactor.String)
	oneShots := health.OneShots(s.Project.Project)
	l.Report.Step("starting project %s: profile %s, environment %s", o.Project, s.Profile.Name, o.Environment)
	for i, step := range s.steps {
		if len(s.steps) > 1 {
			l.Report.Step("stage %d/%d %s: %s", i+1, len(s.steps), step.Name, strings.Join(step.Services, ", "))
		}
		for _, args := range upArgs(plan, step) {
			if err := runner.Run(ctx, inv.Args(args...)...); err != nil {
				return s.interrupted(err)
			}
		}
		flush()
		if err := s.waitStep(waitCtx, waiter, step, oneShots); err != nil {
			return s.interrupted(err)
		}
		if i == fetchAt && deferred {
			if err := s.fetchSecrets(ctx); err != nil {
				return err
			}
			runner.Env = s.composeEnv
			if err := handover(); err != nil {
				return err
			}
			rest := make([]int, 0, len(s.steps)-i-1)
			for j := i + 1; j < len(s.steps); j++ {
				rest = append(rest, j)
			}
			later, err := s.plan(ctx, running, rest, false)
			if err != nil {
				return err
			}
			s.reportPlan(later)
			plan.Changes = append(plan.Changes, later.Changes...)
			oneShots = health.OneShots(s.Project.Project)
		}
	}
	// The last compose command that reads the hand-over file has returned.
	return remove()
}

// knownSteps are the stages whose plan is known before anything starts: all
// of them, or, when secrets come from an Infisical this run starts, those up
// to the stage that starts it.
func (s *Stack) knownSteps() []int {
	last := len(s.steps) - 1
	if at := s.fetchStep(); at >= 0 && !s.fetched {
		last = at
	}
	out := make([]int, 0, last+1)
	for i := 0; i <= last; i++ {
		out = append(out, i)
	}
	return out
}

// upArgs are the compose commands that carry out the plan for one stage:
// compose touches exactly the services named (--no-deps), recreating those
// the plan creates or recreates (--force-recreate) and only starting those
// it starts (--no-recreate), whatever compose's own comparison would decide.
func upArgs(plan Plan, step stack.Step) [][]string {
	var recreate, start []string
	for _, ch := range plan.Changes {
		if !slices.Contains(step.Services, ch.Service) {
			continue
		}
		switch ch.Action {
		case Create, Recreate:
			recreate = append(recreate, ch.Service)
		case Start:
			start = append(start, ch.Service)
		}
	}
	var out [][]string
	if len(recreate) > 0 {
		out = append(out, append([]string{"up", "--detach", "--no-deps", "--force-recreate"}, recreate...))
	}
	if len(start) > 0 {
		out = append(out, append([]string{"up", "--detach", "--no-deps", "--no-recreate"}, start...))
	}
	return out
}

// reportPlan says what up is about to change, a line per service it touches.
func (s *Stack) reportPlan(p Plan) {
	l := s.l
	if !p.Pending() {
		if len(p.Changes) > 0 {
			l.Report.Step("project %s: %s unchanged; nothing to create, recreate or remove", l.Options.Project, Plural(len(p.Changes), "service"))
		}
		return
	}
	l.Report.Step("project %s: %s", l.Options.Project, p.Summary())
	for _, ch := range p.Changes {
		if ch.Action != Keep {
			l.Report.Info("  %-8s %s: %s", ch.Action, ch.Service, strings.Join(ch.Reasons, "; "))
		}
	}
}

// Summary is the state of each service the profile activates, for the table
// up prints at the end.
func (s *Stack) Summary(ctx context.Context) ([]health.ServiceStatus, error) {
	return health.Collect(ctx, s.Engine.Client(), health.Scope{
		Project: s.l.Options.Project, Services: s.Project.Active(), OneShot: health.OneShots(s.Project.Project),
	})
}

// waitStep waits until the step's services are ready (and its URL answers),
// showing progress; a failure names the service and shows its last log lines.
func (s *Stack) waitStep(ctx context.Context, w *health.Waiter, step stack.Step, oneShots []string) error {
	l := s.l
	tr := l.Report.Waiting(step.Services)
	if tr != nil {
		w.Report = tr
	}
	err := w.Wait(ctx, health.Scope{Project: l.Options.Project, Services: step.Services, OneShot: oneShots})
	if tr != nil {
		tr.Stop()
	}
	if err == nil && step.ReadyURL != "" {
		l.Report.Detail("waiting for %s to answer", step.ReadyURL)
		err = health.WaitURL(ctx, nil, step.ReadyURL, 0)
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
	return exitcode.With(exitcode.Failure, fmt.Errorf("%w\n`startsvc status` shows every service; `startsvc down` removes the project", err))
}

// DryRun is what up would do, changing nothing: the plan of the stages
// known before anything starts, and the compose commands, in order, with
// comments saying what happens between them.
type DryRun struct {
	Plan     Plan
	Commands []string
}

// DryRun plans and lists the compose commands up would run. Nothing changes.
func (s *Stack) DryRun(ctx context.Context) (*DryRun, error) {
	o := &s.l.Options
	envFile, _, err := s.handover(true)
	if err != nil {
		return nil, err
	}
	running, err := s.observe(ctx)
	if err != nil {
		return nil, err
	}
	out := &DryRun{Commands: slices.Clone(s.notes)}
	if o.Fresh && len(running) > 0 {
		out.Commands = append(out.Commands, compose.Quote(s.CLI.Command(compose.DownAll(o.Project, false)...)))
		running = nil
	}
	if out.Plan, err = s.plan(ctx, running, s.knownSteps(), true); err != nil {
		return nil, err
	}
	if rm := out.Plan.Services(Remove); len(rm) > 0 {
		out.Commands = append(out.Commands, "# would stop and remove the containers of "+strings.Join(rm, ", "))
	}
	inv := compose.Invocation{Project: o.Project, Dir: s.Layout.Dir, Files: s.Files(), Profiles: s.Profile.Compose, EnvFile: envFile}
	fetchAt := s.fetchStep()
	for i, step := range s.steps {
		if envFile == s.handoverPath() && (i == 0 || i == fetchAt+1) {
			out.Commands = append(out.Commands, fmt.Sprintf("# would write %s (mode 0600): %d variables, removed when compose returns", envFile, len(s.supplied())))
		}
		args := upArgs(out.Plan, step)
		if i > fetchAt && fetchAt >= 0 && !s.fetched {
			args = [][]string{append([]string{"up", "--detach", "--no-deps"}, step.Services...)}
			out.Commands = append(out.Commands, "# (what changes in this stage is known once the secrets are fetched)")
		}
		for _, a := range args {
			out.Commands = append(out.Commands, compose.Quote(s.CLI.Command(inv.Args(a...)...)))
		}
		out.Commands = append(out.Commands, fmt.Sprintf("# then wait until ready: %s", strings.Join(step.Services, ", ")))
		if i == fetchAt && !s.fetched {
			out.Commands = append(out.Commands, fmt.Sprintf("# then fetch secrets from Infisical; later stages get them through %s", s.handoverPath()))
			inv.EnvFile = s.handoverPath()
			if s.via == secrets.ViaEnv {
				inv.EnvFile = ""
			}
		}
	}
	return out, nil
}

// Plan is what up would change, for every stage, without changing anything.
// When secrets come from an Infisical inside the stack, they are fetched
// first (from the running server, or by the fallback policy).
func (s *Stack) Plan(ctx context.Context) (Plan, error) {
	if err := s.fetchSecrets(ctx); err != nil {
		return Plan{}, err
	}
	running, err := s.observe(ctx)
	if err != nil {
		return Plan{}, err
	}
	all := make([]int, len(s.steps))
	for i := range s.steps {
		all[i] = i
	}
	return s.plan(ctx, running, all, true)
}

// handoverError is a failure to write the hand-over file: a configuration
// problem of the stack directory, found before anything changed.
func handoverError(err error) error {
	return exitcode.With(exitcode.Usage, fmt.Errorf("%w\nstartsvc writes its 0600 hand-over file there: make the stack directory writable, or use --secrets-via env", err))
}

// interrupted adds what to do next to an error that ended a run midway.
func (s *Stack) interrupted(err error) error {
	if exitcode.Of(nil, err) == exitcode.Interrupted {
		s.l.Report.Info("stopped before the stack was complete; `startsvc down -p %s` removes what was started", s.l.Options.Project)
	}
	return err
}
