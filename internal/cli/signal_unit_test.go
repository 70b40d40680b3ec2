package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/startsvc/startsvc/internal/exitcode"
)

// brokenPipe fails every write as a pipe whose reader went away does.
type brokenPipe struct{ writes int }

func (b *brokenPipe) Write(p []byte) (int, error) {
	b.writes++
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
}

// TestMainStopsWhenOutputGoesAway: a command whose standard output went away
// ends with 141 and says so on standard error; later writes are not tried.
func TestMainStopsWhenOutputGoesAway(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("A_SETTING=some-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &brokenPipe{}
	var stderr bytes.Buffer
	code := Main(context.Background(), Env{Args: []string{"export", "--skip-infisical"}, Stdout: out, Stderr: &stderr, Dir: dir})
	if code != exitcode.OutputClosed {
		t.Errorf("exit %d, want %d; stderr: %s", code, exitcode.OutputClosed, stderr.String())
	}
	if !strings.Contains(stderr.String(), "closed by its reader") {
		t.Errorf("stderr does not say why: %s", stderr.String())
	}
	if out.writes != 1 {
		t.Errorf("%d writes to the closed output, want 1", out.writes)
	}
}

// TestExitCodeOfCauses: the cause of a cancelled run decides the code, and an
// error that wraps it too.
func TestExitCodeOfCauses(t *testing.T) {
	for _, c := range []struct {
		cause error
		want  int
	}{
		{interruptedBy(syscall.SIGQUIT), exitcode.Interrupted},
		{interruptedBy(syscall.SIGTERM), exitcode.Interrupted},
		{exitcode.ErrOutputClosed, exitcode.OutputClosed},
	} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(c.cause)
		if got := exitcode.Of(ctx, errors.New("compose up: canceled")); got != c.want {
			t.Errorf("cause %v: exit %d, want %d", c.cause, got, c.want)
		}
		if got := exitcode.Of(nil, fmt.Errorf("stage 1: %w", c.cause)); got != c.want {
			t.Errorf("error wrapping %v: exit %d, want %d", c.cause, got, c.want)
		}
	}
	if s := interruptedBy(syscall.SIGQUIT).Error(); s != "interrupted by SIGQUIT" {
		t.Errorf("cause text %q", s)
	}
}
