package cli_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

// startsvcBounded runs the startsvc binary like startsvc does, but kills it
// after a generous bound: these tests check that it never hangs, and a hang
// must fail the test rather than the whole run.
func startsvcBounded(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.StartsvcBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("startsvc %s did not return within the bound; output:\n%s", strings.Join(args, " "), out.String())
	}
	return result{code: exitCode(err), out: out.String(), duration: time.Since(start)}
}

// TestNothingBlocksOnANamedPipe puts named pipes where startsvc reads — the
// hand-over file's name, the env file — and other things that are not files
// there: every command returns, exit 2, naming the path and what is there,
// and leaves it in place.
func TestNothingBlocksOnANamedPipe(t *testing.T) {
	for _, c := range []struct {
		name, at, what string
		make           func(path string) error
		args           []string
	}{
		{"config with a pipe at the hand-over file", secrets.FileName, "named pipe", fifo, []string{"config"}},
		{"export with a pipe at the hand-over file", secrets.FileName, "named pipe", fifo, []string{"export"}},
		{"export with a folder at the hand-over file", secrets.FileName, "folder", folder, []string{"export"}},
		{"export with a link at the hand-over file", secrets.FileName, "symbolic link", danglingLink, []string{"export"}},
		{"export with a pipe as the env file", ".env", "named pipe", fifo, []string{"export"}},
		{"run with a pipe as the env file", ".env", "named pipe", fifo, []string{"run", "--", "true"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			stack := writeStack(t, "services:\n  app:\n    image: "+testenv.FixtureImage+"\n")
			path := filepath.Join(stack, c.at)
			if err := c.make(path); err != nil {
				t.Fatal(err)
			}
			args := append([]string{c.args[0], "-C", stack, "-p", testenv.ProjectName(t), "--skip-infisical"}, c.args[1:]...)
			r := startsvcBounded(t, nil, args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2:\n%s", r.code, r.out)
			}
			if !strings.Contains(r.out, c.at) || !strings.Contains(r.out, c.what) {
				t.Errorf("the error does not name %s and say it is a %s:\n%s", c.at, c.what, r.out)
			}
			if _, err := os.Lstat(path); err != nil {
				t.Errorf("%s was removed: %v", c.at, err)
			}
		})
	}
}

func fifo(path string) error   { return syscall.Mkfifo(path, 0o600) }
func folder(path string) error { return os.Mkdir(path, 0o700) }
func danglingLink(path string) error {
	return os.Symlink(filepath.Join(filepath.Dir(path), "nowhere"), path)
}

// TestFullDiskNamesThePathOnce fails the write of export's 0600 file — a file
// size limit of 0 fails it as a full disk does — and checks that the error
// names the file exactly once and says why.
func TestFullDiskNamesThePathOnce(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("A_SETTING=some-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "exported.env")
	cmd := exec.Command("sh", "-c", `ulimit -f 0 && exec "$0" "$@"`, testenv.StartsvcBinary(t),
		"export", "-C", dir, "--skip-infisical", "-o", out)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	code := exitCode(cmd.Run())
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, b.String())
	}
	if n := strings.Count(b.String(), out); n != 1 {
		t.Errorf("the error names %s %d times, want once:\n%s", out, n, b.String())
	}
	if !strings.Contains(b.String(), "file too large") {
		t.Errorf("the error does not say why:\n%s", b.String())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a partial file is left: %v", err)
	}
}
