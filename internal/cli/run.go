package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/launch"
)

func newRunCmd(d *deps, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "run -- COMMAND [ARG...]",
		Short: "Run a command with the resolved variables in its environment",
		Long: `Run COMMAND with the variables startsvc resolves (.env merged with Infisical,
Infisical winning over both .env and the shell) added to its environment.
Reserved names (PATH, HOME, …) keep the shell's value. Signals are passed on to
the command, and its exit code is startsvc's, exactly; a command ended by a
signal gives 128 + the signal's number, as a shell reports it.`,
		Example: `  startsvc run -- docker compose ps
  startsvc run -- sh -c 'echo $N8N_HOSTNAME'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				g.usageHint, g.cmdPath = true, cmd.CommandPath()
				return exitcode.Usagef("run needs a command: startsvc run -- COMMAND [ARG...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), d, g, args)
		},
	}
}

// forwarded are the signals passed on to the child. SIGINT is passed on only
// when standard input is not a terminal: from a terminal, Ctrl-C already reaches
// the child, which shares startsvc's process group to keep the terminal.
var forwarded = []os.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

func runRun(ctx context.Context, d *deps, g *globalOptions, argv []string) error {
	s, err := launcher(d, g).Preflight(ctx, launch.Checks{VariablesOnly: true})
	if err != nil {
		return err
	}
	defer s.Close()
	env, err := s.ChildEnv()
	if err != nil {
		return err
	}

	path, err := exec.LookPath(argv[0])
	if err != nil {
		return exitcode.With(127, fmt.Errorf("run %s: %w", argv[0], err))
	}
	// Not CommandContext: an interruption is passed on to the child, which
	// decides when to end; startsvc waits for it.
	cmd := exec.Command(path, argv[1:]...)
	cmd.Env = env
	cmd.Dir = d.env.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = d.env.Stdin, rawStream(d.env.Stdout), rawStream(d.env.Stderr)

	sigs := make(chan os.Signal, 4)
	toForward := forwarded
	if !isTerminal(d.env.Stdin) {
		toForward = append(toForward, os.Interrupt)
	}
	signal.Notify(sigs, toForward...)
	defer signal.Stop(sigs)

	if err := cmd.Start(); err != nil {
		return exitcode.With(126, fmt.Errorf("run %s: %w", argv[0], err))
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
		case err := <-done:
			return childExit(err)
		}
	}
}

// childExit turns the child's end into startsvc's exit code, silently: the
// child has said what it had to say.
func childExit(err error) error {
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		return exitcode.With(code, errSilent)
	}
	return exitcode.With(exitcode.Failure, err)
}
