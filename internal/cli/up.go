package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/health"
	"github.com/startsvc/startsvc/internal/launch"
)

type upOptions struct {
	global *globalOptions
	watch  bool
	watchOptions
}

// newUpOptions are up's own flags, kept with the global ones: the root
// command is up too, and shares them.
func newUpOptions(g *globalOptions) *upOptions {
	if g.up == nil {
		g.up = &upOptions{global: g}
	}
	return g.up
}

func newUpCmd(d *deps, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Bring the stack up (the default command)",
		Long: `Bring the stack up: check everything first, then converge the running project
onto the selected profile and environment with their variables from .env and
Infisical. Services whose configuration (image, settings, every variable's
value) is unchanged keep running untouched; changed ones are recreated, new
ones created, stopped ones started, stage by stage, each stage health-gated;
containers of services outside the selection (another profile, removed from
the files, orphans) are removed. 'startsvc plan' shows what up would do.

--fresh removes every container of the project first and creates everything
anew, as the original start script did: for a wedged stack (containers that
keep failing whatever their configuration, state left by a crashed Engine).`,
		Args: g.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUp(cmd.Context(), d, newUpOptions(g))
		},
	}
	addUpFlags(cmd, g)
	return cmd
}

// addUpFlags are the flags of up, which is also the root command.
func addUpFlags(cmd *cobra.Command, g *globalOptions) {
	o := newUpOptions(g)
	cmd.Flags().BoolVar(&g.Fresh, "fresh", false, "remove every container of the project first, then create everything anew")
	cmd.Flags().BoolVar(&o.watch, "watch", false, "once up, keep the stack in step with Infisical and .env (see startsvc watch --help)")
	addWatchFlags(cmd, &o.watchOptions)
}

func runUp(ctx context.Context, d *deps, o *upOptions) error {
	g := o.global
	if o.watch {
		if err := o.watchOptions.validate(); err != nil {
			return err
		}
	} else if o.json {
		return exitcode.Usagef("--json goes with --watch (up prints a table; watch prints events)")
	}
	l := launcher(d, g)
	s, err := l.Preflight(ctx, launch.Checks{Requirements: true, DeferSecrets: true, Lock: !g.DryRun, Prepare: true})
	if err != nil {
		return err
	}
	defer s.Close()
	if g.DryRun {
		dry, err := s.DryRun(ctx)
		if err != nil {
			return err
		}
		if err := writePlan(d.env.Stdout, dry.Plan); err != nil {
			return err
		}
		fmt.Fprintln(d.env.Stdout)
		return printLines(d, dry.Commands)
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
	if o.watch && !g.DryRun {
		s.Close()
		return runWatch(ctx, d, g, &o.watchOptions)
	}
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
