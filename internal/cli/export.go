package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/secrets"
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
	render, ok := exportFormats[o.format]
	if !ok {
		return exitcode.Usagef("--format %q: want dotenv, json or shell", o.format)
	}
	p, err := preflight(ctx, d, o.global, preflightOptions{variablesOnly: true})
	if err != nil {
		return err
	}
	defer p.close()
	data, err := render(p.resolved.Values)
	if err != nil {
		return exitcode.With(exitcode.Usage, err)
	}
	if o.output == "" {
		_, err := d.env.Stdout.Write(data)
		return err
	}
	path := o.output
	if !filepath.IsAbs(path) {
		path = filepath.Join(d.env.Dir, path)
	}
	if _, err := secrets.CreateFile(path, data); err != nil {
		return exitcode.With(exitcode.Failure, err)
	}
	o.global.ui.Success("wrote %s to %s (mode 0600)", plural(len(p.resolved.Values), "variable"), o.output)
	return nil
}

var exportFormats = map[string]func(map[string]string) ([]byte, error){
	"dotenv": func(v map[string]string) ([]byte, error) { return compose.FormatEnv(v) },
	"json": func(v map[string]string) ([]byte, error) {
		for k, val := range v {
			if err := compose.CheckValue(k, val); err != nil {
				return nil, err
			}
		}
		b, err := json.MarshalIndent(v, "", "  ")
		return append(b, '\n'), err
	},
	"shell": func(v map[string]string) ([]byte, error) {
		keys := make([]string, 0, len(v))
		for k := range v {
			if !shellName(k) {
				return nil, fmt.Errorf("variable %q cannot be a shell variable", k)
			}
			if err := compose.CheckValue(k, v[k]); err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(v[k], "'", `'\''`))
		}
		return []byte(b.String()), nil
	},
}

func shellName(k string) bool {
	for i, r := range k {
		if !(r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9')) {
			return false
		}
	}
	return k != ""
}
