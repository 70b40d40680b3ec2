package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/envgen"
	"github.com/startsvc/startsvc/internal/exitcode"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestInitWritesSecretsOnce(t *testing.T) {
	dir := shippedStack(t)
	envPath := filepath.Join(dir, ".env")

	r := invoke(t, dir, nil, "init")
	if r.code != 0 {
		t.Fatalf("init: exit %d\n%s", r.code, r.stderr)
	}
	if m := mode(t, envPath); m != 0o600 {
		t.Errorf(".env has mode %04o, want 0600", m)
	}
	generated := envSecrets(t, envPath)
	for _, k := range []string{"JWT_SECRET", "ANON_KEY", "SERVICE_ROLE_KEY", "POSTGRES_PASSWORD", "DASHBOARD_PASSWORD", "INFISICAL_ENCRYPTION_KEY"} {
		if generated[k] == "" {
			t.Errorf("%s was not generated", k)
		}
		if !strings.Contains(r.stderr, k) {
			t.Errorf("init does not name %s among the generated keys", k)
		}
	}
	assertHidden(t, r.stdout+r.stderr, generated)
	if _, err := envgen.VerifyHS256(generated["ANON_KEY"], generated["JWT_SECRET"]); err != nil {
		t.Errorf("ANON_KEY: %v", err)
	}
	first, _ := os.ReadFile(envPath)

	// A second init refuses, and changes nothing.
	r = invoke(t, dir, nil, "init")
	if r.code != exitcode.Usage || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("second init: exit %d, %s", r.code, r.stderr)
	}
	if now, _ := os.ReadFile(envPath); string(now) != string(first) {
		t.Error("a refused init changed .env")
	}

	// --force replaces it and keeps the old one, 0600 too.
	r = invoke(t, dir, nil, "init", "--force")
	if r.code != 0 {
		t.Fatalf("init --force: exit %d\n%s", r.code, r.stderr)
	}
	backups, _ := filepath.Glob(filepath.Join(dir, ".env.*.bak"))
	if len(backups) != 1 {
		t.Fatalf("backups: %v", backups)
	}
	if data, _ := os.ReadFile(backups[0]); string(data) != string(first) {
		t.Error("the backup is not the old .env")
	}
	if m := mode(t, backups[0]); m != 0o600 {
		t.Errorf("backup has mode %04o, want 0600", m)
	}
	if m := mode(t, envPath); m != 0o600 {
		t.Errorf("replaced .env has mode %04o, want 0600", m)
	}
	second := envSecrets(t, envPath)
	if second["JWT_SECRET"] == generated["JWT_SECRET"] {
		t.Error("--force kept the old secrets")
	}
	assertHidden(t, r.stdout+r.stderr, second)
	assertHidden(t, r.stdout+r.stderr, generated)
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".env.tmp-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestInitKeepsEverySetting(t *testing.T) {
	dir := shippedStack(t)
	if r := invoke(t, dir, nil, "init", "--env-file", "local.env"); r.code != 0 {
		t.Fatalf("init: exit %d\n%s", r.code, r.stderr)
	}
	example, err := compose.ReadEnvFile(filepath.Join(dir, ".env.example"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := compose.ReadEnvFile(filepath.Join(dir, "local.env"), nil)
	if err != nil {
		t.Fatal(err)
	}
	generated := map[string]bool{}
	for _, k := range envgen.Keys() {
		generated[k] = true
	}
	for k, v := range example {
		if !generated[k] && got[k] != v {
			t.Errorf("%s changed", k)
		}
	}
	if len(got) != len(example) {
		t.Errorf("%d keys, .env.example has %d", len(got), len(example))
	}
}

func TestInitWithoutExample(t *testing.T) {
	dir := t.TempDir()
	r := invoke(t, dir, nil, "init")
	if r.code != exitcode.Usage || !strings.Contains(r.stderr, "no .env.example") {
		t.Fatalf("exit %d, %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, ".env")); !os.IsNotExist(err) {
		t.Error("init without .env.example created .env")
	}
}

func TestInitAnyExample(t *testing.T) {
	// A stack whose .env.example names no secret init knows: a plain copy.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env.example"), []byte("# mine\nGREETING=hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := invoke(t, dir, nil, "init")
	if r.code != 0 || !strings.Contains(r.stderr, "names no secret") {
		t.Fatalf("exit %d, %s", r.code, r.stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, ".env")); string(data) != "# mine\nGREETING=hello\n" {
		t.Errorf(".env = %q", data)
	}
}

func TestBackupNamesNeverCollide(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte("A=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	first, err := backupFile(path, at)
	if err != nil {
		t.Fatal(err)
	}
	second, err := backupFile(path, at)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(first) != ".env.20260102-030405.bak" || filepath.Base(second) != ".env.20260102-030405-1.bak" {
		t.Errorf("backups %s, %s", first, second)
	}
	if m := mode(t, second); m != 0o600 {
		t.Errorf("backup of a 0644 file has mode %04o, want 0600", m)
	}
}
