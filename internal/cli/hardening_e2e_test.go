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

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
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

// TestEnvTooLargeForTheKernelChangesNothing gives a value over the kernel's
// limit for one environment variable (128 KiB): through a file it works;
// with --secrets-via env, up refuses before anything changes (exit 2, naming
// the key and the way out) and the running container stays; run refuses too.
func TestEnvTooLargeForTheKernelChangesNothing(t *testing.T) {
	testenv.BuildFixtureImage(t)
	// The service does not take BIG_CERT in its environment: its own process
	// could not start with it either (a stack would hand it over as a file).
	stack := writeStack(t, "services:\n  app:\n    image: "+testenv.FixtureImage+"\n")
	big := strings.Repeat("c", secrets.MaxEnvEntry+1024)
	if err := os.WriteFile(filepath.Join(stack, ".env"), []byte("BIG_CERT="+big+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	project := testenv.ProjectName(t)
	if r := startsvcBounded(t, nil, "up", "-C", stack, "-p", project, "--skip-infisical"); r.code != 0 {
		t.Fatalf("up through a file: exit %d:\n%s", r.code, r.out)
	}
	before := containerOf(t, project, "app")
	r := startsvcBounded(t, nil, "up", "-C", stack, "-p", project, "--skip-infisical", "--secrets-via", "env")
	if r.code != 2 || !strings.Contains(r.out, "BIG_CERT") || !strings.Contains(r.out, "--secrets-via file") {
		t.Errorf("up --secrets-via env: exit %d, want 2 naming BIG_CERT and suggesting --secrets-via file:\n%.2000s", r.code, r.out)
	}
	if strings.Contains(r.out, "removing") {
		t.Errorf("up went on to remove containers:\n%.2000s", r.out)
	}
	if after := containerOf(t, project, "app"); after != before || after.status != "running" {
		t.Errorf("the running container was touched: %v, then %v", before, after)
	}
	r = startsvcBounded(t, nil, "run", "-C", stack, "--skip-infisical", "--", "true")
	if r.code != 2 || !strings.Contains(r.out, "BIG_CERT") {
		t.Errorf("run: exit %d, want 2 naming BIG_CERT:\n%.2000s", r.code, r.out)
	}
}

// TestReservedNameNamesItsSource sets reserved names in Infisical and in .env:
// the warning names where each one really comes from.
func TestReservedNameNamesItsSource(t *testing.T) {
	srv := emptyInfisical(t, infisicaltest.V3Only)
	srv.SetSecret("proj-1", "dev", "/", "DOCKER_HOST", "tcp://elsewhere:2375")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("HOME=/not/yours\nA_SETTING=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startsvcBounded(t, infisicalEnv(srv, "client-secret-value-1"), "export", "-C", dir, "-o", filepath.Join(t.TempDir(), "out.env"))
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.out)
	}
	for _, want := range []string{"DOCKER_HOST is set in Infisical", "HOME is set in .env"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output does not say %q:\n%s", want, r.out)
		}
	}
}

// TestEnvFileErrorNamesLineAndKey: a value with an unclosed ${ names the
// file, the line and the key, not the value.
func TestEnvFileErrorNamesLineAndKey(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("A=1\n# a comment\nKEY=s3cr3t-x${oops\nB=2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startsvcBounded(t, nil, "export", "-C", dir, "--skip-infisical")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", r.code, r.out)
	}
	for _, want := range []string{".env", "line 3", "KEY"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("the error does not name %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.out, "s3cr3t") {
		t.Errorf("the error shows the value:\n%s", r.out)
	}
}

// TestDoctorCallsATypoATypo: against a 2024 server, which lists an unknown
// environment or folder as empty, and a 2026 one, which answers 404, doctor's
// credentials check fails naming the environment or folder, as up does
// (exit 4), instead of reporting the credentials fine.
func TestDoctorCallsATypoATypo(t *testing.T) {
	for _, c := range []struct {
		name string
		mode infisicaltest.Mode
		args []string
		say  string
	}{
		{"environment, 2024 server", infisicaltest.V3Only, []string{"--infisical-env", "prdo"}, `no environment "prdo"`},
		{"folder, 2024 server", infisicaltest.V3Only, []string{"--secret-path", "/nope"}, "has no folder /nope"},
		{"environment, 2026 server", infisicaltest.V4, []string{"--infisical-env", "prdo"}, "in environment 'prdo' was not found"},
		{"folder, 2026 server", infisicaltest.V4, []string{"--secret-path", "/nope"}, "Folder with path '/nope'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := fakeInfisical(t, c.mode)
			stack := writeStack(t, "services:\n  app:\n    image: "+testenv.FixtureImage+"\n")
			args := append([]string{"doctor", "-C", stack, "-p", testenv.ProjectName(t)}, c.args...)
			r := startsvcBounded(t, infisicalEnv(srv, "client-secret-value-1"), args...)
			if r.code != 4 {
				t.Errorf("doctor exited %d, want 4:\n%s", r.code, r.out)
			}
			if !strings.Contains(r.out, c.say) {
				t.Errorf("doctor does not say %q:\n%s", c.say, r.out)
			}
			// export uses the same client: the same typo, the same exit.
			r = startsvcBounded(t, infisicalEnv(srv, "client-secret-value-1"), append([]string{"export", "-C", stack}, c.args...)...)
			if r.code != 4 || !strings.Contains(r.out, c.say) {
				t.Errorf("export exited %d, want 4 saying %q:\n%s", r.code, c.say, r.out)
			}
		})
	}
}
