package stack_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/stack"
)

// TestShippedFileSecrets: every key the shipped file-secrets.yml names is a
// key of its service's environment: section in the shipped compose files,
// for both environments; the file-delivered keys are those whose images the
// facts confirm read <KEY>_FILE; and docs/STACK.md lists every key that
// stays in the environment on purpose.
func TestShippedFileSecrets(t *testing.T) {
	dir := copyStack(t)
	files, err := stack.LoadFileSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	envOnly, err := stack.LoadEnvOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"postgres":     "POSTGRES_PASSWORD",
		"infisical-db": "POSTGRES_PASSWORD",
		"n8n":          "DB_POSTGRESDB_PASSWORD,N8N_ENCRYPTION_KEY,N8N_USER_MANAGEMENT_JWT_SECRET",
		"neo4j":        "NEO4J_AUTH",
		"minio":        "MINIO_ROOT_PASSWORD",
	}
	for _, svc := range files.Services() {
		var keys []string
		for _, f := range files.For(svc) {
			keys = append(keys, f.Key)
			if f.UID != "" || f.GID != "" {
				t.Errorf("%s, %s: uid/gid make compose chown to the image's user, which Engines look up on the host; leave them unset", svc, f.Key)
			}
		}
		if got := strings.Join(keys, ","); got != want[svc] {
			t.Errorf("%s takes %q as files, want %q", svc, got, want[svc])
		}
		delete(want, svc)
	}
	for svc := range want {
		t.Errorf("%s takes nothing as a file", svc)
	}

	for _, environment := range []string{"private", "public"} {
		l, err := stack.Open(dir, nil, environment)
		if err != nil {
			t.Fatal(err)
		}
		refs, err := compose.EnvironmentVariables(context.Background(), compose.Spec{Name: "localai", Dir: l.Dir, Files: l.Files, Profiles: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for s := range refs {
			all = append(all, s)
		}
		if err := files.Check(all); err != nil {
			t.Error(err)
		}
		if err := envOnly.Check(all); err != nil {
			t.Error(err)
		}
		for _, svc := range files.Services() {
			for _, f := range files.For(svc) {
				if _, ok := refs[svc][f.Key]; !ok {
					t.Errorf("%s: %s is not in %s's environment: section", environment, f.Key, svc)
				}
			}
		}
		for svc, keys := range envOnly {
			for _, k := range keys {
				if _, ok := refs[svc][k]; !ok {
					t.Errorf("%s: env_only %s is not in %s's environment: section", environment, k, svc)
				}
			}
		}
	}

	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "STACK.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)
	if i := strings.Index(section, "## Secrets as files"); i >= 0 {
		section = section[i:]
		if j := strings.Index(section[3:], "\n## "); j >= 0 {
			section = section[:j+3]
		}
	} else {
		t.Fatal("docs/STACK.md has no section \"## Secrets as files\"")
	}
	for svc, keys := range envOnly {
		for _, k := range keys {
			if !strings.Contains(section, "`"+k+"`") || !strings.Contains(section, svc) {
				t.Errorf("docs/STACK.md does not list %s of %s among the secrets left in the environment", k, svc)
			}
		}
	}
	for _, svc := range files.Services() {
		for _, f := range files.For(svc) {
			if !strings.Contains(section, "`"+f.Key+"`") {
				t.Errorf("docs/STACK.md does not list %s of %s among the file-delivered secrets", f.Key, svc)
			}
		}
	}
}
