package lock

import (
	"context"
	"errors"
	"path/filepath"
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
	if !strings.HasPrefix(holder, "pid ") {
		t.Errorf("holder = %q, want the first's pid", holder)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var told string
	if _, err := Acquire(ctx, path, func(h string) { told = h }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire on a held lock: %v, want the deadline", err)
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
	case <-time.After(10 * time.Second):
		t.Fatal("a waiter did not get the lock after it was released")
	}
}

func TestPath(t *testing.T) {
	if got := Path("/x", "localai"); got != filepath.Join("/x", "startsvc-localai.lock") {
		t.Errorf("Path = %s", got)
	}
}
