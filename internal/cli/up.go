package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/health"
	"github.com/startsvc/startsvc/internal/launch"
)

type upOptions struct {
	global *globalOptions
}

func newUpOptions(g *globalOptions) *upOptions { return &upOptions{global: g} }

func newUpCmd(d *deps, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "up",
		Short: "Bring the stack up (the default command)",
		Long: `Bring the stack up: check everything first, remove what runs of the project
under any profile, then start the services of the selected profile and
environment with their variables from .env and Infisical.`,
		Args: g.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUp(cmd.Context(), d, newUpOptions(g))
		},
	}
}

func runUp(ctx context.Context, d *deps, o *upOptions) error {
	g := o.global
	l := launcher(d, g)
	s, err := l.Preflight(ctx, launch.Checks{Requirements: true, DeferSecrets: true, Lock: !g.DryRun, Prepare: true})
	if err != nil {
		return err
	}
	defer s.Close()
	if g.DryRun {
		lines, err := s.Commands()
		if err != nil {
			return err
		}
		return printLines(d, lines)
	}
	if err := s.Up(ctx); err != nil {
		return err
	}
	if !g.Quiet {
		if st, err := s.Summary(ctx); err == nil {
			fmt.Fprintln(d.env.Stdout)
			_ = health.WriteTable(d.env.Stdout, st, g.ui.Paint)
		}
	}
	g.ui.Success("project %s is up", g.Project)
	return nil
}

// printLines writes lines to standard output, one each.
func printLines(d *deps, lines []string) error {
	for _, line := range lines {
		if _, err := fmt.Fprintln(d.env.Stdout, line); err != nil {
			return err
		}
	}
	return nil
}
