package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/stack"
)

func TestPrepareIsIdempotentAndWarnsOfTheOldCopy(t *testing.T) {
	dir := shippedStack(t)
	settings := filepath.Join(dir, filepath.FromSlash(stack.SearXNGSettings))

	// --dry-run says what it would do, and does nothing.
	r := invoke(t, dir, nil, "prepare", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "would write searxng/settings.yml") {
		t.Fatalf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(settings); !os.IsNotExist(err) {
		t.Fatal("--dry-run wrote settings.yml")
	}

	r = invoke(t, dir, nil, "prepare")
	if r.code != 0 || !strings.Contains(r.stderr, "wrote searxng/settings.yml") || !strings.Contains(r.stderr, "is prepared") {
		t.Fatalf("prepare: exit %d\n%s", r.code, r.stderr)
	}
	first, err := os.ReadFile(settings)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(first), "ultrasecretkey") {
		t.Error("settings.yml still has the placeholder key")
	}

	// The old script's plaintext copy is reported, never read or printed.
	copyPath := filepath.Join(dir, filepath.FromSlash(stack.SupabaseEnvCopy))
	if err := os.WriteFile(copyPath, []byte("POSTGRES_PASSWORD=old-plaintext-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = invoke(t, dir, nil, "prepare")
	if r.code != 0 || !strings.Contains(r.stderr, "nothing changed") {
		t.Fatalf("second prepare: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "WARNING: supabase/docker/.env is a plaintext copy") || !strings.Contains(r.stderr, "delete "+copyPath) {
		t.Errorf("no warning about the old copy:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "old-plaintext-value") {
		t.Error("prepare printed a value of the old copy")
	}
	if again, _ := os.ReadFile(settings); string(again) != string(first) {
		t.Error("a second prepare changed settings.yml")
	}
}

// TestPrepareClonesFromTheGivenRepository checks the flags reach the clone:
// a local repository with a docker/ folder at a tag.
func TestPrepareClonesFromTheGivenRepository(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	upstream := t.TempDir()
	gitIn := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	copyFile(t, filepath.Join(repoRoot, "internal", "stack", "testdata", "supabase-standin.yml"), filepath.Join(upstream, "docker", "docker-compose.yml"))
	copyFile(t, filepath.Join(repoRoot, "README.md"), filepath.Join(upstream, "apps", "README.md"))
	gitIn(upstream, "init", "--quiet")
	gitIn(upstream, "add", ".")
	gitIn(upstream, "commit", "--quiet", "-m", "docker folder")
	gitIn(upstream, "tag", "v-test")

	dir := shippedStack(t)
	if err := os.RemoveAll(filepath.Join(dir, stack.SupabaseDir)); err != nil {
		t.Fatal(err)
	}
	r := invoke(t, dir, nil, "prepare", "--supabase-repo", "file://"+upstream, "--supabase-ref", "v-test")
	if r.code != 0 || !strings.Contains(r.stderr, "cloned Supabase's docker folder at v-test") {
		t.Fatalf("prepare: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(stack.SupabaseCompose))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, stack.SupabaseDir, "apps")); !os.IsNotExist(err) {
		t.Error("the checkout is not sparse: apps/ is there")
	}

	// Asked for the pinned release, prepare leaves the checkout of v-test as
	// it is and says so, with what to do.
	r = invoke(t, dir, nil, "prepare")
	if r.code != 0 || !strings.Contains(r.stderr, "WARNING: supabase holds v-test") ||
		!strings.Contains(r.stderr, "startsvc prepare --update-supabase moves it to "+stack.DefaultSupabaseRef) {
		t.Errorf("prepare with another ref checked out: exit %d\n%s", r.code, r.stderr)
	}

	// A checkout made the old script's way, following a branch.
	old := shippedStack(t)
	if err := os.RemoveAll(filepath.Join(old, stack.SupabaseDir)); err != nil {
		t.Fatal(err)
	}
	gitIn(old, "clone", "--quiet", "file://"+upstream, stack.SupabaseDir)
	r = invoke(t, old, nil, "prepare")
	if r.code != 0 || !strings.Contains(r.stderr, "follows branch") || !strings.Contains(r.stderr, stack.SupabaseDataDir) {
		t.Errorf("prepare with the old script's checkout: exit %d\n%s", r.code, r.stderr)
	}
}
