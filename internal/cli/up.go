package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/health"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/stack"
	"github.com/startsvc/startsvc/internal/ui"
)

type upOptions struct {
	global *globalOptions
}

func newUpCmd(d *deps, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "up",
		Short: "Bring the stack up (the default command)",
		Long: `Bring the stack up: check everything first, remove what runs of the project
under any profile, then start the services of the selected profile and
environment with their variables from .env and Infisical.`,
		Args: g.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUp(cmd.Context(), d, &upOptions{global: g})
		},
	}
}

// composeRunner returns a runner whose output passes through the redactor;
// flush writes out what it still holds.
func composeRunner(d *deps, g *globalOptions, p *plan) (r *compose.Runner, flush func()) {
	stdout := g.redactor.Writer(d.env.Stdout)
	stderr := g.redactor.Writer(d.env.Stderr)
	if g.Quiet {
		stdout, stderr = nopCloser{io.Discard}, nopCloser{io.Discard}
	}
	r = &compose.Runner{
		CLI:     p.cli,
		Env:     p.composeEnv,
		Dir:     p.layout.Dir,
		Stdout:  stdout,
		Stderr:  stderr,
		Command: d.command,
	}
	return r, func() { stdout.Close(); stderr.Close() }
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// handover decides how the supplied variables reach compose and returns the
// --env-file to pass ("" for none) and a function that removes a file written for
// it. Without remote values the stack's own env file is passed as it is; with
// them, a merged 0600 file is written unless dryRun.
func (p *plan) handover(g *globalOptions, dryRun bool) (envFile string, remove func() error, err error) {
	noop := func() error { return nil }
	switch {
	case p.via == secrets.ViaEnv:
		return "", noop, nil
	case p.resolved.FromRemoteCount() == 0:
		if p.hasEnvFile {
			return p.envFile, noop, nil
		}
		return "", noop, nil
	}
	data, err := compose.FormatEnv(p.resolved.Values, secrets.Header()...)
	if err != nil {
		return "", nil, exitcode.With(exitcode.Usage, err)
	}
	if err := compose.VerifyEnv(data, p.resolved.Values); err != nil {
		return "", nil, exitcode.With(exitcode.Failure, err)
	}
	path := p.handoverPath()
	if dryRun {
		return path, noop, nil
	}
	remove, err = secrets.CreateFile(path, data)
	if err != nil {
		return "", nil, handoverError(err)
	}
	g.ui.Detail("wrote %s (mode 0600, %d variables); it is removed when compose returns", path, len(p.resolved.Values))
	return path, remove, nil
}

func runUp(ctx context.Context, d *deps, o *upOptions) (err error) {
	g := o.global
	p, err := preflight(ctx, d, g, preflightOptions{requirements: true, deferSecrets: true, lock: !g.DryRun, prepare: true})
	if err != nil {
		return err
	}
	defer p.close()
	if g.DryRun {
		return p.printPlan(d, g)
	}

	// The hand-over file exists from before the first compose command that
	// needs it to the return of the last one, and is removed on every way out.
	// It is written before anything changes: a stack directory startsvc cannot
	// write to must stop it while the project still runs untouched.
	inv := compose.Invocation{Project: g.Project, Dir: p.layout.Dir, Files: p.layout.Files, Profiles: p.profile.Compose}
	remove := func() error { return nil }
	defer func() {
		if rerr := remove(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	handover := func() error {
		if err := remove(); err != nil { // the file of the stages before the fetch, if any
			return err
		}
		envFile, rm, err := p.handover(g, false)
		if err != nil {
			return err
		}
		inv.EnvFile, remove = envFile, rm
		return nil
	}
	if err := handover(); err != nil {
		return err
	}
	if !p.fetched && p.via == secrets.ViaFile {
		if err := secrets.CheckWritable(p.layout.Dir); err != nil {
			return handoverError(err)
		}
	}

	runner, flush := composeRunner(d, g, p)
	defer flush()
	if !p.fetched {
		runner.Env = p.earlyEnv()
	}
	existing, err := p.engine.ProjectContainers(ctx, g.Project)
	if err != nil {
		return exitcode.With(exitcode.Unavailable, err)
	}
	if len(existing) > 0 {
		g.ui.Step("removing %s of project %s, whatever profile started them", plural(len(existing), "container"), g.Project)
		if err := runner.Run(ctx, compose.DownAll(g.Project, false)...); err != nil {
			return interrupted(g, err)
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, g.WaitTimeout)
	defer cancel()
	waiter := health.New(p.engine.Client(), g.redactor.String)
	oneShots := health.OneShots(p.project.Project)
	fetchAt := p.fetchStep()
	g.ui.Step("starting project %s: profile %s, environment %s", g.Project, p.profile.Name, g.Environment)
	for i, step := range p.steps {
		if len(p.steps) > 1 {
			g.ui.Step("stage %d/%d %s: %s", i+1, len(p.steps), step.Name, strings.Join(step.Services, ", "))
		}
		if err := runner.Run(ctx, inv.Args(append([]string{"up", "--detach"}, step.Services...)...)...); err != nil {
			return interrupted(g, err)
		}
		flush()
		if err := p.waitStep(waitCtx, d, g, waiter, step, oneShots); err != nil {
			return interrupted(g, err)
		}
		if i == fetchAt {
			if err := p.fetchSecrets(ctx, d, g); err != nil {
				return err
			}
			runner.Env = p.composeEnv
			if err := handover(); err != nil {
				return err
			}
		}
	}
	// The last compose command that reads the hand-over file has returned.
	if err := remove(); err != nil {
		return err
	}
	if !g.Quiet {
		st, err := health.Collect(ctx, p.engine.Client(), health.Scope{Project: g.Project, Services: p.project.Active(), OneShot: oneShots})
		if err == nil {
			fmt.Fprintln(d.env.Stdout)
			_ = health.WriteTable(d.env.Stdout, st, g.ui.Paint)
		}
	}
	g.ui.Success("project %s is up", g.Project)
	return nil
}

// waitStep waits until the step's services are ready (and its URL answers),
// showing progress; a failure names the service and shows its last log lines.
func (p *plan) waitStep(ctx context.Context, d *deps, g *globalOptions, w *health.Waiter, step stack.Step, oneShots []string) error {
	var prog *ui.Progress
	if !g.Quiet {
		prog = ui.NewProgress(g.ui, isTerminal(d.env.Stderr))
		prog.Start(step.Services...)
		w.Report = prog
	}
	err := w.Wait(ctx, health.Scope{Project: g.Project, Services: step.Services, OneShot: oneShots})
	if prog != nil {
		prog.Stop()
	}
	if err == nil && step.ReadyURL != "" {
		g.ui.Detail("waiting for %s to answer", step.ReadyURL)
		err = health.WaitURL(ctx, nil, step.ReadyURL, 0)
	}
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); errors.Is(cause, exitcode.ErrInterrupted) {
		return cause
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (--wait-timeout %s)", err, g.WaitTimeout)
	}
	return exitcode.With(exitcode.Failure, fmt.Errorf("%w\n`startsvc status` shows every service; `startsvc down` removes the project", err))
}

// printPlan is --dry-run: the compose commands up would run, in order.
func (p *plan) printPlan(d *deps, g *globalOptions) error {
	w := d.env.Stdout
	envFile, _, err := p.handover(g, true)
	if err != nil {
		return err
	}
	inv := compose.Invocation{Project: g.Project, Dir: p.layout.Dir, Files: p.layout.Files, Profiles: p.profile.Compose, EnvFile: envFile}
	fmt.Fprintln(w, compose.Quote(p.cli.Command(compose.DownAll(g.Project, false)...)))
	fetchAt := p.fetchStep()
	for i, step := range p.steps {
		if envFile == p.handoverPath() && (i == 0 || i == fetchAt+1) {
			fmt.Fprintf(w, "# would write %s (mode 0600): %d variables, removed when compose returns\n", envFile, len(p.resolved.Values))
		}
		fmt.Fprintln(w, compose.Quote(p.cli.Command(inv.Args(append([]string{"up", "--detach"}, step.Services...)...)...)))
		fmt.Fprintf(w, "# then wait until ready: %s\n", strings.Join(step.Services, ", "))
		if i == fetchAt && !p.fetched {
			fmt.Fprintf(w, "# then fetch secrets from Infisical; later stages get them through %s\n", p.handoverPath())
			inv.EnvFile = p.handoverPath()
			if p.via == secrets.ViaEnv {
				inv.EnvFile = ""
			}
		}
	}
	return nil
}

// handoverError is a failure to write the hand-over file: a configuration
// problem of the stack directory, found before anything changed.
func handoverError(err error) error {
	return exitcode.With(exitcode.Usage, fmt.Errorf("%w\nstartsvc writes its 0600 hand-over file there: make the stack directory writable, or use --secrets-via env", err))
}

// interrupted adds what to do next to an error that ended a run midway.
func interrupted(g *globalOptions, err error) error {
	if exitcode.Of(nil, err) == exitcode.Interrupted {
		g.ui.Info("stopped before the stack was complete; `startsvc down -p %s` removes what was started", g.Project)
	}
	return err
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
