// Package lock serialises startsvc runs that change the same compose project,
// with an advisory lock (flock) on a file per project. The kernel releases it
// when the process ends, however it ends, so a killed run never leaves a
// project locked.
package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Lock is a held lock; Release gives it back.
type Lock struct {
	f *os.File
}

// Path is the lock file for a project in dir.
func Path(dir, project string) string {
	return filepath.Join(dir, "startsvc-"+project+".lock")
}

// TryAcquire takes the lock at path if it is free. ok is false, with the
// holder's description, when another process has it.
func TryAcquire(path string) (l *Lock, holder string, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, "", fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		data := make([]byte, 64)
		n, _ := f.ReadAt(data, 0)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, strings.TrimSpace(string(data[:n])), nil
		}
		return nil, "", fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+"\n"), 0)
	return &Lock{f: f}, "", nil
}

// Acquire takes the lock at path, waiting while another process holds it.
// waiting is called once, with the holder's description, when it has to wait.
// It gives up when ctx ends.
func Acquire(ctx context.Context, path string, waiting func(holder string)) (*Lock, error) {
	told := false
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		l, holder, err := TryAcquire(path)
		if err != nil || l != nil {
			return l, err
		}
		if !told && waiting != nil {
			waiting(holder)
			told = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("another startsvc (%s) still holds %s: %w", holder, path, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// Release gives the lock back. It is safe on a nil Lock and to call twice.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}
