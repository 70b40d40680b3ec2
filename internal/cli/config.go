package cli

import (
	"context"
	"fmt"
	"reflect"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/envgen"
	"github.com/startsvc/startsvc/internal/exitcode"
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
	p, err := preflight(ctx, d, g, preflightOptions{requirements: false})
	if err != nil {
		return err
	}
	defer p.close()
	maskAlso(d, g, p.resolved.Values)

	proj, err := resolvedConfig(p.project.Project, g.redactor)
	if err != nil {
		return exitcode.With(exitcode.Usage, fmt.Errorf("config: %w", err))
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
		p.profile.Name, g.Environment, plural(len(proj.Services), "service"), secrets.Mask)
	return nil
}

// maskAlso teaches the redactor the values config must hide beyond what the
// plan already masks: every secret init generates (not every name says it is
// one, POOLER_TENANT_ID for instance), and shell variables whose name says
// they are secrets, which compose interpolates too.
func maskAlso(d *deps, g *globalOptions, resolved map[string]string) {
	for _, k := range envgen.Keys() {
		if v, ok := resolved[k]; ok {
			g.redactor.Add(v)
		}
	}
	for k, v := range secrets.EnvMap(d.env.Environ) {
		if !secrets.Reserved(k) && secrets.LooksSecret(k, v) {
			g.redactor.Add(v)
		}
	}
}

// resolvedConfig is what `compose config` prints for a loaded project: each
// service's environment resolved (env_file entries and bare names filled
// from the project's environment), only the networks, volumes, secrets and
// configs the services use, and every string masked by redactor. A value
// that reached a service's environment from outside the compose files (a
// bare name, an env_file) is masked whole when its name says it is a secret,
// since the redactor may not know it.
func resolvedConfig(p *types.Project, redactor *secrets.Redactor) (*types.Project, error) {
	literal := map[string]map[string]bool{}
	for name, s := range p.Services {
		literal[name] = map[string]bool{}
		for k, v := range s.Environment {
			if v != nil {
				literal[name][k] = true
			}
		}
	}
	resolved, err := p.WithServicesEnvironmentResolved(true)
	if err != nil {
		return nil, err
	}
	resolved = resolved.WithoutUnnecessaryResources()
	for name, s := range resolved.Services {
		for k, v := range s.Environment {
			if v != nil && *v != "" && !literal[name][k] && secrets.ShouldMask(k, *v) {
				masked := secrets.Mask
				s.Environment[k] = &masked
			}
		}
	}
	maskStrings(reflect.ValueOf(resolved).Elem(), redactor.String, 0)
	return resolved, nil
}

// maskStrings replaces, in place, every string reachable from v through
// exported fields, pointers, interfaces, slices and map values with
// mask(string). Map keys are left alone: they are names.
func maskStrings(v reflect.Value, mask func(string) string, depth int) {
	if depth > 64 {
		return
	}
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			if s := v.String(); s != "" {
				if m := mask(s); m != s {
					v.SetString(m)
				}
			}
		}
	case reflect.Pointer:
		if !v.IsNil() {
			maskStrings(v.Elem(), mask, depth+1)
		}
	case reflect.Interface:
		if v.IsNil() || !v.CanSet() {
			return
		}
		inner := reflect.New(v.Elem().Type()).Elem()
		inner.Set(v.Elem())
		maskStrings(inner, mask, depth+1)
		v.Set(inner)
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				maskStrings(f, mask, depth+1)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			maskStrings(v.Index(i), mask, depth+1)
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		for _, k := range v.MapKeys() {
			elem := reflect.New(v.Type().Elem()).Elem()
			elem.Set(v.MapIndex(k))
			maskStrings(elem, mask, depth+1)
			v.SetMapIndex(k, elem)
		}
	}
}
