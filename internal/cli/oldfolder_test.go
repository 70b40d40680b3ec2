package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/doctor"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/testenv"
)

// oldSecretKeys are the keys of oldDotEnv whose values must never be printed.
var oldSecretKeys = []string{"N8N_ENCRYPTION_KEY", "POSTGRES_PASSWORD", "JWT_SECRET", "ANON_KEY", "SERVICE_ROLE_KEY",
	"DASHBOARD_PASSWORD", "NEO4J_AUTH", "MINIO_ROOT_PASSWORD", "VAULT_ENC_KEY", "SECRET_KEY_BASE", "CLICKHOUSE_PASSWORD"}

// oldEnvFile is an .env as users of the old start script have it: the keys
// of that project's .env.example (values of our own), including settings the
// stack no longer reads, and none of the keys startsvc's stack added
// (PG_META_CRYPTO_KEY, the INFISICAL_* keys, ...). Its API keys are signed
// with its JWT_SECRET.
const oldEnvFile = "testdata/old.env"

// oldFolder is a copy of a local-ai-packaged checkout into which startsvc's
// stack files were copied: the old top-level compose files and start script,
// the old .env, data folders, and the Supabase stand-in where the old
// checkout of Supabase is.
func oldFolder(t *testing.T) string {
	t.Helper()
	dir := shippedStack(t)
	oldEnv, err := os.ReadFile(oldEnvFile)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"docker-compose.yml":                  "include:\n  - ./supabase/docker/docker-compose.yml\nservices:\n  n8n:\n    image: n8nio/n8n:latest\n    container_name: n8n\n",
		"docker-compose.override.private.yml": "services:\n  n8n:\n    ports:\n      - 127.0.0.1:5678:5678\n",
		"start_services.py":                   "# the old start script\n",
		".env":                                string(oldEnv),
		"neo4j/data/databases/.keep":          "",
		"n8n/backup/workflows/.keep":          "",
		"shared/notes.txt":                    "data\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestOldFolderAcceptance is issue 19's second acceptance: in a copy of an
// old-layout folder with its .env, doctor names the missing keys and the init
// step; init --add-missing adds exactly those, leaving the rest of .env byte
// for byte; then config succeeds, with the old container names and Caddy's
// add-on folder.
func TestOldFolderAcceptance(t *testing.T) {
	testenv.RequireDocker(t)
	dir := oldFolder(t)
	envPath := filepath.Join(dir, ".env")
	before, err := os.ReadFile(oldEnvFile)
	if err != nil {
		t.Fatal(err)
	}

	example, err := os.ReadFile(filepath.Join(dir, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	exampleVals, _ := compose.ParseEnv(".env.example", example, nil)
	oldVals, _ := compose.ParseEnv(".env", before, nil)
	var want []string
	for k := range exampleVals {
		if _, ok := oldVals[k]; !ok {
			want = append(want, k)
		}
	}
	sort.Strings(want)
	hidden := map[string]string{}
	for _, k := range oldSecretKeys {
		hidden[k] = oldVals[k]
	}
	for _, k := range []string{"PG_META_CRYPTO_KEY", "INFISICAL_ENCRYPTION_KEY", "INFISICAL_AUTH_SECRET", "INFISICAL_POSTGRES_PASSWORD"} {
		if !slices.Contains(want, k) {
			t.Fatalf("the old .env is expected to lack %s", k)
		}
	}

	// doctor: preflight would refuse (exit 2), naming the required keys; every
	// missing key is named, and the step that adds them.
	r, rep := doctorReport(t, dir)
	if r.code != exitcode.Usage {
		t.Errorf("doctor: exit %d, want 2", r.code)
	}
	assertHidden(t, r.stdout+r.stderr, hidden)
	c, _ := rep.Find(doctor.CheckRequired)
	for _, k := range []string{"PG_META_CRYPTO_KEY", "INFISICAL_ENCRYPTION_KEY", "INFISICAL_AUTH_SECRET", "INFISICAL_POSTGRES_PASSWORD"} {
		if c.Status != doctor.Error || !strings.Contains(c.Message, k) {
			t.Errorf("required-variables does not name %s: %s %q", k, c.Status, c.Message)
		}
	}
	if !strings.Contains(c.Hint, "startsvc init --add-missing") {
		t.Errorf("required-variables hint %q does not name the init step", c.Hint)
	}
	c, _ = rep.Find(doctor.CheckExampleMissing)
	for _, k := range want {
		if !strings.Contains(c.Message, k) {
			t.Errorf("env-example-missing does not name %s", k)
		}
	}
	if c, ok := rep.Find(doctor.CheckOldLayout); !ok || !strings.Contains(c.Message, "local-ai-packaged") || !strings.Contains(c.Hint, "startsvc init --add-missing") {
		t.Errorf("the old layout is not recognised: %+v", c)
	}

	// init --add-missing: exactly those keys, the old lines untouched.
	r = invoke(t, dir, nil, "init", "--add-missing")
	if r.code != 0 {
		t.Fatalf("init --add-missing: exit %d\n%s", r.code, r.stderr)
	}
	after, err := os.ReadFile(envPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(after, before) {
		t.Fatal("the old .env is not kept byte for byte at the start of the new one")
	}
	afterVals, err := compose.ParseEnv(".env", after, nil)
	if err != nil {
		t.Fatal(err)
	}
	var added []string
	for k, v := range afterVals {
		if old, ok := oldVals[k]; !ok {
			added = append(added, k)
		} else if old != v {
			t.Errorf("%s changed", k)
		}
	}
	sort.Strings(added)
	if !slices.Equal(added, want) {
		t.Errorf("added %v\nwant  %v", added, want)
	}
	for _, k := range want {
		if !strings.Contains(r.stderr, k) {
			t.Errorf("init does not name %s among the added keys", k)
		}
	}
	if m := mode(t, envPath); m != 0o600 {
		t.Errorf(".env has mode %04o, want 0600", m)
	}
	backups, _ := filepath.Glob(envPath + ".*.bak")
	if len(backups) != 1 {
		t.Fatalf("backups %v, want one", backups)
	}
	if b, _ := os.ReadFile(backups[0]); !bytes.Equal(b, before) || mode(t, backups[0]) != 0o600 {
		t.Error("the backup is not the old .env, mode 0600")
	}
	for _, k := range []string{"PG_META_CRYPTO_KEY", "INFISICAL_ENCRYPTION_KEY", "INFISICAL_AUTH_SECRET", "INFISICAL_POSTGRES_PASSWORD"} {
		hidden[k] = afterVals[k]
	}
	assertHidden(t, r.stdout+r.stderr, hidden)

	// A second run has nothing to add and changes nothing.
	r = invoke(t, dir, nil, "init", "--add-missing")
	if now, _ := os.ReadFile(envPath); r.code != 0 || !bytes.Equal(now, after) || !strings.Contains(r.stderr, "nothing changed") {
		t.Errorf("second init --add-missing: exit %d, changed %v\n%s", r.code, !bytes.Equal(now, after), r.stderr)
	}

	// config: succeeds, with the old container names and Caddy's add-ons;
	// Ollama and SearXNG publish nothing in public.
	r = invoke(t, dir, nil, "config")
	if r.code != 0 {
		t.Fatalf("config: exit %d\n%s", r.code, r.stderr)
	}
	assertHidden(t, r.stdout+r.stderr, hidden)
	for _, s := range []string{"container_name: n8n", "container_name: ollama", "container_name: open-webui", "container_name: caddy",
		"container_name: searxng", "target: /etc/caddy/addons", filepath.Join(dir, "caddy-addon"), filepath.Join(dir, "neo4j", "data")} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("config does not show %q", s)
		}
	}
	r = invoke(t, dir, nil, "config", "--environment", "public", "--format", "json")
	if r.code != 0 {
		t.Fatalf("config public: exit %d\n%s", r.code, r.stderr)
	}
	var cfg struct {
		Services map[string]struct {
			Ports []json.RawMessage `json:"ports"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &cfg); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"ollama-cpu", "searxng"} {
		if _, ok := cfg.Services[s]; !ok || len(cfg.Services[s].Ports) > 0 {
			t.Errorf("%s: present %v, ports %d; want it present and publishing nothing", s, ok, len(cfg.Services[s].Ports))
		}
	}

	// doctor now finds every key there.
	_, rep = doctorReport(t, dir)
	for _, name := range []string{doctor.CheckRequired, doctor.CheckExampleMissing, doctor.CheckOldLayout} {
		if c, _ := rep.Find(name); c.Status != doctor.OK {
			t.Errorf("after init --add-missing, %s: %s %q", name, c.Status, c.Message)
		}
	}
}
