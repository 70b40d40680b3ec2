package stack

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// gitEnv is an environment for git that ignores the user's and the system's
// git configuration and names a committer.
func gitEnv(t *testing.T) []string {
	t.Helper()
	home := t.TempDir()
	env := []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=startsvc test", "GIT_AUTHOR_EMAIL=test@startsvc.invalid",
		"GIT_COMMITTER_NAME=startsvc test", "GIT_COMMITTER_EMAIL=test@startsvc.invalid",
	}
	for _, k := range []string{"PATH", "SYSTEMROOT", "TMPDIR", "TEMP", "TMP"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func requireGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("git is not installed and CI is set")
		}
		t.Skip("git is not installed")
	}
}

// upstream is a local stand-in for Supabase's repository: a docker/ folder, a
// folder the sparse checkout must leave out, and two tagged releases.
type upstream struct {
	url  string
	git  GitRunner
	dir  string
	tags map[string]string // tag -> commit
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	requireGit(t)
	u := &upstream{dir: t.TempDir(), git: ExecGit(gitEnv(t)), tags: map[string]string{}}
	u.url = "file://" + filepath.ToSlash(u.dir)
	if runtime.GOOS == "windows" {
		u.url = "file:///" + filepath.ToSlash(u.dir)
	}
	u.run(t, "init", "--quiet", u.dir)
	u.write(t, "docker/docker-compose.yml", "services: {}\n# release one\n")
	u.write(t, "docker/volumes/pooler/pooler.exs", "line one\r\nline two\r\n")
	u.write(t, "apps/studio/huge.txt", "not part of the docker folder\n")
	u.commit(t, "release one")
	u.run(t, "-C", u.dir, "tag", "-a", "-m", "one", "self-hosted/v1.0.0")
	u.tags["self-hosted/v1.0.0"] = u.head(t)
	u.write(t, "docker/docker-compose.yml", "services: {}\n# release two\n")
	u.commit(t, "release two")
	u.run(t, "-C", u.dir, "tag", "self-hosted/v2.0.0")
	u.tags["self-hosted/v2.0.0"] = u.head(t)
	return u
}

func (u *upstream) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := u.git(context.Background(), args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func (u *upstream) write(t *testing.T, rel, content string) {
	t.Helper()
	writeFile(t, filepath.Join(u.dir, rel), content)
}

func (u *upstream) commit(t *testing.T, msg string) {
	t.Helper()
	u.run(t, "-C", u.dir, "add", "-A")
	u.run(t, "-C", u.dir, "-c", "core.autocrlf=false", "commit", "--quiet", "-m", msg)
}

func (u *upstream) head(t *testing.T) string { return u.run(t, "-C", u.dir, "rev-parse", "HEAD") }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// supabaseStack is a stack directory whose base file includes Supabase's.
func supabaseStack(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, BaseFile), "include:\n  - path: ./supabase/docker/docker-compose.yml\n    env_file: /dev/null\nservices: {}\n")
	return dir
}

// snapshot records every file under dir with its content and mode, ignoring
// git's own folder, so two runs can be compared.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			out[rel] = "dir " + info.Mode().String()
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = info.Mode().String() + " " + string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSnapshot(t *testing.T, a, b map[string]string) {
	t.Helper()
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s changed on the second run", k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			t.Errorf("%s appeared on the second run", k)
		}
	}
}

func TestEnsureSupabaseClonesPinnedRefSparsely(t *testing.T) {
	u := newUpstream(t)
	dir := supabaseStack(t)
	opts := PrepareOptions{SupabaseRepo: u.url, SupabaseRef: "self-hosted/v1.0.0", Git: ExecGit(gitEnv(t))}

	state, rev, err := EnsureSupabase(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if state != SupabaseCloned || rev != u.tags["self-hosted/v1.0.0"] {
		t.Errorf("got %q at %s, want cloned at the tag's commit %s", state, rev, u.tags["self-hosted/v1.0.0"])
	}
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(SupabaseCompose)))
	if err != nil || !strings.Contains(string(data), "release one") {
		t.Fatalf("docker-compose.yml of release one expected, got %q (%v)", data, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "supabase", "apps")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the sparse checkout contains apps/, want docker/ only")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, cloneTempPrefix+"*")); len(left) > 0 {
		t.Errorf("temporary clone folders left: %v", left)
	}

	// Second run: nothing to do, nothing changed, upstream's newer release ignored.
	before := snapshot(t, dir)
	state, rev2, err := EnsureSupabase(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if state != SupabasePresent || rev2 != rev {
		t.Errorf("second run: %q at %s, want present at %s", state, rev2, rev)
	}
	sameSnapshot(t, before, snapshot(t, dir))
}

func TestEnsureSupabaseUpdatesOnlyWhenAsked(t *testing.T) {
	u := newUpstream(t)
	dir := supabaseStack(t)
	git := ExecGit(gitEnv(t))
	ctx := context.Background()
	if _, _, err := EnsureSupabase(ctx, dir, PrepareOptions{SupabaseRepo: u.url, SupabaseRef: "self-hosted/v1.0.0", Git: git}); err != nil {
		t.Fatal(err)
	}

	// A different ref without UpdateSupabase: left alone.
	state, rev, err := EnsureSupabase(ctx, dir, PrepareOptions{SupabaseRepo: u.url, SupabaseRef: "self-hosted/v2.0.0", Git: git})
	if err != nil || state != SupabasePresent || rev != u.tags["self-hosted/v1.0.0"] {
		t.Fatalf("without update: %q at %s (%v), want present at release one", state, rev, err)
	}

	// With UpdateSupabase, by tag, then by commit.
	state, rev, err = EnsureSupabase(ctx, dir, PrepareOptions{SupabaseRepo: u.url, SupabaseRef: "self-hosted/v2.0.0", UpdateSupabase: true, Git: git})
	if err != nil || state != SupabaseUpdated || rev != u.tags["self-hosted/v2.0.0"] {
		t.Fatalf("update to v2: %q at %s (%v)", state, rev, err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(SupabaseCompose))); !strings.Contains(string(data), "release two") {
		t.Error("docker-compose.yml is not release two's after the update")
	}
	state, rev, err = EnsureSupabase(ctx, dir, PrepareOptions{SupabaseRepo: u.url, SupabaseRef: u.tags["self-hosted/v1.0.0"], UpdateSupabase: true, Git: git})
	if err != nil || state != SupabaseUpdated || rev != u.tags["self-hosted/v1.0.0"] {
		t.Fatalf("update to a commit: %q at %s (%v)", state, rev, err)
	}
	// Updating to where it already is reports present.
	state, _, err = EnsureSupabase(ctx, dir, PrepareOptions{SupabaseRepo: u.url, SupabaseRef: u.tags["self-hosted/v1.0.0"], UpdateSupabase: true, Git: git})
	if err != nil || state != SupabasePresent {
		t.Fatalf("update to the same commit: %q (%v), want present", state, err)
	}
}

func TestEnsureSupabaseFailedCloneLeavesNothing(t *testing.T) {
	u := newUpstream(t)
	dir := supabaseStack(t)
	_, _, err := EnsureSupabase(context.Background(), dir, PrepareOptions{SupabaseRepo: u.url, SupabaseRef: "no-such-ref", Git: ExecGit(gitEnv(t))})
	if err == nil || !strings.Contains(err.Error(), "no-such-ref") {
		t.Fatalf("err = %v, want a clone error naming the ref", err)
	}
	if _, err := os.Stat(filepath.Join(dir, SupabaseDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a failed clone left supabase/ behind")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, cloneTempPrefix+"*")); len(left) > 0 {
		t.Errorf("temporary clone folders left: %v", left)
	}
}

func TestEnsureSupabaseRemovesLeftoversOfAKilledRun(t *testing.T) {
	u := newUpstream(t)
	dir := supabaseStack(t)
	leftover := filepath.Join(dir, cloneTempPrefix+"123")
	writeFile(t, filepath.Join(leftover, "docker", "x"), "half a clone")
	if _, _, err := EnsureSupabase(context.Background(), dir, PrepareOptions{SupabaseRepo: u.url, SupabaseRef: "self-hosted/v1.0.0", Git: ExecGit(gitEnv(t))}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the leftover of a killed run is still there")
	}
}

func TestEnsureSupabaseRefusesAForeignFolder(t *testing.T) {
	dir := supabaseStack(t)
	writeFile(t, filepath.Join(dir, "supabase", "notes.txt"), "mine")
	called := false
	git := func(context.Context, ...string) ([]byte, error) { called = true; return nil, nil }
	_, _, err := EnsureSupabase(context.Background(), dir, PrepareOptions{Git: git})
	if err == nil || !strings.Contains(err.Error(), "docker/docker-compose.yml") {
		t.Fatalf("err = %v, want one explaining what supabase/ lacks", err)
	}
	if called {
		t.Error("git ran although supabase/ belongs to someone else")
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "supabase", "notes.txt")); string(data) != "mine" {
		t.Error("the user's file was touched")
	}
}

// The clone is an argument list with the pinned defaults, never a shell line.
func TestEnsureSupabaseDefaultsAndArgv(t *testing.T) {
	dir := supabaseStack(t)
	var calls [][]string
	git := func(_ context.Context, args ...string) ([]byte, error) {
		calls = append(calls, args)
		if len(args) >= 3 && args[0] == "-C" && args[2] == "checkout" {
			writeFile(t, filepath.Join(args[1], "docker", "docker-compose.yml"), "services: {}\n")
		}
		return nil, nil
	}
	state, _, err := EnsureSupabase(context.Background(), dir, PrepareOptions{Git: git})
	if err != nil || state != SupabaseCloned {
		t.Fatalf("state %q, err %v", state, err)
	}
	joined := make([]string, len(calls))
	for i, c := range calls {
		joined[i] = strings.Join(c, " ")
		for _, a := range c {
			if a == "sh" || a == "-c" || strings.ContainsAny(a, "|;&") {
				t.Errorf("call %q looks like a shell line", joined[i])
			}
		}
	}
	all := strings.Join(joined, "\n")
	for _, want := range []string{"remote add origin " + DefaultSupabaseRepo, "fetch --quiet --depth 1 --filter=blob:none origin " + DefaultSupabaseRef, "sparse-checkout set docker"} {
		if !strings.Contains(all, want) {
			t.Errorf("no git call contains %q; calls:\n%s", want, all)
		}
	}
	if !regexp.MustCompile(`^self-hosted/v\d+\.\d+\.\d+$`).MatchString(DefaultSupabaseRef) {
		t.Errorf("DefaultSupabaseRef %q is not a pinned release tag", DefaultSupabaseRef)
	}
}

func TestEnsureSupabaseSkipsStacksWithoutIt(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), "services: {}\n")
	git := func(context.Context, ...string) ([]byte, error) { t.Fatal("git ran"); return nil, nil }
	state, _, err := EnsureSupabase(context.Background(), dir, PrepareOptions{Git: git})
	if err != nil || state != SupabaseNotUsed {
		t.Fatalf("state %q, err %v, want not used", state, err)
	}
}

func TestUsesSupabase(t *testing.T) {
	tests := []struct {
		name, base string
		want       bool
	}{
		{"short form", "include:\n  - ./supabase/docker/docker-compose.yml\n", true},
		{"long form", "include:\n  - path: supabase/docker/docker-compose.yml\n", true},
		{"path list", "include:\n  - path: [./supabase/docker/docker-compose.yml, ./extra.yml]\n", true},
		{"other include", "include:\n  - ./other/compose.yml\n", false},
		{"no include", "services: {}\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, BaseFile), tt.base)
			got, err := UsesSupabase(dir)
			if err != nil || got != tt.want {
				t.Errorf("UsesSupabase = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestEnsureSearXNGSettings(t *testing.T) {
	dir := t.TempDir()
	base := "server:\n  secret_key: \"ultrasecretkey\"\n# ultrasecretkey again\n"
	writeFile(t, filepath.Join(dir, filepath.FromSlash(SearXNGBase)), base)

	wrote, err := EnsureSearXNGSettings(dir, mrand.NewChaCha8([32]byte{1}))
	if err != nil || !wrote {
		t.Fatalf("first run: wrote %v, err %v", wrote, err)
	}
	path := filepath.Join(dir, filepath.FromSlash(SearXNGSettings))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("ultrasecretkey")) {
		t.Fatal("the placeholder is still there")
	}
	keys := regexp.MustCompile(`[0-9a-f]{64}`).FindAllString(string(data), -1)
	if len(keys) != 2 || keys[0] != keys[1] {
		t.Fatalf("want the same 64-hex-character key in both places, got %q", keys)
	}
	if b, _ := hex.DecodeString(keys[0]); len(b) != 32 {
		t.Error("the key is not 32 bytes")
	}
	if runtime.GOOS != "windows" {
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Errorf("settings.yml has mode %v, want 0600", st.Mode().Perm())
		}
	}
	if got, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(SearXNGBase))); string(got) != base {
		t.Error("settings-base.yml was changed")
	}

	// Second run: the same bytes, even with a different random source.
	before := snapshot(t, dir)
	wrote, err = EnsureSearXNGSettings(dir, mrand.NewChaCha8([32]byte{2}))
	if err != nil || wrote {
		t.Fatalf("second run: wrote %v, err %v; want nothing done", wrote, err)
	}
	sameSnapshot(t, before, snapshot(t, dir))
}

func TestEnsureSearXNGSettingsFillsAnExistingPlaceholder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, filepath.FromSlash(SearXNGSettings))
	writeFile(t, path, "secret_key: ultrasecretkey\nmine: true\n")
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	wrote, err := EnsureSearXNGSettings(dir, mrand.NewChaCha8([32]byte{3}))
	if err != nil || !wrote {
		t.Fatalf("wrote %v, err %v", wrote, err)
	}
	data, _ := os.ReadFile(path)
	if !regexp.MustCompile(`^secret_key: [0-9a-f]{64}\nmine: true\n$`).Match(data) {
		t.Errorf("settings.yml = %q", data)
	}
	if runtime.GOOS != "windows" {
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
			t.Errorf("mode %v, want the file's own 0640 kept", st.Mode().Perm())
		}
	}
}

func TestEnsureSearXNGSettingsWithoutBase(t *testing.T) {
	dir := t.TempDir()
	wrote, err := EnsureSearXNGSettings(dir, nil)
	if err != nil || wrote {
		t.Fatalf("wrote %v, err %v; want a stack without SearXNG skipped", wrote, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "searxng")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("searxng/ was created")
	}
}

func TestEnsureSearXNGSettingsRandomFailure(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, filepath.FromSlash(SearXNGBase)), "secret_key: ultrasecretkey\n")
	_, err := EnsureSearXNGSettings(dir, bytes.NewReader(nil))
	if !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v, want the random source's error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(SearXNGSettings))); !errors.Is(err, fs.ErrNotExist) {
		t.Error("settings.yml was written without a key")
	}
}

func TestFixPoolerLineEnds(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, filepath.FromSlash(PoolerConfig))
	writeFile(t, path, "a\r\nb\r\nc")
	fixed, err := FixPoolerLineEnds(dir)
	if err != nil || !fixed {
		t.Fatalf("fixed %v, err %v", fixed, err)
	}
	if data, _ := os.ReadFile(path); string(data) != "a\nb\nc" {
		t.Errorf("pooler.exs = %q", data)
	}
	before := snapshot(t, dir)
	if fixed, err := FixPoolerLineEnds(dir); err != nil || fixed {
		t.Fatalf("second run: fixed %v, err %v", fixed, err)
	}
	sameSnapshot(t, before, snapshot(t, dir))

	if fixed, err := FixPoolerLineEnds(t.TempDir()); err != nil || fixed {
		t.Errorf("missing file: fixed %v, err %v", fixed, err)
	}
}

// Prepare end to end on a clone whose pooler.exs has CRLF, twice.
func TestPrepareIsIdempotent(t *testing.T) {
	u := newUpstream(t)
	dir := supabaseStack(t)
	writeFile(t, filepath.Join(dir, filepath.FromSlash(SearXNGBase)), "secret_key: \"ultrasecretkey\"\n")
	opts := PrepareOptions{SupabaseRepo: u.url, SupabaseRef: "self-hosted/v1.0.0", Git: ExecGit(append(gitEnv(t), "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=core.autocrlf", "GIT_CONFIG_VALUE_0=false"))}

	first, err := Prepare(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if first.Supabase != SupabaseCloned || !first.SearXNGKey || !first.PoolerFixed || first.StaleEnvCopy != "" {
		t.Errorf("first run: %+v", first)
	}
	before := snapshot(t, dir)
	second, err := Prepare(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if second.Supabase != SupabasePresent || second.SearXNGKey || second.PoolerFixed {
		t.Errorf("second run did something: %+v", second)
	}
	sameSnapshot(t, before, snapshot(t, dir))

	// A plaintext copy of .env from the old script is reported, not read or removed.
	writeFile(t, filepath.Join(dir, filepath.FromSlash(SupabaseEnvCopy)), "POSTGRES_PASSWORD=old\n")
	third, err := Prepare(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if third.StaleEnvCopy != filepath.Join(dir, filepath.FromSlash(SupabaseEnvCopy)) {
		t.Errorf("StaleEnvCopy = %q", third.StaleEnvCopy)
	}
}
