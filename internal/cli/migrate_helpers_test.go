package cli_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

// migrateEnv is a .env with settings, secrets of several shapes, a conflict
// with Infisical, one secret Infisical already holds, and Infisical's own key.
const migrateEnv = `# Settings
DB_HOST=db
PORT=5432
FEATURE_FLAG=true

# Secrets
DB_PASSWORD="p'a\"s$$w0rd✓"
export API_TOKEN='tok-1234 with spaces'
DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app
MULTI_SECRET="line one\nline two\n"
JWT_SECRET=jwt-secret-value-0123456789
CONFLICT_PASSWORD=dotenv-conflict-value
INFISICAL_ENCRYPTION_KEY=bootstrap-key-0123456789
EMPTY_KEY=
`

// migrateValues are the values compose reads from migrateEnv.
var migrateValues = map[string]string{
	"DB_HOST":                  "db",
	"PORT":                     "5432",
	"FEATURE_FLAG":             "true",
	"DB_PASSWORD":              `p'a"s$w0rd✓`,
	"API_TOKEN":                "tok-1234 with spaces",
	"DATABASE_URL":             `postgres://app:p'a"s$w0rd✓@db:5432/app`,
	"MULTI_SECRET":             "line one\nline two\n",
	"JWT_SECRET":               "jwt-secret-value-0123456789",
	"CONFLICT_PASSWORD":        "dotenv-conflict-value",
	"INFISICAL_ENCRYPTION_KEY": "bootstrap-key-0123456789",
	"EMPTY_KEY":                "",
}

var (
	migrateMoved = []string{"DB_PASSWORD", "API_TOKEN", "DATABASE_URL", "MULTI_SECRET", "JWT_SECRET"}
	migrateKept  = []string{"DB_HOST", "PORT", "FEATURE_FLAG", "INFISICAL_ENCRYPTION_KEY", "EMPTY_KEY"}
)

// migrateStack is a stack whose one service receives every key of migrateEnv.
func migrateStack(t *testing.T) string {
	t.Helper()
	keys := make([]string, 0, len(migrateValues))
	for k := range migrateValues {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("services:\n  app:\n    image: " + testenv.FixtureImage + "\n    environment:\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "      %s: ${%s}\n", k, k)
	}
	dir := writeStack(t, b.String())
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(migrateEnv), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, ".env"), 0o640); err != nil {
		t.Fatal(err)
	}
	if got, err := compose.ReadEnvFile(filepath.Join(dir, ".env"), nil); err != nil || len(got) != len(migrateValues) {
		t.Fatalf("the test's .env does not read as intended (%v)", err)
	}
	return dir
}

// migrateServer is a fake Infisical holding a different value for
// CONFLICT_PASSWORD and the same value for JWT_SECRET.
func migrateServer(t *testing.T, mode infisicaltest.Mode) *infisicaltest.Server {
	t.Helper()
	srv := emptyInfisical(t, mode)
	srv.SetSecret("proj-1", "dev", "/", "CONFLICT_PASSWORD", "infisical-conflict-value")
	srv.SetSecret("proj-1", "dev", "/", "JWT_SECRET", migrateValues["JWT_SECRET"])
	return srv
}

// migrateSecrets are every value no output may show.
func migrateSecrets() map[string]string {
	m := map[string]string{"CLIENT_SECRET": "client-secret-value-1", "INFISICAL_CONFLICT": "infisical-conflict-value"}
	for k, v := range migrateValues {
		if k != "DB_HOST" && k != "PORT" && k != "FEATURE_FLAG" {
			m[k] = v
		}
	}
	return m
}

var migrateWriteRoutes = []string{infisicaltest.RouteCreateBatch, infisicaltest.RouteUpdateBatch, infisicaltest.RouteCreateSecret,
	infisicaltest.RouteUpdateSecret, infisicaltest.RouteCreateFolder}

func migrateWriteCalls(srv *infisicaltest.Server) int {
	n := 0
	for _, r := range migrateWriteRoutes {
		n += srv.Calls(r)
	}
	return n
}

// migrateSnapshot is a file's bytes, mode and modification time, and the names in
// its folder.
type migrateSnapshot struct {
	data  []byte
	mode  os.FileMode
	mtime time.Time
	names string
}

func migrateSnap(t *testing.T, path string) migrateSnapshot {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return migrateSnapshot{data, st.Mode(), st.ModTime(), strings.Join(names, " ")}
}

func (s migrateSnapshot) same(o migrateSnapshot) bool {
	return bytes.Equal(s.data, o.data) && s.mode == o.mode && s.mtime.Equal(o.mtime) && s.names == o.names
}

// migrateBackups returns the backup files in dir.
func migrateBackups(t *testing.T, dir string) []string {
	t.Helper()
	found, err := filepath.Glob(filepath.Join(dir, ".env.*.bak"))
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// migrateRow reports whether out has a line starting with action and then key.
func migrateRow(out, action, key string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == action && f[1] == key {
			return true
		}
	}
	return false
}

// masked is startsvc's output with every value of these tests masked, for
// failure messages: a leak must not reach the test log either.
func masked(out string) string {
	var vals []string
	for _, v := range migrateSecrets() {
		vals = append(vals, v)
	}
	return secrets.NewRedactor(vals...).String(out)
}
