package launch

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/lock"
	"github.com/startsvc/startsvc/internal/secrets"
)

// lockDir is where project locks live: a folder of the user's own (see lock.Dir).
func (l *Launcher) lockDir() string { return lock.Dir(l.Env.Getenv) }

// tempDir is the temporary directory: $TMPDIR of startsvc's surroundings,
// else the system's.
func (l *Launcher) tempDir() string {
	if dir := l.Env.Getenv("TMPDIR"); dir != "" {
		return dir
	}
	return os.TempDir()
}

// acquireLock waits for the project's lock, saying so, for at most
// --wait-timeout: a second up or down of the same project never interleaves
// with the first.
func (l *Launcher) acquireLock(ctx context.Context) (*lock.Lock, error) {
	o := &l.Options
	ctx, cancel := context.WithTimeout(ctx, o.WaitTimeout)
	defer cancel()
	lk, err := lock.Acquire(ctx, lock.Path(l.lockDir(), o.Project), func(holder string) {
		l.Report.Info("another startsvc (%s) is working on project %s; waiting for it to finish (at most %s)", holder, o.Project, o.WaitTimeout)
	})
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, exitcode.ErrInterrupted) {
			return nil, cause
		}
		if !errors.Is(err, lock.ErrBusy) {
			return nil, exitcode.With(exitcode.Usage, err)
		}
		return nil, exitcode.With(exitcode.Failure, fmt.Errorf("project %s is busy: %w", o.Project, err))
	}
	return lk, nil
}

// removeStale removes a hand-over file left by a killed run. Without the
// project's lock it does so only under a shared lock, when no other startsvc
// holds the exclusive one — the file may be a running up's; read-only
// commands never need more.
func (l *Launcher) removeStale(path string, locked bool) error {
	if !locked {
		lk, _, err := lock.TryShared(lock.Path(l.lockDir(), l.Options.Project))
		if err != nil || lk == nil {
			return nil
		}
		defer lk.Release()
	}
	removed, err := secrets.RemoveStale(path)
	if err != nil {
		return exitcode.With(exitcode.Usage, err)
	}
	if removed {
		l.Report.Warn("removed %s left behind by an earlier run that was killed", path)
	}
	return nil
}
