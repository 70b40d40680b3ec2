package doctor_test

import (
	"context"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/doctor"
	"github.com/startsvc/startsvc/internal/stack"
)

// oldFolder is the shape of a local-ai-packaged checkout: its compose file at
// the top, including Supabase's, the start script, and an .env of that era.
var oldFolder = map[string]string{
	"docker-compose.yml": `include:
  - ./supabase/docker/docker-compose.yml
services:
  n8n:
    image: example/n8n
    environment:
      KEY: ${N8N_ENCRYPTION_KEY}
`,
	"start_services.py":                  "# the old start script\n",
	"supabase/docker/docker-compose.yml": "services:\n  db:\n    image: example/db\n    environment:\n      PW: ${POSTGRES_PASSWORD}\n      URL: ${API_EXTERNAL_URL}\n",
	".env":                               "N8N_ENCRYPTION_KEY=old-n8n-key-value\nPOSTGRES_PASSWORD=old-pg-value\nAPI_EXTERNAL_URL=http://localhost:8000\nDOCKER_SOCKET_LOCATION=/var/run/docker.sock\n",
}

// startsvcFiles are startsvc's stack files copied into such a folder.
var startsvcFiles = map[string]string{
	"compose/docker-compose.yml": `include:
  - path: ./supabase/docker/docker-compose.yml
services:
  n8n:
    image: example/n8n
    environment:
      KEY: ${N8N_ENCRYPTION_KEY:?}
  infisical:
    image: example/infisical
    environment:
      KEY: ${INFISICAL_ENCRYPTION_KEY:?}
      CRYPTO: ${PG_META_CRYPTO_KEY:?}
      SITE: ${INFISICAL_SITE_URL:-http://localhost:8010}
`,
	".env.example": "N8N_ENCRYPTION_KEY=\nPOSTGRES_PASSWORD=\nAPI_EXTERNAL_URL=http://localhost:8000/auth/v1\nPG_META_CRYPTO_KEY=\nINFISICAL_ENCRYPTION_KEY=\nINFISICAL_SITE_URL=\n",
}

func TestOldFolderWithoutStartsvcFiles(t *testing.T) {
	dir := writeStack(t, oldFolder)
	rep := doctor.Run(context.Background(), options(dir))
	c := check(t, rep, doctor.CheckOldLayout)
	if c.Status != doctor.Warning || !strings.Contains(c.Message, "without startsvc's stack files") ||
		!strings.Contains(c.Hint, "compose/, profiles/") || !strings.Contains(c.Hint, "startsvc init --add-missing") {
		t.Errorf("%s %q, hint %q", c.Status, c.Message, c.Hint)
	}
}

func TestOldFolderWithStartsvcFiles(t *testing.T) {
	dir := writeStack(t, with(oldFolder, startsvcFiles))
	rep := doctor.Run(context.Background(), options(dir))
	c := check(t, rep, doctor.CheckOldLayout)
	if c.Status != doctor.Warning || !strings.Contains(c.Message, ".env lacks 3 keys of .env.example, 2 of them required: INFISICAL_ENCRYPTION_KEY, PG_META_CRYPTO_KEY") ||
		!strings.Contains(c.Hint, "startsvc init --add-missing") {
		t.Errorf("%s %q, hint %q", c.Status, c.Message, c.Hint)
	}
	c = check(t, rep, doctor.CheckExampleMissing)
	if !strings.Contains(c.Message, "INFISICAL_ENCRYPTION_KEY, INFISICAL_SITE_URL and PG_META_CRYPTO_KEY") || !strings.Contains(c.Hint, "startsvc init --add-missing") {
		t.Errorf("env-example-missing: %q, hint %q", c.Message, c.Hint)
	}
	c = check(t, rep, doctor.CheckRequired)
	if c.Status != doctor.Error || !strings.Contains(c.Hint, "startsvc init --add-missing") {
		t.Errorf("required-variables: %s %q, hint %q", c.Status, c.Message, c.Hint)
	}
	if rep.ExitCode() != 2 {
		t.Errorf("exit %d, want 2 (preflight would refuse)", rep.ExitCode())
	}
	c = check(t, rep, doctor.CheckAPIExternalURL)
	if c.Status != doctor.Warning || !strings.Contains(c.Message, "does not end in /auth/v1") || strings.Contains(c.Message+c.Hint, "localhost:8000\"") {
		t.Errorf("api-external-url: %s %q", c.Status, c.Message)
	}
	assertNoValues(t, rep, "old-n8n-key-value", "old-pg-value")

	// With the keys present, the layout check is satisfied.
	full := oldFolder[".env"] + "PG_META_CRYPTO_KEY=k1\nINFISICAL_ENCRYPTION_KEY=k2\nINFISICAL_SITE_URL=\n"
	dir = writeStack(t, with(with(oldFolder, startsvcFiles), map[string]string{".env": strings.Replace(full, "8000\n", "8000/auth/v1\n", 1)}))
	rep = doctor.Run(context.Background(), options(dir))
	for _, name := range []string{doctor.CheckOldLayout, doctor.CheckExampleMissing, doctor.CheckRequired, doctor.CheckAPIExternalURL} {
		if c := check(t, rep, name); c.Status != doctor.OK {
			t.Errorf("%s: %s %q", name, c.Status, c.Message)
		}
	}
}

func TestOtherStacksAreNoOldFolder(t *testing.T) {
	rep := doctor.Run(context.Background(), options(writeStack(t, appStack)))
	if _, ok := rep.Find(doctor.CheckOldLayout); ok {
		t.Error("a stack without the old files is reported as a local-ai-packaged checkout")
	}
}

// A Supabase checkout that follows a branch is the old script's; it is used,
// with a warning that names the pinned release.
func TestSupabaseCheckoutOnABranch(t *testing.T) {
	dir := writeStack(t, with(with(oldFolder, startsvcFiles), map[string]string{"supabase/.git/HEAD": "ref: refs/heads/master\n"}))
	c := check(t, doctor.Run(context.Background(), options(dir)), doctor.CheckSupabase)
	if c.Status != doctor.Warning || !strings.Contains(c.Message, "branch master") || !strings.Contains(c.Message, stack.DefaultSupabaseRef) {
		t.Errorf("%s %q", c.Status, c.Message)
	}
	dir = writeStack(t, with(with(oldFolder, startsvcFiles), map[string]string{"supabase/.git/HEAD": "0123456789abcdef0123456789abcdef01234567\n"}))
	if c := check(t, doctor.Run(context.Background(), options(dir)), doctor.CheckSupabase); c.Status != doctor.OK {
		t.Errorf("a pinned checkout: %s %q", c.Status, c.Message)
	}
}
