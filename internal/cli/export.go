package cli

import (
	"context"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/launch"
)

type exportOptions struct {
	global *globalOptions
	format string
	output string
}

func newExportCmd(d *deps, g *globalOptions) *cobra.Command {
	o := &exportOptions{global: g}
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Print the resolved variables (.env merged with Infisical) or write them to a 0600 file",
		Long: `Print the variables startsvc would give compose — .env merged with Infisical,
Infisical winning — to standard output, or with -o to a new file readable by its
owner only. This is the one command whose purpose is to show values.

Formats:
  dotenv  compose v2's env-file dialect: compose reads it back exactly
  json    one object, keys sorted
  shell   export KEY='value' lines for a POSIX shell`,
		Example: `  startsvc export -o secrets.env
  eval "$(startsvc export --format shell)"`,
		Args: g.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExport(cmd.Context(), d, o)
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "dotenv", "dotenv, json or shell")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "write to this new file (mode 0600) instead of standard output")
	return cmd
}

func runExport(ctx context.Context, d *deps, o *exportOptions) error {
	if !slices.Contains(launch.ExportFormats(), o.format) {
		return exitcode.Usagef("--format %q: want dotenv, json or shell", o.format)
	}
	s, err := launcher(d, o.global).Preflight(ctx, launch.Checks{VariablesOnly: true})
	if err != nil {
		return err
	}
	defer s.Close()
	data, err := s.Export(o.format)
	if err != nil {
		return err
	}
	if o.output == "" {
		_, err := d.env.Stdout.Write(data)
		return err
	}
	path := o.output
	if !filepath.IsAbs(path) {
		path = filepath.Join(d.env.Dir, path)
	}
	if err := launch.WriteExport(path, data); err != nil {
		return err
	}
	o.global.ui.Success("wrote %s to %s (mode 0600)", plural(len(s.Values()), "variable"), o.output)
	return nil
}
