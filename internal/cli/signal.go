package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/startsvc/startsvc/internal/exitcode"
)

// NotifyContext returns a context cancelled with exitcode.ErrInterrupted by
// the first SIGINT, SIGTERM or SIGHUP. Signals cancel the context; they never end
// the process from a handler, so deferred clean-up always runs. stop releases the
// signal handlers.
func NotifyContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel(exitcode.ErrInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}
