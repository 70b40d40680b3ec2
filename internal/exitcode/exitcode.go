// Package exitcode names startsvc's exit codes and carries them on errors.
//
// Every package returns plain errors; the ones that decide what kind of failure
// happened wrap them with one of the constructors here. cli.Main turns the
// outermost error into a process exit code with Of, in one place.
package exitcode

import (
	"context"
	"errors"
	"fmt"
)

// The exit codes of startsvc. They are part of its interface: runbooks test them.
const (
	OK          = 0   // done
	Failure     = 1   // runtime failure: compose failed, a service unhealthy or not ready in time
	Usage       = 2   // usage or configuration error; nothing was changed
	Unavailable = 3   // Docker Engine or compose unavailable
	Infisical   = 4   // Infisical error that is not a fallback case, or any fallback under --require-infisical
	Pending     = 5   // plan: the project is not in step with its configuration; up would change it
	Interrupted = 130 // ended by a signal: SIGINT, SIGTERM, SIGHUP, SIGQUIT, … (cli.NotifyContext lists them)
	// OutputClosed: standard output or error went away (the reader of a pipe
	// quit, as `| head` does). 141 is what a shell reports for a program that
	// SIGPIPE ended, so scripts that expect that see the same.
	OutputClosed = 141
)

// Error is an error that carries the exit code the process should end with.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// With wraps err so that it ends the process with code. A nil err stays nil.
func With(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Usagef returns a usage or configuration error (exit 2).
func Usagef(format string, a ...any) error {
	return &Error{Code: Usage, Err: fmt.Errorf(format, a...)}
}

// ErrInterrupted is the cancellation cause main sets when a signal arrives;
// the cause may wrap it with the signal's name.
var ErrInterrupted = errors.New("interrupted")

// ErrOutputClosed is the cancellation cause when standard output or error
// went away. It wraps ErrInterrupted: every path stops as for an
// interruption, and only the exit code differs (OutputClosed).
var ErrOutputClosed = fmt.Errorf("%w: standard output or error was closed by its reader", ErrInterrupted)

// Of maps an error to the exit code of the process: nil is OK; an error that
// wraps ErrInterrupted is 130, one that wraps ErrOutputClosed 141; an *Error
// gives its code (a child's exact code, say, even when a signal ended it); any
// other error is 130 or 141 when ctx was cancelled for one of those causes and
// a runtime failure otherwise.
func Of(ctx context.Context, err error) int {
	if err == nil {
		return OK
	}
	if errors.Is(err, ErrOutputClosed) {
		return OutputClosed
	}
	if errors.Is(err, ErrInterrupted) {
		return Interrupted
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if ctx != nil {
		switch cause := context.Cause(ctx); {
		case errors.Is(cause, ErrOutputClosed):
			return OutputClosed
		case errors.Is(cause, ErrInterrupted):
			return Interrupted
		}
	}
	return Failure
}
