package launch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/docker"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/stack"
)

// FileVariablePrefix starts the name of every project variable through which
// startsvc hands a file-delivered value to compose. startsvc sets these
// itself; a variable of that name from .env, Infisical or the shell is
// overridden.
const FileVariablePrefix = "STARTSVC_FILE_"

// fileSecret is one key a service receives as a file in this run.
type fileSecret struct {
	stack.FileSecret
	service string
	// variable is the project variable that carries the value to compose, and
	// the name of the compose secret sourced from it.
	variable string
	refs     []string // the project variables the key's value interpolates
	value    string
}

// fileReader reads a file of a container: the Engine, or a fake in tests.
type fileReader interface {
	ReadFile(ctx context.Context, id, path string, limit int64) ([]byte, error)
}

var _ fileReader = (*docker.Engine)(nil)

// planFileSecrets adds to ov, for every declaration of file-secrets.yml, a
// compose secret sourced from a project variable of its own, its mount in the
// service at /run/secrets/<KEY> with the declared owner and mode, the
// variable naming the file, and the removal of the key from the service's
// environment; and it records the values those variables carry, which
// reach compose through the same channel as every other value. Declarations
// (env_only included) that name services the files do not define, a key
// outside the service's environment: section, and compose older than
// FeatureFileSecrets needs (exit 3) are refused. all is the project as loaded
// without the overlay.
func (s *Stack) planFileSecrets(ctx context.Context, all *compose.Project, ov *overlay) error {
	r, err := loadRules(s.Layout.Dir)
	if err != nil || (len(r.files) == 0 && len(r.envOnly) == 0) {
		return err
	}
	services := all.AllServices()
	names := slices.Sorted(maps.Keys(services))
	if err := r.files.Check(names); err != nil {
		return err
	}
	if err := r.envOnly.Check(names); err != nil || len(r.files) == 0 {
		return err
	}
	decl := r.files
	if f := compose.FeatureFileSecrets.Version; !s.CLI.Version.AtLeast(f.Major, f.Minor, f.Patch) {
		return exitcode.With(exitcode.Unavailable, fmt.Errorf("%s delivers secrets as files, through compose secrets sourced from "+
			"environment variables; that needs compose >= %s (files a non-root user can read since 2.19.0, the removal of a "+
			"variable from a service's environment with !reset since 2.24.4); %s is %s: upgrade the Docker Compose plugin "+
			"(https://docs.docker.com/compose/install/)", stack.FileSecretsFile, f, s.CLI.Name(), s.CLI.Version))
	}
	spec := s.spec()
	spec.Files = s.Layout.Files
	raw, err := compose.EnvironmentVariables(ctx, spec)
	if err != nil {
		return err
	}
	if err := decl.CheckKeys(raw, func(service, variable string) bool {
		_, set := services[service].Environment[variable]
		return set
	}); err != nil {
		return err
	}
	used := map[string]bool{}
	for _, name := range decl.Services() {
		svc := services[name]
		for _, f := range decl.For(name) {
			refs := raw[name][f.Key]
			fs := fileSecret{FileSecret: f, service: name, variable: uniqueName(fileVariable(name, f.Key), used), refs: refs}
			if v := svc.Environment[f.Key]; v != nil {
				fs.value = *v
			}
			s.fileSecrets = append(s.fileSecrets, fs)
			s.fileValues[fs.variable] = fs.value
			s.l.Redactor.Add(fs.value)

			ov.secrets[fs.variable] = fs.variable
			so := ov.service(name)
			path := f.Path()
			so.env[f.Key] = nil
			so.env[f.FileEnv] = &path
			ref := types.ServiceSecretConfig{Source: fs.variable, Target: f.Key, UID: f.UID, GID: f.GID}
			if f.Mode != nil {
				m := types.FileMode(*f.Mode)
				ref.Mode = &m
			}
			so.secrets = append(so.secrets, ref)
		}
	}
	return nil
}

// fileVariable is the project variable for a key of a service:
// STARTSVC_FILE_<SERVICE>_<KEY>, upper case, anything but letters and digits
// turned into _.
func fileVariable(service, key string) string {
	up := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z':
				return r - 'a' + 'A'
			case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
				return r
			}
			return '_'
		}, s)
	}
	return FileVariablePrefix + up(service) + "_" + up(key)
}

// uniqueName returns name, or name_2, name_3… when an earlier one took it
// (services "a-b" and "a_b" map to the same variable).
func uniqueName(name string, used map[string]bool) string {
	out := name
	for i := 2; used[out]; i++ {
		out = name + "_" + strconv.Itoa(i)
	}
	used[out] = true
	return out
}

// checkFileSecrets verifies, on the project loaded with the overlay, that
// every file-delivered key left the service's environment. Compose removes
// one variable (!reset) only from an environment written as a mapping in a
// single compose file; an env_file would supply it again.
func (s *Stack) checkFileSecrets(all *compose.Project) error {
	services := all.AllServices()
	for _, f := range s.fileSecrets {
		svc := services[f.service]
		if _, still := svc.Environment[f.Key]; !still {
			continue
		}
		for _, ef := range svc.EnvFiles {
			data, err := os.ReadFile(ef.Path)
			if err != nil {
				continue
			}
			if vals, err := compose.ParseEnv(ef.Path, data, nil); err == nil {
				if _, ok := vals[f.Key]; ok {
					return exitcode.Usagef("%s: service %s takes %s as a file, but its env_file %s sets %s too: remove it there",
						stack.FileSecretsFile, f.service, f.Key, filepath.Base(ef.Path), f.Key)
				}
			}
		}
		return exitcode.Usagef("%s: service %s takes %s as a file, but compose cannot remove %s from the service's environment: "+
			"it removes one variable only from an environment: written as a mapping (KEY: value) in a single compose file, "+
			"and this one is a list (- KEY=value) or set in more than one file", stack.FileSecretsFile, f.service, f.Key, f.Key)
	}
	return nil
}

// filesOf returns the file secrets of one service.
func (s *Stack) filesOf(service string) []fileSecret {
	var out []fileSecret
	for _, f := range s.fileSecrets {
		if f.service == service {
			out = append(out, f)
		}
	}
	return out
}

// changedFiles compares the file-delivered secrets of a service, read from
// each of its containers into memory, with the values this run would give
// it: compose's own configuration hash leaves secret content out, so a
// changed value leaves the hash equal. It returns a reason per key that
// differs, and the variables behind those keys. Values are compared, never
// shown.
func (s *Stack) changedFiles(ctx context.Context, cs []docker.Container, files []fileSecret) ([]string, []Variable, error) {
	reader := s.files
	if reader == nil {
		reader = s.Engine
	}
	var reasons []string
	var vars []Variable
	seen := map[string]bool{}
	for _, f := range files {
		why := ""
		for _, c := range cs {
			if c.State == "dead" || c.State == "removing" {
				continue // recreated for its state
			}
			got, err := reader.ReadFile(ctx, c.ID, f.Path(), int64(len(f.value)))
			switch {
			case errors.Is(err, docker.ErrNoFile):
				why = "file secret " + f.Key + " missing in the container"
			case errors.Is(err, docker.ErrFileTooLarge):
				why = "file secret " + f.Key + " changed"
			case err != nil:
				return nil, nil, exitcode.With(exitcode.Unavailable, err)
			case string(got) != f.value:
				why = "file secret " + f.Key + " changed"
			}
			if why != "" {
				break
			}
		}
		if why == "" {
			continue
		}
		reasons = append(reasons, why)
		if len(f.refs) == 0 && !seen["\x00"+f.Key] {
			seen["\x00"+f.Key] = true
			vars = append(vars, Variable{Name: f.Key, Source: "compose file"})
		}
		for _, n := range f.refs {
			if !seen[n] {
				seen[n] = true
				vars = append(vars, Variable{Name: n, Source: s.source(n)})
			}
		}
	}
	return reasons, vars, nil
}
