package launch

import (
	"fmt"
	"reflect"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/startsvc/startsvc/internal/envgen"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/secrets"
)

// Config is the compose configuration exactly as compose will see it for the
// selected profile and environment, every secret value masked (see
// resolvedConfig). Render it with its MarshalYAML or MarshalJSON, then pass
// the bytes through the Launcher's Redactor once more.
func (s *Stack) Config() (*types.Project, error) {
	s.maskAlso()
	proj, err := resolvedConfig(s.Project.Project, s.l.Redactor)
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, fmt.Errorf("config: %w", err))
	}
	return proj, nil
}

// maskAlso teaches the redactor the values config must hide beyond what the
// plan already masks: every secret init generates (not every name says it is
// one, POOLER_TENANT_ID for instance), and shell variables whose name says
// they are secrets, which compose interpolates too.
func (s *Stack) maskAlso() {
	for _, k := range envgen.Keys() {
		if v, ok := s.resolved.Values[k]; ok {
			s.l.Redactor.Add(v)
		}
	}
	for k, v := range secrets.EnvMap(s.l.Env.Environ) {
		if !secrets.Reserved(k) && secrets.LooksSecret(k, v) {
			s.l.Redactor.Add(v)
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
