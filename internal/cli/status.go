package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/health"
)

type statusOptions struct {
	global *globalOptions
	json   bool
}

func newStatusCmd(d *deps, g *globalOptions) *cobra.Command {
	o := &statusOptions{global: g}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each service of the project: state, health and URL",
		Long: `Show each service of the project with its state, health and the URL a person
opens. It reads the Engine only: no .env, compose file or Infisical is needed.

Exit status: 0 when every service is ready (healthy; running without a
healthcheck; a one-shot job that exited 0), 1 when one is not or the project has
no containers, 3 when the Engine does not answer.

--json prints {"project": NAME, "ready": BOOL, "services": [{"service",
"container", "state", "health", "exit_code", "one_shot", "ready", "ports":
[{"host_ip", "host_port", "container_port", "protocol"}], "url"}]}.`,
		Args: g.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), d, o)
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print a JSON document (shape above) instead of a table")
	return cmd
}

func runStatus(ctx context.Context, d *deps, o *statusOptions) error {
	g := o.global
	st, err := launcher(d, g).Status(ctx)
	if err != nil {
		return err
	}
	if o.json {
		if err := health.WriteJSON(d.env.Stdout, g.Project, st); err != nil {
			return err
		}
	} else if len(st) > 0 {
		if err := health.WriteTable(d.env.Stdout, st, g.ui.Paint); err != nil {
			return err
		}
	}
	if len(st) == 0 {
		return exitcode.With(exitcode.Failure, fmt.Errorf("project %s has no containers", g.Project))
	}
	if bad := health.Unready(st); len(bad) > 0 {
		return exitcode.With(exitcode.Failure, fmt.Errorf("not ready: %s", strings.Join(bad, ", ")))
	}
	return nil
}
