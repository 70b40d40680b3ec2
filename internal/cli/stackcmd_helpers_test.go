package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/envgen"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/stack"
)

// repoRoot is the stack directory of the repository itself.
const repoRoot = "../.."

// shippedStack copies the stack this repository ships into a new temporary
// directory and puts the Supabase stand-in where the clone would be: a copy
// of the repository as a user has it after preparation.
func shippedStack(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []string{"compose", "profiles", "searxng/settings-base.yml", "Caddyfile", "caddy-addon", ".env.example", stack.StagesFile, stack.FileSecretsFile} {
		src := filepath.Join(repoRoot, p)
		st, err := os.Stat(src)
		if os.IsNotExist(err) && (p == stack.StagesFile || p == stack.FileSecretsFile) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, p)
		if st.IsDir() {
			if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		copyFile(t, src, dst)
	}
	copyFile(t, filepath.Join(repoRoot, "internal", "stack", "testdata", "supabase-standin.yml"),
		filepath.Join(dir, filepath.FromSlash(stack.SupabaseCompose)))
	return dir
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// outcome is what one in-process run of startsvc did.
type outcome struct {
	code           int
	stdout, stderr string
}

// invoke runs startsvc in-process in dir with args, in this process's
// environment without any Infisical setting, plus extra.
func invoke(t *testing.T, dir string, extra []string, args ...string) outcome {
	t.Helper()
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INFISICAL_") && !strings.HasPrefix(kv, "COMPOSE_") && !strings.HasPrefix(kv, "XDG_CACHE_HOME=") && !strings.HasPrefix(kv, "XDG_STATE_HOME=") {
			environ = append(environ, kv)
		}
	}
	environ = append(environ, "XDG_CACHE_HOME="+t.TempDir(), "XDG_STATE_HOME="+t.TempDir(), "NO_COLOR=1")
	environ = append(environ, extra...)
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), Env{Args: args, Environ: environ, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Dir: dir})
	return outcome{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// envSecrets reads the env file at path as compose does and returns every
// value that must never be printed: the secrets init generates and every value
// whose name or shape says it is a secret, by key.
func envSecrets(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := compose.ParseEnv(path, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range envgen.Keys() {
		if v := vals[k]; v != "" {
			out[k] = v
		}
	}
	for k, v := range vals {
		if secrets.LooksSecret(k, v) && v != "" {
			out[k] = v
		}
	}
	return out
}

// assertHidden fails when one of values appears in text; the failure names
// the key, never the value.
func assertHidden(t *testing.T, text string, values map[string]string) {
	t.Helper()
	for k, v := range values {
		if len(v) >= secrets.MinMasked && strings.Contains(text, v) {
			t.Errorf("the value of %s appears in the output", k)
		}
	}
}
