package stack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/startsvc/startsvc/internal/exitcode"
)

// FileSecretsFile is where a stack directory says which keys of which service
// are delivered as files instead of environment variables, so that their
// values stay out of `docker inspect`:
//
//	services:
//	  postgres: [POSTGRES_PASSWORD]          # /run/secrets/POSTGRES_PASSWORD, POSTGRES_PASSWORD_FILE
//	  n8n:
//	    - DB_POSTGRESDB_PASSWORD
//	    - key: N8N_ENCRYPTION_KEY
//	      file_env: N8N_ENCRYPTION_KEY_FILE  # the variable that names the file (default <KEY>_FILE)
//	      uid: "1000"                        # owner of the file in the container (default 0)
//	      gid: "1000"
//	      mode: 0440                         # default 0444
//
// Each key names a variable of the service's environment: section. startsvc
// gives the service the key's resolved value as a file (compose secrets; Swarm
// secrets under deploy), sets the file_env variable to the file's path, and
// removes the key from the service's environment. Only images that read
// <KEY>_FILE (or the variable named) can use it.
//
// A second, optional section names the secrets a service keeps in its
// environment on purpose, because its image reads them from nowhere else:
//
//	env_only:
//	  flowise: [FLOWISE_PASSWORD]
//
// `startsvc audit` reports those as accepted rather than exposed; they still
// show in `docker inspect`.
const FileSecretsFile = "file-secrets.yml"

// SecretsDir is where compose and Swarm mount secrets in a container.
const SecretsDir = "/run/secrets"

// FileSecret is one key a service receives as a file.
type FileSecret struct {
	Key     string `yaml:"key"`      // the service's environment variable
	FileEnv string `yaml:"file_env"` // the variable that names the file; <Key>_FILE when empty
	UID     string `yaml:"uid"`
	GID     string `yaml:"gid"`
	Mode    *int   `yaml:"mode"`
}

// Path is where the file appears in the container.
func (f FileSecret) Path() string { return SecretsDir + "/" + f.Key }

// FileSecrets are the declarations of FileSecretsFile: service -> keys, in
// the order given.
type FileSecrets map[string][]FileSecret

// For returns the declarations of one service.
func (f FileSecrets) For(service string) []FileSecret { return f[service] }

// Services names the services with declarations, sorted.
func (f FileSecrets) Services() []string {
	out := make([]string, 0, len(f))
	for s := range f {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// LoadFileSecrets reads FileSecretsFile of the stack directory; no file means
// no declarations. A declaration that names no valid variable, or a key
// declared twice for a service, is a usage error naming the file and the key.
func LoadFileSecrets(dir string) (FileSecrets, error) {
	files, _, err := loadSecretsFile(dir)
	return files, err
}

// EnvOnly are the keys of FileSecretsFile's env_only section: service ->
// keys the service keeps in its environment because its image reads them
// from nowhere else.
type EnvOnly map[string][]string

// Has reports whether service keeps key in its environment on purpose.
func (e EnvOnly) Has(service, key string) bool { return slices.Contains(e[service], key) }

// LoadEnvOnly reads the env_only section of FileSecretsFile; no file or no
// section means none. Errors are those of LoadFileSecrets, and a key both
// delivered as a file and kept in the environment.
func LoadEnvOnly(dir string) (EnvOnly, error) {
	_, envOnly, err := loadSecretsFile(dir)
	return envOnly, err
}

// loadSecretsFile reads both sections of FileSecretsFile.
func loadSecretsFile(dir string) (FileSecrets, EnvOnly, error) {
	path := filepath.Join(dir, FileSecretsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return FileSecrets{}, EnvOnly{}, nil
	}
	if err != nil {
		return nil, nil, exitcode.Usagef("read %s: %w", FileSecretsFile, err)
	}
	var doc struct {
		Services map[string][]yaml.Node `yaml:"services"`
		EnvOnly  map[string][]yaml.Node `yaml:"env_only"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, exitcode.Usagef("%s: %w", FileSecretsFile, err)
	}
	out := FileSecrets{}
	for service, nodes := range doc.Services {
		seen := map[string]bool{}
		for _, n := range nodes {
			var fsec FileSecret
			if n.Kind == yaml.ScalarNode {
				fsec.Key = n.Value
			} else if err := n.Decode(&fsec); err != nil {
				return nil, nil, exitcode.Usagef("%s: service %s: %w", FileSecretsFile, service, err)
			}
			if fsec.FileEnv == "" {
				fsec.FileEnv = fsec.Key + "_FILE"
			}
			switch {
			case !envName.MatchString(fsec.Key):
				return nil, nil, exitcode.Usagef("%s line %d: service %s: %q is not a variable name", FileSecretsFile, n.Line, service, fsec.Key)
			case !envName.MatchString(fsec.FileEnv):
				return nil, nil, exitcode.Usagef("%s line %d: service %s: file_env %q is not a variable name", FileSecretsFile, n.Line, service, fsec.FileEnv)
			case seen[fsec.Key]:
				return nil, nil, exitcode.Usagef("%s line %d: service %s declares %s twice", FileSecretsFile, n.Line, service, fsec.Key)
			case fsec.Mode != nil && (*fsec.Mode < 0 || *fsec.Mode > 0o777):
				return nil, nil, exitcode.Usagef("%s line %d: service %s, %s: mode %o is not a file mode", FileSecretsFile, n.Line, service, fsec.Key, *fsec.Mode)
			}
			seen[fsec.Key] = true
			out[service] = append(out[service], fsec)
		}
	}
	envOnly := EnvOnly{}
	for service, nodes := range doc.EnvOnly {
		for _, n := range nodes {
			key := n.Value
			switch {
			case n.Kind != yaml.ScalarNode || !envName.MatchString(key):
				return nil, nil, exitcode.Usagef("%s line %d: env_only, service %s: %q is not a variable name", FileSecretsFile, n.Line, service, key)
			case envOnly.Has(service, key):
				return nil, nil, exitcode.Usagef("%s line %d: env_only names %s of service %s twice", FileSecretsFile, n.Line, key, service)
			case slices.ContainsFunc(out[service], func(f FileSecret) bool { return f.Key == key }):
				return nil, nil, exitcode.Usagef("%s line %d: service %s takes %s as a file and keeps it in its environment (env_only): choose one",
					FileSecretsFile, n.Line, service, key)
			}
			envOnly[service] = append(envOnly[service], key)
		}
	}
	return out, envOnly, nil
}

// Check reports declarations that name services the stack does not define
// (all lists every service of the compose files), as one error naming them.
func (f FileSecrets) Check(all []string) error {
	var unknown []string
	for _, s := range f.Services() {
		if !slices.Contains(all, s) {
			unknown = append(unknown, s)
		}
	}
	return unknownServices(unknown)
}

// Check reports env_only entries that name services the stack does not
// define, as FileSecrets.Check does.
func (e EnvOnly) Check(all []string) error {
	var unknown []string
	for s := range e {
		if !slices.Contains(all, s) {
			unknown = append(unknown, s)
		}
	}
	slices.Sort(unknown)
	return unknownServices(unknown)
}

// CheckKeys reports, as a usage error, the first declaration that cannot be
// carried out on the compose files: a key outside its service's
// environment: section (environment maps each service to the keys of that
// section, as compose.EnvironmentVariables reads them; a key an env_file
// supplies cannot be removed from the service), or a variable naming the
// file that the service already sets itself (setsItself).
func (f FileSecrets) CheckKeys(environment map[string]map[string][]string, setsItself func(service, variable string) bool) error {
	for _, service := range f.Services() {
		for _, fs := range f.For(service) {
			if _, ok := environment[service][fs.Key]; !ok {
				return exitcode.Usagef("%s: service %s takes %s as a file, but %s is not in the service's environment: section",
					FileSecretsFile, service, fs.Key, fs.Key)
			}
			if setsItself(service, fs.FileEnv) {
				return exitcode.Usagef("%s: service %s takes %s as a file named by %s, but the service sets %s itself",
					FileSecretsFile, service, fs.Key, fs.FileEnv, fs.FileEnv)
			}
		}
	}
	return nil
}

func unknownServices(names []string) error {
	if len(names) > 0 {
		return exitcode.Usagef("%s names %s, which the compose files do not define", FileSecretsFile, strings.Join(names, ", "))
	}
	return nil
}

// String is the declaration as a person reads it: "POSTGRES_PASSWORD as /run/secrets/POSTGRES_PASSWORD".
func (f FileSecret) String() string { return fmt.Sprintf("%s as %s", f.Key, f.Path()) }
