package stack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/startsvc/startsvc/internal/exitcode"
)

// Where Supabase's docker/ folder comes from unless the user says otherwise.
const (
	DefaultSupabaseRepo = "https://github.com/supabase/supabase.git"
	// DefaultSupabaseRef is pinned, never a moving branch: the stack must not
	// change under a user because upstream did. self-hosted/v0.7.2 is the last
	// release line whose compose file still calls its API gateway "kong"; from
	// self-hosted/v0.8.0 it is "api-gw", which the environment overrides and the
	// Caddyfile would have to follow first.
	DefaultSupabaseRef = "self-hosted/v0.7.2"
)

// Paths of the preparation steps, relative to the stack directory, with
// forward slashes as in the compose files.
const (
	SupabaseDir      = "supabase"
	SupabaseCompose  = "supabase/docker/docker-compose.yml"
	PoolerConfig     = "supabase/docker/volumes/pooler/pooler.exs"
	SupabaseEnvCopy  = "supabase/docker/.env"
	SearXNGBase      = "searxng/settings-base.yml"
	SearXNGSettings  = "searxng/settings.yml"
	searxngSecretKey = "ultrasecretkey"
	cloneTempPrefix  = ".supabase-clone-"
)

// GitRunner runs git with args (a list, never a shell line) and returns what it
// wrote to stdout and stderr. A non-zero exit is an error.
type GitRunner func(ctx context.Context, args ...string) ([]byte, error)

// ExecGit returns a GitRunner for the git on PATH, run with env as its whole
// environment (nil: this process's). Git is told never to prompt: a repository
// that needs credentials fails instead of waiting for a terminal. When ctx ends,
// git is killed, and its output is abandoned after a short grace period.
func ExecGit(env []string) GitRunner {
	return func(ctx context.Context, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		if env != nil {
			cmd.Env = env
		}
		cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0")
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		if err != nil {
			return out, fmt.Errorf("git %s: %w: %s", gitSubcommand(args), err, lastLines(out, 5))
		}
		return out, nil
	}
}

// PrepareOptions configure Prepare. The zero value prepares the default stack.
type PrepareOptions struct {
	SupabaseRepo string // DefaultSupabaseRepo when empty
	SupabaseRef  string // tag, branch or commit; DefaultSupabaseRef when empty
	// UpdateSupabase moves an existing checkout to SupabaseRef. Without it an
	// existing supabase/docker is left exactly as it is.
	UpdateSupabase bool
	Rand           io.Reader // crypto/rand.Reader when nil
	Git            GitRunner // ExecGit(nil) when nil
}

func (o PrepareOptions) withDefaults() PrepareOptions {
	if o.SupabaseRepo == "" {
		o.SupabaseRepo = DefaultSupabaseRepo
	}
	if o.SupabaseRef == "" {
		o.SupabaseRef = DefaultSupabaseRef
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Git == nil {
		o.Git = ExecGit(nil)
	}
	return o
}

// SupabaseState says what EnsureSupabase found or did.
type SupabaseState string

const (
	SupabaseNotUsed SupabaseState = ""        // the stack does not include Supabase's file
	SupabasePresent SupabaseState = "present" // already there, left alone
	SupabaseCloned  SupabaseState = "cloned"
	SupabaseUpdated SupabaseState = "updated" // moved to another commit
)

// Prepared reports what Prepare did. Nothing in it is secret.
type Prepared struct {
	Supabase         SupabaseState
	SupabaseRevision string // the commit checked out, when it is a git checkout
	// SupabaseAdvice is set when an existing checkout, left as it is, is not
	// the ref asked for (or startsvc cannot tell): how it differs, and what to
	// do about it (see CheckoutOrigin.Advice).
	SupabaseAdvice string
	SearXNGKey     bool // settings.yml was created or got its secret key
	PoolerFixed    bool // pooler.exs had CRLF line ends and now has LF
	// StaleEnvCopy is set when supabase/docker/.env exists: a plaintext copy of
	// .env that the old start script made. The stack does not read it (see
	// the include in compose/docker-compose.yml); the caller should tell the
	// user it can be deleted.
	StaleEnvCopy string
}

// Prepare does, idempotently and without a shell, what the stack in dir needs
// before compose runs: Supabase's docker/ folder when the base compose file
// includes it, SearXNG's settings.yml with its own secret key when the stack
// ships settings-base.yml, and LF line ends in Supabase's pooler.exs. A second
// run changes nothing. Steps a stack does not use are skipped, so any stack
// directory is safe to prepare.
func Prepare(ctx context.Context, dir string, opts PrepareOptions) (*Prepared, error) {
	opts = opts.withDefaults()
	res := &Prepared{}
	var err error
	if res.Supabase, res.SupabaseRevision, err = EnsureSupabase(ctx, dir, opts); err != nil {
		return res, err
	}
	if res.Supabase == SupabasePresent && !opts.UpdateSupabase {
		res.SupabaseAdvice = OriginOf(ctx, dir, opts.Git).Advice(opts.SupabaseRef)
	}
	if res.SearXNGKey, err = EnsureSearXNGSettings(dir, opts.Rand); err != nil {
		return res, err
	}
	if res.PoolerFixed, err = FixPoolerLineEnds(dir); err != nil {
		return res, err
	}
	if p := filepath.Join(dir, filepath.FromSlash(SupabaseEnvCopy)); fileExists(p) {
		res.StaleEnvCopy = p
	}
	return res, nil
}

// UsesSupabase reports whether the stack's base compose file includes
// supabase/docker/docker-compose.yml.
func UsesSupabase(dir string) (bool, error) {
	return includesSupabase(filepath.Join(dir, filepath.FromSlash(BaseFile)), BaseFile)
}

// includesSupabase reports whether the compose file at path includes
// supabase/docker/docker-compose.yml (relative to the project directory); a
// missing file does not. Errors call the file name.
func includesSupabase(file, name string) (bool, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, exitcode.Usagef("read %s: %w", name, err)
	}
	var top struct {
		Include []yaml.Node `yaml:"include"`
	}
	if err := yaml.Unmarshal(data, &top); err != nil {
		return false, exitcode.Usagef("%s: %w", name, err)
	}
	for _, n := range top.Include {
		var paths []string
		switch n.Kind {
		case yaml.ScalarNode:
			paths = []string{n.Value}
		case yaml.MappingNode:
			var entry struct {
				Path yaml.Node `yaml:"path"`
			}
			if err := n.Decode(&entry); err != nil {
				continue
			}
			if entry.Path.Kind == yaml.SequenceNode {
				_ = entry.Path.Decode(&paths)
			} else {
				paths = []string{entry.Path.Value}
			}
		}
		for _, p := range paths {
			if path.Clean(filepath.ToSlash(p)) == SupabaseCompose {
				return true, nil
			}
		}
	}
	return false, nil
}

// EnsureSupabase makes sure supabase/docker holds Supabase's docker/ folder
// when the stack includes it. When supabase/ is missing (or empty) it makes a
// sparse, shallow checkout of opts.SupabaseRef's docker/ folder from
// opts.SupabaseRepo, in a temporary folder renamed into place only when
// complete, so a failed or interrupted clone leaves nothing half-done. An
// existing checkout is left alone unless opts.UpdateSupabase is set; then it is
// moved to opts.SupabaseRef. It returns the state and the commit checked out.
func EnsureSupabase(ctx context.Context, dir string, opts PrepareOptions) (SupabaseState, string, error) {
	opts = opts.withDefaults()
	used, err := UsesSupabase(dir)
	if err != nil || !used {
		return SupabaseNotUsed, "", err
	}
	removeStaleClones(dir)
	target := filepath.Join(dir, SupabaseDir)
	compose := filepath.Join(dir, filepath.FromSlash(SupabaseCompose))

	switch {
	case fileExists(compose) && !opts.UpdateSupabase:
		return SupabasePresent, revision(ctx, opts.Git, target), nil
	case fileExists(compose):
		return updateSupabase(ctx, target, opts)
	case !emptyOrMissing(target):
		return SupabaseNotUsed, "", exitcode.Usagef("%s exists but has no docker/docker-compose.yml: move it away and startsvc clones Supabase's docker folder there, or put a checkout of it there yourself", target)
	}

	if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return SupabaseNotUsed, "", fmt.Errorf("prepare supabase: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, cloneTempPrefix)
	if err != nil {
		return SupabaseNotUsed, "", fmt.Errorf("prepare supabase: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	git := opts.Git
	steps := [][]string{
		{"init", "--quiet", tmp},
		{"-C", tmp, "sparse-checkout", "init", "--cone"},
		{"-C", tmp, "sparse-checkout", "set", "docker"},
		{"-C", tmp, "remote", "add", "origin", opts.SupabaseRepo},
		{"-C", tmp, "fetch", "--quiet", "--depth", "1", "--filter=blob:none", "origin", opts.SupabaseRef},
		{"-C", tmp, "checkout", "--quiet", "--detach", "FETCH_HEAD"},
	}
	for _, args := range steps {
		if _, err := git(ctx, args...); err != nil {
			return SupabaseNotUsed, "", fmt.Errorf("clone Supabase's docker folder (%s of %s): %w\n"+
				"the stack includes %s: retry where that repository is reachable, "+
				"or put a checkout of Supabase's docker/ folder at %s/docker yourself", opts.SupabaseRef, opts.SupabaseRepo, err, SupabaseCompose, SupabaseDir)
		}
	}
	if !fileExists(filepath.Join(tmp, "docker", "docker-compose.yml")) {
		return SupabaseNotUsed, "", exitcode.Usagef("clone supabase docker folder at %s: it has no docker/docker-compose.yml", opts.SupabaseRef)
	}
	rev := revision(ctx, git, tmp)
	recordRef(ctx, git, tmp, opts.SupabaseRef)
	if err := os.Rename(tmp, target); err != nil {
		return SupabaseNotUsed, "", fmt.Errorf("clone supabase docker folder: %w", err)
	}
	done = true
	return SupabaseCloned, rev, nil
}

func updateSupabase(ctx context.Context, target string, opts PrepareOptions) (SupabaseState, string, error) {
	git := opts.Git
	before := revision(ctx, git, target)
	if before == "" {
		return SupabaseNotUsed, "", exitcode.Usagef("update supabase: %s is not a git checkout; remove it and startsvc clones it again", target)
	}
	steps := [][]string{
		{"-C", target, "sparse-checkout", "init", "--cone"},
		{"-C", target, "sparse-checkout", "set", "docker"},
		{"-C", target, "remote", "set-url", "origin", opts.SupabaseRepo},
		{"-C", target, "fetch", "--quiet", "--depth", "1", "--filter=blob:none", "origin", opts.SupabaseRef},
		{"-C", target, "checkout", "--quiet", "--detach", "FETCH_HEAD"},
	}
	for _, args := range steps {
		if _, err := git(ctx, args...); err != nil {
			return SupabaseNotUsed, before, fmt.Errorf("update supabase docker folder to %s: %w", opts.SupabaseRef, err)
		}
	}
	after := revision(ctx, git, target)
	recordRef(ctx, git, target, opts.SupabaseRef)
	if after == before {
		return SupabasePresent, after, nil
	}
	return SupabaseUpdated, after, nil
}

// revision is the commit checked out in dir, or "" when dir is no git checkout.
func revision(ctx context.Context, git GitRunner, dir string) string {
	if !exists(filepath.Join(dir, ".git")) {
		return ""
	}
	out, err := git(ctx, "-C", dir, "rev-parse", "HEAD")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// removeStaleClones deletes temporary clone folders that an interrupted run
// left behind; they are never in use once a run has ended.
func removeStaleClones(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), cloneTempPrefix) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// EnsureSearXNGSettings gives SearXNG a settings.yml with a secret key of its
// own: it copies settings-base.yml when settings.yml is missing, and replaces
// every "ultrasecretkey" placeholder with 32 bytes from random, hex-encoded.
// A settings.yml without the placeholder is never touched, so a second run
// changes nothing. A new file gets mode 0600: it holds a secret. It reports
// whether it wrote the file; a stack without settings-base.yml is skipped.
//
// There is deliberately no counterpart to the old script's first-run removal
// of SearXNG's cap_drop: the compose file grants the same capabilities on every
// start, which covers the first one (docs/STACK.md has the evidence), and
// startsvc never edits a compose file.
func EnsureSearXNGSettings(dir string, random io.Reader) (bool, error) {
	base := filepath.Join(dir, filepath.FromSlash(SearXNGBase))
	target := filepath.Join(dir, filepath.FromSlash(SearXNGSettings))
	data, err := os.ReadFile(target)
	mode := fs.FileMode(0o600)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if data, err = os.ReadFile(base); errors.Is(err, fs.ErrNotExist) {
			return false, nil
		} else if err != nil {
			return false, fmt.Errorf("searxng settings: %w", err)
		}
	case err != nil:
		return false, fmt.Errorf("searxng settings: %w", err)
	default:
		if !bytes.Contains(data, []byte(searxngSecretKey)) {
			return false, nil
		}
		if st, err := os.Stat(target); err == nil {
			mode = st.Mode().Perm()
		}
	}
	if random == nil {
		random = rand.Reader
	}
	key := make([]byte, 32)
	if _, err := io.ReadFull(random, key); err != nil {
		return false, fmt.Errorf("searxng settings: read random bytes: %w", err)
	}
	data = bytes.ReplaceAll(data, []byte(searxngSecretKey), []byte(hex.EncodeToString(key)))
	if err := writeFileAtomic(target, data, mode); err != nil {
		return false, fmt.Errorf("searxng settings: %w", err)
	}
	return true, nil
}

// FixPoolerLineEnds turns CRLF into LF in Supabase's pooler.exs, which a
// Windows checkout can give CRLF and Supavisor then fails to evaluate. It
// reports whether it changed the file; a missing file is not an error.
func FixPoolerLineEnds(dir string) (bool, error) {
	p := filepath.Join(dir, filepath.FromSlash(PoolerConfig))
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("fix pooler line ends: %w", err)
	}
	if !bytes.Contains(data, []byte("\r\n")) {
		return false, nil
	}
	st, err := os.Stat(p)
	if err != nil {
		return false, fmt.Errorf("fix pooler line ends: %w", err)
	}
	if err := writeFileAtomic(p, bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), st.Mode().Perm()); err != nil {
		return false, fmt.Errorf("fix pooler line ends: %w", err)
	}
	return true, nil
}

// writeFileAtomic replaces path with data: written to a temporary file in the
// same folder, given perm, then renamed over path, so a reader sees the old
// file or the new one, never half of either.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func emptyOrMissing(dir string) bool {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	return err == nil && len(entries) == 0
}

// lastLines keeps the end of a command's output for an error message.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

// gitSubcommand names the git command in args, past options such as -C DIR.
func gitSubcommand(args []string) string {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-C" || a == "-c":
			i++
		case len(a) > 0 && a[0] == '-':
		default:
			return a
		}
	}
	return ""
}
