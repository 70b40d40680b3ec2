// Package doctor checks, changing nothing, whether a stack can be brought up:
// every check `startsvc up` makes before it starts anything, and the things
// that would make the stack fail once it runs - ports already taken, variables
// nobody provides, settings known to break Supabase, an .env that drifted from
// .env.example. Every check runs whatever failed before it; a check that needs
// what an earlier one could not establish is reported as skipped, with why.
//
// # Output shape
//
// A Report marshals to JSON as
//
//	{"checks": [{"name": "engine", "status": "ok", "message": "…", "hint": ""}, …], "ok": true}
//
// name is one of the Check* constants; status is ok, warning, error or skipped;
// message says what was found and hint what to do about it (empty when there
// is nothing to do). ok is false when any check has status error. Messages
// name keys, files and ports, never a value.
//
// # Exit codes
//
// ExitCode is the code `up` would end with: the code of the first check with
// status error, in the order the checks are listed, which is the order up
// checks in. 2 for the stack directory, the env file, the compose files,
// required variables and the profile; 3 when the Engine or compose is missing
// or too old; 4 for Infisical errors that are not a fallback case; 1 for what
// passes up's preflight but breaks the stack once it runs (ports taken, the
// known Supabase breakages). Warnings alone give 0.
package doctor

import (
	"context"
	"os/exec"
	"strings"
	"time"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/stack"
)

// Status is the outcome of one check.
type Status string

// The outcomes of a check.
const (
	OK      Status = "ok"
	Warning Status = "warning" // up works, but something deserves attention
	Error   Status = "error"   // up would fail, or the stack would not run
	Skipped Status = "skipped" // not checked: what it needs could not be established
)

// The names of the checks, in the order they are reported. They are part of
// the JSON output: scripts match on them.
const (
	CheckStack            = "stack"
	CheckHandover         = "handover-file"
	CheckEngine           = "engine"
	CheckCompose          = "compose"
	CheckInfisical        = "infisical"
	CheckInfisicalAuth    = "infisical-credentials"
	CheckEnvFile          = "env-file"
	CheckSupabase         = "supabase-checkout"
	CheckRequired         = "required-variables"
	CheckComposeFiles     = "compose-files"
	CheckComposeFeatures  = "compose-features"
	CheckFileSecrets      = "file-secrets"
	CheckProfile          = "profile"
	CheckRequirements     = "profile-requirements"
	CheckPorts            = "ports"
	CheckDockerSocket     = "docker-socket"
	CheckPoolerPoolSize   = "pooler-pool-size"
	CheckLogflare         = "logflare-tokens"
	CheckDashboardPass    = "dashboard-password"
	CheckPostgresPassword = "postgres-password"
	CheckSupabaseKeys     = "supabase-api-keys"
	CheckUnset            = "unset-variables"
	CheckExampleMissing   = "env-example-missing"
	CheckExampleExtra     = "env-example-extra"
	CheckSupabaseEnvCopy  = "supabase-env-copy"
	CheckAPIExternalURL   = "api-external-url"
	CheckOldLayout        = "local-ai-packaged"
)

// Check is the result of one check.
type Check struct {
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Message string `json:"message"`
	Hint    string `json:"hint"`
	// Code is the exit code `up` would end with because of this check; it is
	// set for errors only.
	Code int `json:"-"`
}

// Report is every check doctor made, in order.
type Report struct {
	Checks []Check `json:"checks"`
	// OK is false when a check has status Error.
	OK bool `json:"ok"`
}

// ExitCode is the exit code `up` would end with: the Code of the first check
// with status Error, or 0 when there is none.
func (r *Report) ExitCode() int {
	for _, c := range r.Checks {
		if c.Status == Error {
			if c.Code == 0 {
				return exitcode.Failure
			}
			return c.Code
		}
	}
	return exitcode.OK
}

// Find returns the check called name, and whether there is one.
func (r *Report) Find(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// Options are what doctor checks, and the parts of the outside world it
// uses. Paths are absolute.
type Options struct {
	Dir         string   // the stack directory
	Files       []string // compose files given with -f; nil uses the stack's convention
	Environment string   // private, public, …
	Profile     string
	ProfileSet  bool // the profile was chosen; otherwise the stack's default applies
	Project     string
	EnvFile     string
	// EnvFileGiven says the env file was named explicitly: then a missing one
	// is an error, as it is for up.
	EnvFileGiven bool
	Environ      []string // the shell's environment, KEY=VALUE
	Via          secrets.Via

	SkipInfisical    bool
	RequireInfisical bool
	Infisical        infisical.FlagValues
	InfisicalTimeout time.Duration
	// LookPath and Command let the Infisical CLI be found and run; nil
	// LookPath never uses it.
	LookPath func(file string) (string, error)
	Command  func(ctx context.Context, name string, args ...string) *exec.Cmd

	// Connect returns the Docker Engine; nil uses the one Environ describes.
	Connect func() (Engine, error)
	// FindCompose finds the compose CLI and reads its version.
	FindCompose func(ctx context.Context) (compose.CLI, error)
	// Bind tries to take a host port and releases it at once; nil binds for
	// real. It returns the error of the attempt.
	Bind func(network, address string) error
	// HasDevice reports whether a device file exists; nil asks the file system.
	HasDevice func(path string) bool
	// Now is the time API keys are checked against; nil is time.Now.
	Now func() time.Time
	// Redactor learns every secret value doctor reads, so that the caller can
	// mask them in anything it prints. May be nil.
	Redactor *secrets.Redactor
}

// Run makes every check and returns the report. It changes nothing on disk,
// starts nothing, and reads from Infisical at most one login and one listing.
func Run(ctx context.Context, o Options) *Report {
	r := newRun(o)
	defer r.close()
	r.checkStack()
	r.checkHandover()
	r.checkEngine(ctx)
	r.checkCompose(ctx)
	r.checkInfisical(ctx)
	r.checkEnvFile()
	r.checkSupabaseCheckout()
	r.checkLoad(ctx)
	r.checkFileSecrets(ctx)
	r.checkProfile()
	r.checkPorts(ctx)
	r.checkBreakages()
	r.checkUnset()
	r.checkDrift()
	r.checkSupabaseEnvCopy()
	r.checkOldLayout()
	r.rep.OK = true
	for _, c := range r.rep.Checks {
		if c.Status == Error {
			r.rep.OK = false
		}
	}
	return r.rep
}

// run is one doctor run: what the checks established so far.
type run struct {
	o   Options
	rep *Report

	layout *stack.Layout
	engine Engine
	facts  *engineFacts
	cli    *compose.CLI

	remote         map[string]string // from Infisical; nil when not read
	infisicalLocal bool              // Infisical's URL is this machine and it did not answer
	envFound       bool
	fileVals       map[string]string // the env file, as compose reads it
	interp         map[string]string // what compose interpolates with
	envBroken      bool              // the env file could not be read or parsed

	referenced map[string]compose.Variable // every variable the compose files reference
	all        *compose.Project            // every service, loaded
	selected   *compose.Project            // the services of the profile
	missing    []string                    // required variables without a value
}

func newRun(o Options) *run {
	if o.InfisicalTimeout <= 0 {
		o.InfisicalTimeout = 8 * time.Second
	}
	if o.Via == "" {
		o.Via = secrets.ViaFile
	}
	if o.Connect == nil {
		getenv := getenvOf(o.Environ)
		o.Connect = func() (Engine, error) { return Connect(getenv) }
	}
	if o.Redactor == nil {
		o.Redactor = secrets.NewRedactor()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &run{o: o, rep: &Report{Checks: []Check{}}}
}

func (r *run) close() {
	if r.engine != nil {
		r.engine.Close()
	}
}

func (r *run) add(c Check) {
	if c.Status == Error && c.Code == 0 {
		c.Code = exitcode.Failure
	}
	r.rep.Checks = append(r.rep.Checks, c)
}

func (r *run) ok(name, msg, hint string) {
	r.add(Check{Name: name, Status: OK, Message: msg, Hint: hint})
}

func (r *run) warn(name, msg, hint string) {
	r.add(Check{Name: name, Status: Warning, Message: msg, Hint: hint})
}

func (r *run) fail(name string, code int, msg, hint string) {
	r.add(Check{Name: name, Status: Error, Code: code, Message: msg, Hint: hint})
}

func (r *run) skip(name, why string) {
	r.add(Check{Name: name, Status: Skipped, Message: "not checked: " + why})
}

// failErr reports err as an error of check name, with the exit code err
// carries (def when it carries none). startsvc's errors put what to do on
// the lines after the first: those become the hint when there are any.
func (r *run) failErr(name string, def int, err error, hint string) {
	code := def
	if c := exitcode.Of(nil, err); c != exitcode.Failure {
		code = c
	}
	msg, more, _ := strings.Cut(err.Error(), "\n")
	if more = strings.Join(strings.Fields(more), " "); more != "" {
		hint = more
	}
	r.fail(name, code, msg, hint)
}

// getenvOf looks variables up in a KEY=VALUE list; the last one wins.
func getenvOf(environ []string) func(string) string {
	m := secrets.EnvMap(environ)
	return func(k string) string { return m[k] }
}

// list joins names for a message: "A, B and C".
func list(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
