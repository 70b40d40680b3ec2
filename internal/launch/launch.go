// Package launch is startsvc's engine: it resolves a stack (settings, secrets,
// compose files, profile, stages), checks it before anything changes, and
// brings it up, takes it down, reports its status, renders its configuration
// and hands its variables to other programs. It never prints: compose's own
// output passes through the writers it is given, masked, and everything it has
// to say goes to a Reporter, which the command line renders.
//
// The command line (package cli) fills Options from flags and calls a
// Launcher; a test, watch or deploy calls the same methods.
package launch

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/health"
	"github.com/startsvc/startsvc/internal/secrets"
)

// Options say what to run and how: everything a user chooses with flags.
// The zero value is not useful; the command line fills every field.
type Options struct {
	Dir         string // stack directory, relative to Env.Dir unless absolute
	Project     string
	Profile     string
	ProfileSet  bool // Profile was given explicitly; otherwise the stack's default applies
	Environment string
	Files       []string
	EnvFile     string // relative to the stack directory unless absolute
	Compose     string // compose binary chosen by the user; empty: discover

	SkipInfisical    bool
	RequireInfisical bool
	InfisicalURL     string
	InfisicalProject string
	InfisicalEnv     string
	SecretPath       string
	SecretsVia       string
	Recursive        bool
	InfisicalTimeout time.Duration
	// Offline uses the encrypted snapshot of the last fetch without
	// contacting Infisical; MaxStale is the oldest snapshot used at all.
	Offline  bool
	MaxStale time.Duration

	DryRun      bool
	WaitTimeout time.Duration
	// Fresh makes up remove every container of the project first and create
	// everything anew, instead of converging: for a wedged stack.
	Fresh bool
}

// Env is the process's surroundings as the engine needs them.
type Env struct {
	Environ []string // KEY=VALUE
	Dir     string   // working directory
	// Stdout and Stderr receive compose's own output, masked. io.Discard
	// silences it.
	Stdout, Stderr io.Writer
	LookPath       compose.LookPath
	Output         compose.Output
	Command        func(ctx context.Context, name string, args ...string) *exec.Cmd
	Now            func() time.Time // the clock; time.Now when nil
}

// Getenv looks a variable up in Environ; the last assignment wins.
func (e Env) Getenv(key string) string {
	v := ""
	for _, kv := range e.Environ {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// Reporter hears what the engine does, for people. Messages are printf
// formats; they never hold a secret value unmasked, and the Reporter masks them
// again with the Launcher's Redactor.
type Reporter interface {
	Step(format string, a ...any)    // what happens next
	Info(format string, a ...any)    // a plain fact
	Warn(format string, a ...any)    // something the user must know, shown even when quiet
	Detail(format string, a ...any)  // shown only when verbose
	Success(format string, a ...any) // something done
	// Waiting is called when a wait for services begins. The Tracker it
	// returns hears every change of their state and is stopped when the wait
	// ends; nil means nobody follows the wait.
	Waiting(services []string) Tracker
}

// Tracker follows one wait for services.
type Tracker interface {
	health.Reporter
	Stop()
}

// Launcher runs the engine's work for one invocation of startsvc. Fill every
// field; it is not safe for concurrent use.
type Launcher struct {
	Env      Env
	Options  Options
	Report   Reporter
	Redactor *secrets.Redactor // every value the engine learns is secret is added here
}

// StackDir is the absolute stack directory.
func (l *Launcher) StackDir() string {
	if filepath.IsAbs(l.Options.Dir) {
		return l.Options.Dir
	}
	return filepath.Join(l.Env.Dir, l.Options.Dir)
}

// EnvFilePath is the absolute path of the stack's env file.
func (l *Launcher) EnvFilePath() string {
	if filepath.IsAbs(l.Options.EnvFile) {
		return l.Options.EnvFile
	}
	return filepath.Join(l.StackDir(), l.Options.EnvFile)
}

func (l *Launcher) via() secrets.Via { return secrets.Via(l.Options.SecretsVia) }

// Plural says "1 container" or "3 containers".
func Plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
