// Package cli is startsvc's command line: flags fill an options struct, and a run
// function per command does the work with the surroundings passed in.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/launch"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/ui"
)

// Version is startsvc's version, set at build time with -ldflags "-X …cli.Version=…".
var Version = "dev"

// Env is the process's surroundings: everything startsvc reads from outside
// comes through here, so tests can build it by hand.
type Env struct {
	Args    []string // without the program name
	Environ []string // KEY=VALUE
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Dir     string // working directory
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

// isTerminal reports whether a standard stream is a terminal.
func isTerminal(stream any) bool {
	if w, ok := stream.(io.Writer); ok {
		stream = rawStream(w)
	}
	f, ok := stream.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// deps are the parts of the outside world a command uses, swappable in tests.
type deps struct {
	env      Env
	lookPath compose.LookPath
	output   compose.Output
	command  func(ctx context.Context, name string, args ...string) *exec.Cmd
	now      func() time.Time
}

// Main runs startsvc with env and returns the process exit code. It prints
// errors itself; nothing below it exits the process. When standard output or
// error goes away (EPIPE), the run stops as for an interruption, cleans up,
// and ends with exitcode.OutputClosed.
func Main(ctx context.Context, env Env) (code int) {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	stdout := &outputGuard{w: env.Stdout, stop: stop}
	stderr := &outputGuard{w: env.Stderr, stop: stop}
	env.Stdout, env.Stderr = stdout, stderr
	d := &deps{env: env, lookPath: exec.LookPath, output: compose.ExecOutput, command: exec.CommandContext, now: time.Now}
	g := &globalOptions{}
	root := newRoot(d, g)
	root.SetArgs(env.Args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	defer func() {
		// A panic must not skip the deferred removal of the hand-over file, which
		// the run functions hold; by the time it reaches here they have run.
		if r := recover(); r != nil {
			fmt.Fprintf(env.Stderr, "startsvc: internal error: %v\n", r)
			code = exitcode.Failure
		}
	}()
	err := root.ExecuteContext(ctx)
	if err == nil && (stdout.tripped() || stderr.tripped()) {
		err = exitcode.ErrOutputClosed // what was printed is incomplete
	}
	code = exitcode.Of(ctx, err)
	if err != nil && !errors.Is(err, errSilent) {
		u := g.ui
		if u == nil {
			u = ui.New(env.Stderr, false, false, false)
		}
		switch code {
		case exitcode.Interrupted:
			u.Error("%s", interruption(ctx))
		case exitcode.OutputClosed:
			// Nobody reads the output any more; stderr may still be read.
			u.Error("%s", exitcode.ErrOutputClosed)
		default:
			u.Error("%s", err)
		}
		if code == exitcode.Usage && g.usageHint {
			fmt.Fprintf(env.Stderr, "Run '%s --help' for usage.\n", g.cmdPath)
		}
	}
	return code
}

// interruption says what interrupted the run: "interrupted by SIGQUIT".
func interruption(ctx context.Context) string {
	if cause := context.Cause(ctx); errors.Is(cause, exitcode.ErrInterrupted) {
		return cause.Error()
	}
	return exitcode.ErrInterrupted.Error()
}

// errSilent ends a command with its exit code when the command has already said why.
var errSilent = errors.New("already reported")

// globalOptions are the flags every command accepts: the engine's options,
// and how startsvc talks.
type globalOptions struct {
	launch.Options

	NoColor bool
	Quiet   bool
	Verbose bool

	profileSet bool
	ui         *ui.UI
	usageHint  bool
	cmdPath    string
	redactor   *secrets.Redactor
	up         *upOptions // up's own flags, which the root command shares
}

const exitCodesHelp = `Exit codes:
  0    done
  1    runtime failure: compose failed, a service unhealthy or not ready in time
  2    usage or configuration error (bad flag, unknown profile, invalid compose file
       or .env, missing required variable); nothing was changed
  3    Docker Engine or compose unavailable
  4    Infisical error that is not a fallback case, any fallback under --require-infisical,
       or --offline without a usable snapshot
  5    plan: changes are pending (up would change the project)
  130  interrupted by a signal: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, … (clean-up done first)
  141  standard output or error closed by its reader (| head, a pager quit); clean-up done first`

func newRoot(d *deps, g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "startsvc [command] [flags]",
		Short: "Bring up a Docker Compose stack with its secrets from Infisical",
		Long: `startsvc brings up a Docker Compose stack — by default the local AI stack in
this directory — with its secrets taken from Infisical instead of plaintext .env
files. Without a command it runs 'up'.

Settings come from flags, then environment variables, then .infisical.json,
then defaults. Variables reach compose with the precedence
shell environment < .env < Infisical.`,
		Example: `  startsvc --profile cpu
  startsvc --profile gpu-nvidia --environment public
  startsvc --skip-infisical
  startsvc down`,
		Args:          g.noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUp(cmd.Context(), d, newUpOptions(g))
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		g.usageHint, g.cmdPath = true, c.CommandPath()
		return exitcode.With(exitcode.Usage, err)
	})
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		g.profileSet = cmd.Flags().Changed("profile")
		colored := !g.NoColor && d.env.Getenv("NO_COLOR") == "" && d.env.Getenv("TERM") != "dumb" && isTerminal(d.env.Stderr)
		g.ui = ui.New(d.env.Stderr, colored, g.Quiet, g.Verbose)
		g.redactor = secrets.NewRedactor()
		g.ui.Redact = g.redactor.String
		return g.validate()
	}
	addUpFlags(root, g)
	root.SetHelpTemplate(root.HelpTemplate() + "\n" + exitCodesHelp + "\n")
	root.SetVersionTemplate("startsvc {{.Version}}\n")
	addGlobalFlags(root.PersistentFlags(), g, d.env)
	root.AddCommand(newUpCmd(d, g), newDownCmd(d, g), newExportCmd(d, g), newRunCmd(d, g), newStatusCmd(d, g), newVersionCmd(d, g), newInitCmd(d, g), newPrepareCmd(d, g), newConfigCmd(d, g), newDoctorCmd(d, g), newMigrateCmd(d, g), newPlanCmd(d, g), newWatchCmd(d, g), newSnapshotCmd(d, g), newInfisicalCmd(d, g), newAuditCmd(d, g), newDeployCmd(d, g))
	root.CompletionOptions.HiddenDefaultCmd = true
	return root
}
