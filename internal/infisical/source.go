package infisical

import (
	"context"
	"os/exec"

	"github.com/startsvc/startsvc/internal/secrets"
)

// APISource reads secrets through Infisical's HTTP API. It implements
// secrets.Source.
type APISource struct {
	Client *Client
	List   ListOptions
	// Notify, when set, receives one line for each key that a recursive
	// listing found in more than one folder, and each of the listing's Notes
	// (names and folders, never values).
	Notify func(msg string)
}

var _ secrets.Source = (*APISource)(nil)

// Name says where the values come from: "Infisical at app.infisical.com".
func (s *APISource) Name() string { return "Infisical at " + s.Client.Host() }

// Fetch lists the secrets (one login, one listing) and returns them by name.
// The error is an *Error.
func (s *APISource) Fetch(ctx context.Context) (map[string]string, error) {
	l, err := s.Client.ListSecrets(ctx, s.List)
	if err != nil {
		return nil, err
	}
	if s.Notify != nil {
		for _, c := range l.Collisions {
			s.Notify(c.String())
		}
		for _, n := range l.Notes {
			s.Notify(n)
		}
	}
	return l.Values(), nil
}

// Deps is what choosing and running a source needs from outside the package.
type Deps struct {
	// LookPath finds a program on the PATH (exec.LookPath); nil means the CLI
	// is never used.
	LookPath func(file string) (string, error)
	// Command builds a process (exec.CommandContext when nil).
	Command func(ctx context.Context, name string, args ...string) *exec.Cmd
	// Environ is the environment the Infisical CLI runs with.
	Environ []string
	// Dir is the stack directory, the CLI's working directory.
	Dir string
	// HTTP tunes the API client.
	HTTP Options
	// Notify receives notes a person should see (see APISource.Notify).
	Notify func(msg string)
}

// NewSource picks where secrets come from: the HTTP API when s holds machine
// credentials; else the Infisical CLI when it is installed (whether it is
// logged in shows when it runs: a CLI that is not gives an *Error of kind
// NotConfigured); else nothing, as an *Error of kind NotConfigured whose
// message says how to configure Infisical.
func NewSource(s Settings, d Deps) (secrets.Source, error) {
	if s.Configured() {
		c, err := NewClient(s, d.HTTP)
		if err != nil {
			return nil, err
		}
		return &APISource{Client: c, List: s.ListOptions(), Notify: d.Notify}, nil
	}
	if d.LookPath != nil {
		if p, err := d.LookPath(CLIName); err == nil {
			return &CLISource{Path: p, Settings: s, Command: d.Command, Environ: d.Environ, Dir: d.Dir,
				MaxBodyBytes: d.HTTP.MaxBodyBytes, Timeout: d.HTTP.Timeout}, nil
		}
	}
	return nil, &Error{Kind: NotConfigured, Op: "use Infisical", Message: "not configured: " + s.Hint()}
}
