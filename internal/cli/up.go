package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/secrets"
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
		return "", nil, exitcode.With(exitcode.Failure, err)
	}
	g.ui.Detail("wrote %s (mode 0600, %d variables); it is removed when compose returns", path, len(p.resolved.Values))
	return path, remove, nil
}

func runUp(ctx context.Context, d *deps, o *upOptions) (err error) {
	g := o.global
	p, err := preflight(ctx, d, g, preflightOptions{requirements: true})
	if err != nil {
		return err
	}
	defer p.close()

	inv := compose.Invocation{Project: g.Project, Dir: p.layout.Dir, Files: p.layout.Files, Profiles: p.profile.Compose}
	envFile, remove, err := p.handover(g, g.DryRun)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := remove(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	inv.EnvFile = envFile
	downArgs := compose.DownAll(g.Project, false)
	upArgs := inv.Args("up", "--detach")

	if g.DryRun {
		w := d.env.Stdout
		if envFile == p.handoverPath() {
			fmt.Fprintf(w, "# would write %s (mode 0600): %d variables, removed when compose returns\n", envFile, len(p.resolved.Values))
		}
		fmt.Fprintln(w, compose.Quote(p.cli.Command(downArgs...)))
		fmt.Fprintln(w, compose.Quote(p.cli.Command(upArgs...)))
		return nil
	}

	runner, flush := composeRunner(d, g, p)
	defer flush()
	existing, err := p.engine.ProjectContainers(ctx, g.Project)
	if err != nil {
		return exitcode.With(exitcode.Unavailable, err)
	}
	if len(existing) > 0 {
		g.ui.Step("removing %s of project %s, whatever profile started them", plural(len(existing), "container"), g.Project)
		if err := runner.Run(ctx, downArgs...); err != nil {
			return interrupted(g, err)
		}
	}
	g.ui.Step("starting project %s: profile %s, environment %s (%s)", g.Project, p.profile.Name, g.Environment,
		strings.Join(p.project.Active(), ", "))
	if err := runner.Run(ctx, upArgs...); err != nil {
		return interrupted(g, err)
	}
	// The last compose command that reads the hand-over file has returned.
	if err := remove(); err != nil {
		return err
	}
	flush()
	g.ui.Success("project %s is up", g.Project)
	return nil
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
