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
	case s.resolved.FromRemoteCount() == 0:
		if s.hasEnvFile {
			return s.envFile, noop, nil
		}
		return "", noop, nil
	}
	data, err := compose.FormatEnv(s.resolved.Values, secrets.Header()...)
	if err != nil {
		return "", nil, exitcode.With(exitcode.Usage, err)
	}
	if err := compose.VerifyEnv(data, s.resolved.Values); err != nil {
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
	s.l.Report.Detail("wrote %s (mode 0600, %d variables); it is removed when compose returns", path, len(s.resolved.Values))
	return path, remove, nil
}

// Up brings the project up: it removes what runs of the project under any
// profile, then starts the stages in order, each health-gated. The hand-over
// file exists only while compose needs it and is removed on every way out.
func (s *Stack) Up(ctx context.Context) (err error) {
	l, o := s.l, &s.l.Options
	// The hand-over file exists from before the first compose command that
	// needs it to the return of the last one, and is removed on every way out.
	// It is written before anything changes: a stack directory startsvc cannot
	// write to must stop it while the project still runs untouched.
	inv := compose.Invocation{Project: o.Project, Dir: s.Layout.Dir, Files: s.Layout.Files, Profiles: s.Profile.Compose}
	remove := func() error { return nil }
	defer func() {
		if rerr := remove(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	handover := func() error {
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
	existing, err := s.Engine.ProjectContainers(ctx, o.Project)
	if err != nil {
		return exitcode.With(exitcode.Unavailable, err)
	}
	if len(existing) > 0 {
		l.Report.Step("removing %s of project %s, whatever profile started them", Plural(len(existing), "container"), o.Project)
		if err := runner.Run(ctx, compose.DownAll(o.Project, false)...); err != nil {
			return s.interrupted(err)
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, o.WaitTimeout)
	defer cancel()
	waiter := health.New(s.Engine.Client(), l.Redactor.String)
	oneShots := health.OneShots(s.Project.Project)
	fetchAt := s.fetchStep()
	l.Report.Step("starting project %s: profile %s, environment %s", o.Project, s.Profile.Name, o.Environment)
	for i, step := range s.steps {
		if len(s.steps) > 1 {
			l.Report.Step("stage %d/%d %s: %s", i+1, len(s.steps), step.Name, strings.Join(step.Services, ", "))
		}
		if err := runner.Run(ctx, inv.Args(append([]string{"up", "--detach"}, step.Services...)...)...); err != nil {
			return s.interrupted(err)
		}
		flush()
		if err := s.waitStep(waitCtx, waiter, step, oneShots); err != nil {
			return s.interrupted(err)
		}
		if i == fetchAt {
			if err := s.fetchSecrets(ctx); err != nil {
				return err
			}
			runner.Env = s.composeEnv
			if err := handover(); err != nil {
				return err
			}
		}
	}
	// The last compose command that reads the hand-over file has returned.
	return remove()
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

// Commands is --dry-run: the compose commands up would run, in order, with
// comments saying what happens between them. Nothing changes.
func (s *Stack) Commands() ([]string, error) {
	o := &s.l.Options
	envFile, _, err := s.handover(true)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(s.notes)
	inv := compose.Invocation{Project: o.Project, Dir: s.Layout.Dir, Files: s.Layout.Files, Profiles: s.Profile.Compose, EnvFile: envFile}
	out = append(out, compose.Quote(s.CLI.Command(compose.DownAll(o.Project, false)...)))
	fetchAt := s.fetchStep()
	for i, step := range s.steps {
		if envFile == s.handoverPath() && (i == 0 || i == fetchAt+1) {
			out = append(out, fmt.Sprintf("# would write %s (mode 0600): %d variables, removed when compose returns", envFile, len(s.resolved.Values)))
		}
		out = append(out, compose.Quote(s.CLI.Command(inv.Args(append([]string{"up", "--detach"}, step.Services...)...)...)))
		out = append(out, fmt.Sprintf("# then wait until ready: %s", strings.Join(step.Services, ", ")))
		if i == fetchAt && !s.fetched {
			out = append(out, fmt.Sprintf("# then fetch secrets from Infisical; later stages get them through %s", s.handoverPath()))
			inv.EnvFile = s.handoverPath()
			if s.via == secrets.ViaEnv {
				inv.EnvFile = ""
			}
		}
	}
	return out, nil
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
