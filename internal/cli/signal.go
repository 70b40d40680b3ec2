package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/startsvc/startsvc/internal/exitcode"
)

// terminating are the signals that would end startsvc without its clean-up
// (the hand-over file left on disk) if Go's default handling applied: those a
// Go program dies of (SIGHUP, SIGINT, SIGTERM), those it dies of with a stack
// dump and exit status 2 (SIGQUIT, SIGABRT, SIGSYS, and SIGILL, SIGTRAP,
// SIGBUS, SIGFPE, SIGSEGV when another process sends them — a real fault
// still panics). Every one of them cancels the context, and startsvc ends
// with exit code 130 after its clean-up. The other catchable signals (SIGUSR1,
// SIGALRM, …) do nothing to a Go program; run passes some on to its child.
var terminating = []os.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGILL, syscall.SIGTRAP,
	syscall.SIGABRT, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGSEGV, syscall.SIGTERM, syscall.SIGSYS}

// NotifyContext returns a context cancelled by the first terminating signal,
// with a cause that wraps exitcode.ErrInterrupted and names the signal.
// Signals cancel the context; they never end the process from a handler, so
// deferred clean-up always runs. SIGPIPE is caught too, so that a write to a
// closed standard output or error returns EPIPE instead of killing startsvc:
// Main turns that into ErrOutputClosed. stop releases the signal handlers.
func NotifyContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, terminating...)
	// Delivered here and dropped: the failed write itself reports it.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cancel(interruptedBy(s))
				return
			case <-pipe:
			case <-done:
				return
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// interruptedBy is the cancellation cause for signal s.
func interruptedBy(s os.Signal) error {
	name := s.String()
	if n, ok := s.(syscall.Signal); ok {
		name = signalName(n)
	}
	return fmt.Errorf("%w by %s", exitcode.ErrInterrupted, name)
}

func signalName(s syscall.Signal) string {
	names := map[syscall.Signal]string{syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
		syscall.SIGILL: "SIGILL", syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT", syscall.SIGBUS: "SIGBUS",
		syscall.SIGFPE: "SIGFPE", syscall.SIGSEGV: "SIGSEGV", syscall.SIGTERM: "SIGTERM", syscall.SIGSYS: "SIGSYS"}
	if n, ok := names[s]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}

// outputGuard is standard output or error as startsvc writes to it. When a
// write fails because the reader went away (EPIPE: `startsvc up | head -1`,
// a pager quit early), it cancels the run with exitcode.ErrOutputClosed — an
// ordinary reason to stop, after the clean-up — and from then on discards
// what is written, so that the clean-up and the last messages cannot fail
// on it. It is safe for concurrent use.
type outputGuard struct {
	w      io.Writer
	stop   context.CancelCauseFunc
	mu     sync.Mutex
	closed bool
}

func (g *outputGuard) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return len(p), nil
	}
	n, err := g.w.Write(p)
	if err != nil && errors.Is(err, syscall.EPIPE) {
		g.closed = true
		g.stop(exitcode.ErrOutputClosed)
		return len(p), nil
	}
	return n, err
}

// tripped reports whether the reader went away.
func (g *outputGuard) tripped() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// rawStream is the stream a guard wraps, for what needs the file itself: a
// child process that writes to it directly, a terminal check.
func rawStream(w io.Writer) io.Writer {
	if g, ok := w.(*outputGuard); ok {
		return g.w
	}
	return w
}
