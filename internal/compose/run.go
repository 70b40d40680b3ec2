package compose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/startsvc/startsvc/internal/exitcode"
)

// Invocation holds the global compose arguments startsvc always passes
// explicitly, so that nothing is left for compose to guess from its environment.
type Invocation struct {
	Project  string
	Dir      string   // --project-directory
	Files    []string // -f, in order
	EnvFile  string   // the single --env-file; empty for none
	Profiles []string // --profile, each
}

// Args returns compose's argument list for the subcommand and its arguments.
func (inv Invocation) Args(sub ...string) []string {
	args := []string{"--project-name", inv.Project}
	if inv.Dir != "" {
		args = append(args, "--project-directory", inv.Dir)
	}
	for _, f := range inv.Files {
		args = append(args, "--file", f)
	}
	if inv.EnvFile != "" {
		args = append(args, "--env-file", inv.EnvFile)
	}
	for _, p := range inv.Profiles {
		args = append(args, "--profile", p)
	}
	return append(args, sub...)
}

// DownAll returns the arguments that remove every container and network of the
// project, whatever profile or file started them: compose v2 looks the project
// up by its labels when given a name and no file.
func DownAll(project string, volumes bool) []string {
	args := []string{"--project-name", project, "down", "--remove-orphans"}
	if volumes {
		args = append(args, "--volumes")
	}
	return args
}

// Runner runs compose commands with their output streamed through.
type Runner struct {
	CLI    CLI
	Env    []string // compose's whole process environment
	Dir    string   // working directory of the compose process
	Stdout io.Writer
	Stderr io.Writer
	// StopGrace is how long compose has to stop after an interruption before it is killed.
	StopGrace time.Duration
	// Command builds the process; exec.CommandContext when nil.
	Command func(ctx context.Context, name string, args ...string) *exec.Cmd
}

// Run runs compose with args and waits for it. Its output goes to the runner's
// writers. When ctx is cancelled compose receives one SIGINT — it runs in its own
// process group, so a Ctrl-C on the terminal reaches it only through startsvc —
// and is killed if it has not ended after StopGrace. A non-zero exit is an
// *exitcode.Error with code Failure; an interruption returns ctx's cause.
func (r *Runner) Run(ctx context.Context, args ...string) error {
	argv := r.CLI.Command(args...)
	newCmd := r.Command
	if newCmd == nil {
		newCmd = exec.CommandContext
	}
	cmd := newCmd(ctx, argv[0], argv[1:]...)
	cmd.Env = r.Env
	cmd.Dir = r.Dir
	cmd.Stdout = r.Stdout
	cmd.Stderr = r.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = r.StopGrace
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 20 * time.Second
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: %w", r.CLI.Name(), subcommand(args), context.Cause(ctx))
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return exitcode.With(exitcode.Failure, fmt.Errorf("%s %s failed with exit status %d", r.CLI.Name(), subcommand(args), ee.ExitCode()))
		}
		return exitcode.With(exitcode.Unavailable, fmt.Errorf("run %s: %w", r.CLI.Name(), err))
	}
	return nil
}

// subcommand picks compose's subcommand out of an argument list, for messages.
func subcommand(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			if !strings.Contains(a, "=") && i+1 < len(args) {
				i++ // every global flag startsvc passes takes a value
			}
			continue
		}
		return a
	}
	return ""
}

// Quote renders argv as one line a POSIX shell would split back into argv.
func Quote(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = quoteArg(a)
	}
	return strings.Join(parts, " ")
}

func quoteArg(a string) string {
	if a == "" {
		return "''"
	}
	safe := true
	for _, r := range a {
		if !(r == '-' || r == '_' || r == '.' || r == '/' || r == ':' || r == '=' || r == ',' || r == '@' || r == '+' ||
			(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			safe = false
			break
		}
	}
	if safe {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}
