package lock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLockExcludesAndReleases(t *testing.T) {
	path := Path(t.TempDir(), "p")
	first, _, err := TryAcquire(path)
	if err != nil || first == nil {
		t.Fatalf("first: %v", err)
	}
	second, holder, err := TryAcquire(path)
	if err != nil || second != nil {
		t.Fatalf("second acquired a held lock (%v)", err)
	}
	if holder != "pid "+strconv.Itoa(os.Getpid()) {
		t.Errorf("holder = %q, want the first's pid", holder)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var told string
	if _, err := Acquire(ctx, path, func(h string) { told = h }); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrBusy) {
		t.Errorf("Acquire on a held lock: %v, want the deadline and ErrBusy", err)
	}
	if told == "" {
		t.Errorf("the waiter was not told who holds the lock")
	}

	done := make(chan *Lock)
	go func() {
		l, _ := Acquire(context.Background(), path, nil)
		done <- l
	}()
	first.Release()
	first.Release()
	select {
	case l := <-done:
		if l == nil {
			t.Fatal("no lock after release")
		}
		l.Release()
	case <-time.After(time.Minute):
		t.Fatal("a waiter did not get the lock after it was released")
	}
}

// TestSharedLocks: readers share, and exclude a writer; a writer excludes readers.
func TestSharedLocks(t *testing.T) {
	path := Path(t.TempDir(), "p")
	r1, _, err := TryShared(path)
	if err != nil || r1 == nil {
		t.Fatalf("first reader: %v", err)
	}
	r2, _, err := TryShared(path)
	if err != nil || r2 == nil {
		t.Fatalf("second reader: %v", err)
	}
	if w, _, err := TryAcquire(path); err != nil || w != nil {
		t.Fatalf("a writer got the lock while readers hold it (%v)", err)
	}
	r1.Release()
	r2.Release()
	w, _, err := TryAcquire(path)
	if err != nil || w == nil {
		t.Fatalf("writer after readers: %v", err)
	}
	defer w.Release()
	if r, holder, err := TryShared(path); err != nil || r != nil || !strings.HasPrefix(holder, "pid ") {
		t.Fatalf("a reader got the lock while a writer holds it (%q, %v)", holder, err)
	}
}

// TestPlantedLinkIsNotFollowed plants a symbolic link where a project's lock
// file goes, pointing at a file the user can write: taking the lock must fail
// naming the link, and the target must be left byte for byte.
func TestPlantedLinkIsNotFollowed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "locks")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "precious")
	os.WriteFile(target, []byte("precious content\n"), 0o644)
	path := Path(dir, "p")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	for name, take := range map[string]func(string) (*Lock, string, error){"exclusive": TryAcquire, "shared": TryShared} {
		l, _, err := take(path)
		if l != nil || err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("%s lock through a planted link: %v, %v; want an error naming the link", name, l, err)
		}
	}
	if data, _ := os.ReadFile(target); string(data) != "precious content\n" {
		t.Errorf("the link's target was changed: %q", data)
	}
}

// TestNeverTruncates takes the lock on an existing lock file longer than a
// record: the file keeps its length, and the holder record is ours.
func TestNeverTruncates(t *testing.T) {
	dir := t.TempDir()
	path := Path(dir, "p")
	long := "pid 1\n" + strings.Repeat("older content that startsvc did not write\n", 4)
	os.WriteFile(path, []byte(long), 0o600)
	l, _, err := TryAcquire(path)
	if err != nil || l == nil {
		t.Fatalf("TryAcquire: %v", err)
	}
	defer l.Release()
	data, _ := os.ReadFile(path)
	if len(data) != len(long) {
		t.Errorf("the lock file changed length from %d to %d", len(long), len(data))
	}
	first, _, _ := strings.Cut(string(data), "\n")
	if strings.TrimSpace(first) != "pid "+strconv.Itoa(os.Getpid()) {
		t.Errorf("first line %q, want our pid", first)
	}
}

// TestHolderIsEscaped makes the lock file of a held lock say something with
// terminal escapes: the holder text comes back with them escaped.
func TestHolderIsEscaped(t *testing.T) {
	path := Path(t.TempDir(), "p")
	l, _, err := TryAcquire(path)
	if err != nil || l == nil {
		t.Fatal(err)
	}
	defer l.Release()
	os.WriteFile(path, []byte("\x1b]0;owned\x07\x1b[2J evil\n"), 0o600)
	_, holder, err := TryAcquire(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(holder, "\x1b\x07") || !strings.Contains(holder, `\x1b`) {
		t.Errorf("holder %q: want every control character escaped", holder)
	}
}

// TestLockFolderIsChecked covers the lock folder: created 0700; a folder of
// the user's that is open to others is closed; a link instead of the folder,
// and a folder of another user's, are refused.
func TestLockFolderIsChecked(t *testing.T) {
	t.Run("created 0700", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "state", "startsvc", "locks")
		l, _, err := TryAcquire(Path(dir, "p"))
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
		if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("lock folder: %v, %v; want mode 0700", st, err)
		}
	})
	t.Run("open to others is closed", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "locks")
		os.Mkdir(dir, 0o777)
		os.Chmod(dir, 0o777)
		l, _, err := TryAcquire(Path(dir, "p"))
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
		if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
			t.Errorf("mode %v, want 0700", st.Mode().Perm())
		}
	})
	t.Run("a link is refused", func(t *testing.T) {
		base := t.TempDir()
		real := filepath.Join(base, "elsewhere")
		os.Mkdir(real, 0o700)
		dir := filepath.Join(base, "locks")
		os.Symlink(real, dir)
		if _, _, err := TryAcquire(Path(dir, "p")); err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("lock folder that is a link: %v", err)
		}
		if entries, _ := os.ReadDir(real); len(entries) != 0 {
			t.Errorf("a lock file was made through the link")
		}
	})
	t.Run("another user's folder is refused", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give a folder to another user")
		}
		dir := filepath.Join(t.TempDir(), "startsvc-0")
		os.Mkdir(dir, 0o700)
		if err := os.Chown(dir, 12345, 12345); err != nil {
			t.Fatal(err)
		}
		_, _, err := TryAcquire(Path(dir, "p"))
		if err == nil || !strings.Contains(err.Error(), "belongs to user 12345") {
			t.Errorf("another user's lock folder: %v", err)
		}
		var pe *os.PathError
		if errors.As(err, &pe) {
			t.Errorf("error repeats the path: %v", err)
		}
	})
	t.Run("another user's lock file is refused", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give a file to another user")
		}
		path := Path(t.TempDir(), "p")
		os.WriteFile(path, nil, 0o666)
		os.Chown(path, 12345, 12345)
		if _, _, err := TryAcquire(path); err == nil || !strings.Contains(err.Error(), "belongs to user 12345") {
			t.Errorf("another user's lock file: %v", err)
		}
	})
}

func TestDir(t *testing.T) {
	uid := strconv.Itoa(os.Geteuid())
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000", "XDG_STATE_HOME": "/s", "HOME": "/h"}, "/run/user/1000/startsvc"},
		{map[string]string{"XDG_STATE_HOME": "/s", "HOME": "/h"}, "/s/startsvc/locks"},
		{map[string]string{"XDG_RUNTIME_DIR": "relative", "HOME": "/h"}, "/h/.local/state/startsvc/locks"},
		{map[string]string{"TMPDIR": "/t"}, "/t/startsvc-" + uid},
	} {
		got := Dir(func(k string) string { return c.env[k] })
		if got != c.want {
			t.Errorf("Dir(%v) = %s, want %s", c.env, got, c.want)
		}
	}
	if got := Path("/x", "localai"); got != filepath.Join("/x", "localai.lock") {
		t.Errorf("Path = %s", got)
	}
}
