package cli

import (
	"context"

	"github.com/spf13/cobra"
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
	lines, err := launcher(d, o.global).Down(ctx, o.volumes)
	if err != nil {
		return err
	}
	return printLines(d, lines)
}
