// Package lock serialises startsvc runs that change the same compose project,
// with an advisory lock (flock) on a file per project. The kernel releases it
// when the process ends, however it ends, so a killed run never leaves a
// project locked.
//
// The lock files live in a folder of the user's own (see Dir), which startsvc
// creates with mode 0700 and checks before every use: a folder, not a link,
// owned by the user, open to no one else. Lock files are opened without
// following links and must be regular files of the user's; startsvc never
// truncates one. So no other user can take or block a project's lock, nor
// make startsvc write to a file of their choosing, and the holder's text,
// which came from a file, is never printed unescaped.
package lock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrBusy is wrapped by Acquire's error when it gave up waiting for another
// process's lock. Every other error is a problem with the lock folder or file.
var ErrBusy = errors.New("lock held by another process")

// Lock is a held lock; Release gives it back.
type Lock struct {
	f *os.File
}

// Dir is the folder for startsvc's locks, chosen from the environment that
// getenv reads: $XDG_RUNTIME_DIR/startsvc (the per-user runtime folder a login
// session provides, 0700 and emptied at logout); else
// $XDG_STATE_HOME/startsvc/locks; else $HOME/.local/state/startsvc/locks;
// else startsvc-<uid> in $TMPDIR (or the system's temporary folder), where
// another user could have made it first — which the checks then refuse. A
// relative setting is ignored, as the XDG specification asks. Dir makes no
// call: the folder is created and checked when a lock is taken.
func Dir(getenv func(string) string) string {
	if d := getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(d) {
		return filepath.Join(d, "startsvc")
	}
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "startsvc", "locks")
	}
	if d := getenv("HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, ".local", "state", "startsvc", "locks")
	}
	tmp := getenv("TMPDIR")
	if !filepath.IsAbs(tmp) {
		tmp = os.TempDir()
	}
	return filepath.Join(tmp, "startsvc-"+strconv.Itoa(os.Geteuid()))
}

// Path is the lock file for a project in dir.
func Path(dir, project string) string {
	return filepath.Join(dir, project+".lock")
}

// TryAcquire takes the exclusive lock at path if it is free. When another
// process holds it, l is nil and holder describes that process (escaped, fit
// to print).
func TryAcquire(path string) (l *Lock, holder string, err error) {
	return try(path, syscall.LOCK_EX)
}

// TryShared takes a shared lock at path if no process holds it exclusively:
// any number of readers may hold it at once, and none while a process that
// changes the project holds the exclusive one. Commands that only read the
// project use it for the moment they must be sure no such process runs.
func TryShared(path string) (l *Lock, holder string, err error) {
	return try(path, syscall.LOCK_SH)
}

func try(path string, how int) (*Lock, string, error) {
	if err := ensureDir(filepath.Dir(path)); err != nil {
		return nil, "", err
	}
	f, err := open(path)
	if err != nil {
		return nil, "", err
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		data := make([]byte, 64)
		n, _ := f.ReadAt(data, 0)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, describeHolder(data[:n]), nil
		}
		return nil, "", fmt.Errorf("lock %s: %w", path, err)
	}
	if how == syscall.LOCK_EX {
		// A record of fixed width, written over the last one: the file is
		// never truncated, and no tail of a longer record can remain.
		_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %-*d\n", recordWidth-5, os.Getpid())), 0)
	}
	return &Lock{f: f}, "", nil
}

// recordWidth is the length of the holder record, newline included.
const recordWidth = 24

// open opens the lock file at path, creating it (0600) if need be, without
// following a link and without waiting, and checks that it is a regular file
// of this user's.
func open(path string) (*os.File, error) {
	const flags = os.O_RDWR | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	f, err := os.OpenFile(path, flags|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(path, flags, 0)
	}
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("lock file %s is a symbolic link; startsvc does not follow it: remove it", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, withoutPath(err))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open lock file %s: %w", path, withoutPath(err))
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("lock file %s is not a regular file: remove it", path)
	}
	if uid, ok := owner(st); ok && uid != os.Geteuid() {
		f.Close()
		return nil, fmt.Errorf("lock file %s belongs to user %d, not to you (user %d): remove it", path, uid, os.Geteuid())
	}
	return f, nil
}

// ensureDir creates the lock folder (0700, with its missing parents) and
// checks it: a folder, not a link, owned by this user, with no access for
// anyone else. Access bits on a folder of the user's own are taken away; a
// folder of someone else's, or a link, is an error that names it.
func ensureDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("create lock folder %s: %w", dir, withoutPath(err))
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create lock folder %s: %w", dir, withoutPath(err))
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("check lock folder %s: %w", dir, withoutPath(err))
	}
	switch {
	case st.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("lock folder %s is a symbolic link; startsvc keeps its locks only in a folder of its own: remove the link", dir)
	case !st.IsDir():
		return fmt.Errorf("lock folder %s is not a folder: remove it", dir)
	}
	if uid, ok := owner(st); ok && uid != os.Geteuid() {
		return fmt.Errorf("lock folder %s belongs to user %d, not to you (user %d): another user could take or block your locks there; "+
			"set XDG_RUNTIME_DIR or HOME, or remove that folder", dir, uid, os.Geteuid())
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("lock folder %s is open to other users and cannot be closed: %w", dir, withoutPath(err))
		}
	}
	return nil
}

func owner(st fs.FileInfo) (int, bool) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(sys.Uid), true
	}
	return 0, false
}

var pidRecord = regexp.MustCompile(`^pid [0-9]{1,10}$`)

// describeHolder turns what a lock file holds into text fit to print: a
// record startsvc writes as it is, anything else quoted with every control
// or non-ASCII character escaped.
func describeHolder(data []byte) string {
	first, _, _ := strings.Cut(string(data), "\n")
	first = strings.TrimSpace(first)
	if pidRecord.MatchString(first) {
		return first
	}
	if first == "" {
		return "unknown process"
	}
	return "unknown process, lock file says " + strconv.QuoteToASCII(first)
}

func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Acquire takes the lock at path, waiting while another process holds it.
// waiting is called once, with the holder's description, when it has to wait.
// It gives up when ctx ends, with an error that wraps ErrBusy.
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
			return nil, busyError{fmt.Errorf("another startsvc (%s) still holds %s: %w", holder, path, context.Cause(ctx))}
		case <-tick.C:
		}
	}
}

// busyError is Acquire's error when it gave up waiting; it is ErrBusy.
type busyError struct{ err error }

func (e busyError) Error() string        { return e.err.Error() }
func (e busyError) Unwrap() error        { return e.err }
func (e busyError) Is(target error) bool { return target == ErrBusy }

// Release gives the lock back. It is safe on a nil Lock and to call twice.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}
