package swarm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/stack"
)

// MaxSecretSize is one byte less than the largest secret a swarm accepts.
const MaxSecretSize = 500*1024 - 1

// Secret is a Swarm secret the stack needs. Its name ends in a hash of its
// value, so that a changed value is a new secret and the services that mount
// it get a new specification. The value is held in memory only; String and
// GoString print the name.
type Secret struct {
	Name string // <stack>_<key>_<hash8>
	Key  string // the variable (or compose secret) whose value it holds
	data []byte
}

func (s *Secret) String() string   { return s.Name }
func (s *Secret) GoString() string { return fmt.Sprintf("swarm.Secret{Name: %q}", s.Name) }

// Service is one compose service as a Swarm service.
type Service struct {
	Name string // the compose service
	// Spec is what the Engine is given, secrets and networks by name; Deployer
	// fills in their IDs. Spec.Name is <stack>_<Name>.
	Spec swarm.ServiceSpec
	// Hash is the hash of Spec without it, also in Spec's labels (LabelSpecHash).
	Hash    string
	Secrets []string // the names of the secrets it mounts, sorted
	// Health says the service has a healthcheck: Swarm reports its tasks
	// running only once they are healthy.
	Health bool
	// Job says the service runs to completion (a one-shot service): ready once
	// a task exited 0.
	Job bool
	// NoRestart says a failed task is not replaced: its first failure is final.
	NoRestart bool
}

// Network is a network the stack's services attach to.
type Network struct {
	Name     string // on the Engine
	External bool   // exists already; startsvc neither creates nor removes it
	Options  client.NetworkCreateOptions
}

// Definition is a stack as Swarm runs it: one specification per service,
// and the networks and secrets they need.
type Definition struct {
	Stack    string
	Services map[string]*Service // by compose service name
	Networks map[string]*Network // by Engine name
	Secrets  map[string]*Secret  // by name
	// Warnings name what the compose files ask for that Swarm does not do,
	// one line per feature with the services that ask for it.
	Warnings []string
}

// Values are the values of the definition's secrets, for a redactor.
func (d *Definition) Values() []string {
	out := make([]string, 0, len(d.Secrets))
	for _, s := range d.Secrets {
		out = append(out, string(s.data))
	}
	return out
}

// Names are the definition's compose services, sorted.
func (d *Definition) Names() []string { return slices.Sorted(maps.Keys(d.Services)) }

// Input is what Build turns into a Definition.
type Input struct {
	Stack string
	// Project holds the services to deploy, interpolated, each service's
	// environment resolved (env_file merged in).
	Project *types.Project
	// FileSecrets say which keys of which service are delivered as files.
	FileSecrets stack.FileSecrets
	// OneShots name the services that run to completion.
	OneShots []string
	// DropLabels are labels of the compose files' model that stay out of the
	// specifications (those startsvc adds for compose).
	DropLabels []string
}

var swarmName = regexp.MustCompile(`^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$`)

// Build turns the compose model into a Definition. Each key the stack data
// declares as file-delivered leaves the service's environment: its value —
// the service's resolved value of that key — becomes a secret mounted at
// /run/secrets/<KEY>, and <KEY>_FILE (or the declared variable) names that
// path. A compose file that asks for something Swarm cannot do for it (a
// port bound to one address, configs, a service without an image) is a
// usage error naming the service; what Swarm ignores is a warning.
func Build(in Input) (*Definition, error) {
	d := &Definition{Stack: in.Stack, Services: map[string]*Service{}, Networks: map[string]*Network{}, Secrets: map[string]*Secret{}}
	if len(in.Stack) > 40 || !swarmName.MatchString(in.Stack) {
		return nil, exitcode.Usagef("project name %q cannot name a Swarm stack: at most 40 letters, digits, '-', '_' or '.'", in.Stack)
	}
	if len(in.Project.Configs) > 0 {
		return nil, exitcode.Usagef("the compose files define configs, which deploy does not support yet: mount the files, or deliver the values as secrets (%s)", stack.FileSecretsFile)
	}
	ignored := map[string][]string{} // what Swarm ignores -> the services that ask for it
	for _, name := range slices.Sorted(maps.Keys(in.Project.Services)) {
		svc := in.Project.Services[name]
		c := converter{in: in, def: d, svc: svc}
		s, err := c.service()
		if err != nil {
			return nil, err
		}
		for _, what := range c.ignored {
			ignored[what] = append(ignored[what], name)
		}
		d.Services[name] = s
	}
	for _, what := range slices.Sorted(maps.Keys(ignored)) {
		d.Warnings = append(d.Warnings, fmt.Sprintf("%s: Swarm ignores %s", strings.Join(ignored[what], ", "), what))
	}
	return d, nil
}

// addSecret records a secret with the given value for key and returns its name.
func (d *Definition) addSecret(service, key string, value []byte) (string, error) {
	switch {
	case len(value) == 0:
		return "", exitcode.Usagef("service %s: %s is empty, and a Swarm secret cannot be: give it a value, or leave it out of %s", service, key, stack.FileSecretsFile)
	case len(value) > MaxSecretSize:
		return "", exitcode.Usagef("service %s: %s is %d bytes, more than a Swarm secret holds (under 500 KiB)", service, key, len(value))
	case strings.TrimFunc(string(value), unicode.IsSpace) == "":
		return "", exitcode.Usagef("service %s: %s is only whitespace, which Swarm refuses as a secret", service, key)
	}
	name := SecretName(d.Stack, key, value)
	if !swarmName.MatchString(name) || len(name) > 64 {
		return "", exitcode.Usagef("service %s: secret %s of stack %s makes the name %s, which Swarm refuses (at most 64 letters, digits, '-', '_' or '.')", service, key, d.Stack, name)
	}
	if _, ok := d.Secrets[name]; !ok {
		d.Secrets[name] = &Secret{Name: name, Key: key, data: value}
	}
	return name, nil
}

// SecretName is the name of the secret that holds value for key in stack:
// <stack>_<key>_ and 8 hex digits of a SHA-256 of the three. Anyone who can
// list a swarm's secrets can also mount them in a service of their own, so
// the 32 bits of a hash in the name reveal nothing they could not read.
func SecretName(stackName, key string, value []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "startsvc secret\x00%s\x00%s\x00", stackName, key)
	h.Write(value)
	return stackName + "_" + key + "_" + hex.EncodeToString(h.Sum(nil))[:8]
}

// specHash is the hash of a specification without its own hash label.
func specHash(spec swarm.ServiceSpec) (string, error) {
	data, err := json.Marshal(spec)
	if err != nil {
		return "", fmt.Errorf("hash the specification of %s: %w", spec.Name, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// readSecretFile reads the file a compose secret names.
func readSecretFile(service, name, path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, exitcode.Usagef("service %s: compose secret %s: %w", service, name, err)
	}
	return data, nil
}
