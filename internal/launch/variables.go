package launch

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/secrets"
)

// ExportFormats are the formats Export renders, sorted.
func ExportFormats() []string {
	names := make([]string, 0, len(exportFormats))
	for k := range exportFormats {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// Export renders the resolved variables in format (one of ExportFormats). A
// value the format cannot carry exactly is a usage error naming its key.
func (s *Stack) Export(format string) ([]byte, error) {
	render, ok := exportFormats[format]
	if !ok {
		return nil, exitcode.Usagef("--format %q: want dotenv, json or shell", format)
	}
	data, err := render(s.resolved.Values)
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, err)
	}
	return data, nil
}

// WriteExport writes what Export renders to a new file at path, mode 0600.
func WriteExport(path string, data []byte) error {
	if _, err := secrets.CreateFile(path, data); err != nil {
		return exitcode.With(exitcode.Failure, err)
	}
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

// ChildEnv is the environment of a command run with the resolved variables:
// the shell's, with every supplied variable set (Infisical winning over both
// .env and the shell) except reserved names, which keep the shell's value. An
// environment the kernel would refuse is a usage error naming the key.
func (s *Stack) ChildEnv() ([]string, error) {
	env, _ := secrets.ComposeEnv(s.l.Env.Environ, s.resolved.Values, secrets.ViaEnv)
	env = withoutComposeControl(env)
	if err := secrets.CheckEnv(env); err != nil {
		return nil, err
	}
	return env, nil
}

// withoutComposeControl removes the COMPOSE_* settings ComposeEnv adds for
// compose's own benefit; a command run by the user gets the shell's.
func withoutComposeControl(env []string) []string {
	out := env[:0]
	for _, kv := range env {
		if kv == "COMPOSE_PROFILES=" || kv == "COMPOSE_DISABLE_ENV_FILE=1" {
			continue
		}
		out = append(out, kv)
	}
	return out
}
