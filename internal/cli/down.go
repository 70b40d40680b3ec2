package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/docker"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/stack"
)

type downOptions struct {
	global  *globalOptions
	volumes bool
}

func newDownCmd(d *deps, g *globalOptions) *cobra.Command {
	o := &downOptions{global: g}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop and remove every container and network of the project, whatever profile started it",
		Args:  g.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDown(cmd.Context(), d, o)
		},
	}
	cmd.Flags().BoolVar(&o.volumes, "volumes", false, "also remove the project's volumes (their data is lost)")
	return cmd
}

// runDown needs neither the env file nor Infisical: compose finds the project's
// resources by their labels, so a broken .env cannot keep a stack from stopping.
func runDown(ctx context.Context, d *deps, o *downOptions) error {
	g := o.global
	p := &plan{}
	defer p.close()
	if !g.DryRun {
		var err error
		if p.lock, err = acquireLock(ctx, d, g); err != nil {
			return err
		}
	}
	if l, err := stack.Open(absDir(d, g), g.Files, g.Environment); err == nil {
		p.layout = l
		if err := removeStale(d, g, p.handoverPath(), p.lock != nil); err != nil {
			g.ui.Warn("%s", err)
		}
	}
	engine, err := docker.Open(ctx, d.env.Getenv)
	if err != nil {
		return err
	}
	defer engine.Close()
	finder := d.finder(g, true)
	cli, err := finder.Find(ctx)
	if err != nil {
		return err
	}
	args := compose.DownAll(g.Project, o.volumes)
	if g.DryRun {
		fmt.Fprintln(d.env.Stdout, compose.Quote(cli.Command(args...)))
		return nil
	}
	existing, err := engine.ProjectContainers(ctx, g.Project)
	if err != nil {
		return exitcode.With(exitcode.Unavailable, err)
	}
	if len(existing) == 0 && !o.volumes {
		g.ui.Success("project %s has no containers", g.Project)
		return nil
	}
	p.cli = cli
	p.composeEnv, _ = secrets.ComposeEnv(d.env.Environ, nil, secrets.ViaFile)
	runner, flush := composeRunner(d, g, p)
	defer flush()
	what := " and its networks"
	if o.volumes {
		what = ", its networks and its volumes"
	}
	g.ui.Step("removing project %s: %s%s", g.Project, plural(len(existing), "container"), what)
	if err := runner.Run(ctx, args...); err != nil {
		return err
	}
	flush()
	g.ui.Success("project %s is down", g.Project)
	return nil
}

// absDir is the stack directory: -C, relative to the working directory.
func absDir(d *deps, g *globalOptions) string {
	if filepath.IsAbs(g.Dir) {
		return g.Dir
	}
	return filepath.Join(d.env.Dir, g.Dir)
}
