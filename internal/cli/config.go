package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/launch"
	"github.com/startsvc/startsvc/internal/secrets"
)

// configOptions are config's flags.
type configOptions struct {
	global *globalOptions
	format string
}

func newConfigCmd(d *deps, g *globalOptions) *cobra.Command {
	o := &configOptions{global: g}
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the resolved compose configuration of a profile and environment, secrets masked",
		Long: `Print the compose configuration exactly as compose will see it for the selected
profile and environment: every file merged, every variable interpolated with the
values of the shell, .env and Infisical, only the services the profile
activates, and each service's environment resolved.

Every secret value is shown as ` + secrets.Mask + `, also inside longer strings such as
connection URLs: the values from Infisical, the .env and shell values that are
not plainly settings (numbers, flags, paths, plain words and URLs without
credentials stay readable), and the secrets init generates. Profile requirements
(a GPU runtime, devices) are not checked: config works on any machine.`,
		Example: `  startsvc config --profile gpu-nvidia --environment public
  startsvc config --format json > resolved.json`,
		Args: g.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConfig(cmd.Context(), d, o)
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "yaml", "yaml or json")
	return cmd
}

func runConfig(ctx context.Context, d *deps, o *configOptions) error {
	g := o.global
	if o.format != "yaml" && o.format != "json" {
		return exitcode.Usagef("--format %q: want yaml or json", o.format)
	}
	s, err := launcher(d, g).Preflight(ctx, launch.Checks{Requirements: false})
	if err != nil {
		return err
	}
	defer s.Close()
	proj, err := s.Config()
	if err != nil {
		return err
	}
	var out []byte
	if o.format == "json" {
		out, err = proj.MarshalJSON()
		out = append(out, '\n')
	} else {
		out, err = proj.MarshalYAML()
	}
	if err != nil {
		return exitcode.With(exitcode.Failure, fmt.Errorf("config: %w", err))
	}
	// The values were masked in the project; this catches one that only the
	// rendering put together.
	if _, err := d.env.Stdout.Write([]byte(g.redactor.String(string(out)))); err != nil {
		return err
	}
	g.ui.Detail("profile %s, environment %s: %s; secret values shown as %s",
		s.Profile.Name, g.Environment, plural(len(proj.Services), "service"), secrets.Mask)
	return nil
}
