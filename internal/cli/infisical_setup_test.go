package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
)

// setupEnv is a stack's .env before setup: settings, a secret, a comment.
const setupEnv = "# the stack\nDB_HOST=db\nDB_PASSWORD=db-password-value-1\n\nexport PLAIN='plain setting'\n"

// setupStack is a folder with setupEnv (mode 0640) and a compose file.
func setupStack(t *testing.T) (dir, envPath string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  app:\n    image: scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	envPath = filepath.Join(dir, ".env")
	if err := os.WriteFile(envPath, []byte(setupEnv), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(envPath, 0o640); err != nil {
		t.Fatal(err)
	}
	return dir, envPath
}

func setupArgs(srv *infisicaltest.Server, dir string, extra ...string) []string {
	return append([]string{"infisical", "setup", "-C", dir, "-p", "teststack", "--infisical-url", srv.URL,
		"--admin-email", "admin@example.com", "--wait-timeout", "20s"}, extra...)
}

// readEnv reads an env file as compose does.
func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	vals, err := compose.ReadEnvFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return vals
}

// setupValues are the values of a set-up .env that no output may show.
func setupValues(t *testing.T, path string) map[string]string {
	t.Helper()
	vals := readEnv(t, path)
	out := map[string]string{"DB_PASSWORD": vals["DB_PASSWORD"]}
	for _, k := range []string{keyAdminPassword, keyClientSecret, keyClientID} {
		if vals[k] != "" {
			out[k] = vals[k]
		}
	}
	return out
}

// assertNoToken fails when an access token (every one the fake issues starts
// like a JWT) appears in out.
func assertNoToken(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, "eyJ") {
		t.Errorf("an access token appears in the output")
	}
}

func backups(t *testing.T, dir string) []string {
	t.Helper()
	found, err := filepath.Glob(filepath.Join(dir, ".env.*.bak"))
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// The creation routes whose 200 answers count what setup created.
var setupCreates = []string{infisicaltest.RouteBootstrap, infisicaltest.RouteCreateProject, infisicaltest.RouteCreateWorkspace,
	infisicaltest.RouteCreateIdentity, infisicaltest.RouteAttachUniversal, infisicaltest.RouteCreateClientSecret,
	infisicaltest.RouteAddMembership, infisicaltest.RouteAddWorkspaceMember}

func created(srv *infisicaltest.Server) map[string]int {
	m := map[string]int{}
	for _, r := range setupCreates {
		if n := srv.Created(r); n > 0 {
			m[r] = n
		}
	}
	return m
}

// wantOneOfEach checks that the server holds exactly one admin, project,
// identity, client secret and membership.
func wantOneOfEach(t *testing.T, srv *infisicaltest.Server) {
	t.Helper()
	c := srv.Counts()
	if !c.Initialized || c.Admins != 1 || c.Organizations != 1 || c.Projects != 1 || c.Identities != 1 || c.ClientSecrets != 1 || c.Memberships != 1 {
		t.Errorf("server holds %+v, want one of each", c)
	}
}

// TestSetupFreshInstance is issue 16's first and third promises: on a fresh
// instance setup writes the four settings into .env (0600, a backup of the
// old one, other lines untouched), export then reads the project's secrets
// through the new identity, and a second run creates nothing.
func TestSetupFreshInstance(t *testing.T) {
	srv := infisicaltest.New()
	t.Cleanup(srv.Close)
	dir, envPath := setupStack(t)

	r := invoke(t, dir, nil, setupArgs(srv, dir)...)
	out := r.stdout + r.stderr
	if r.code != 0 {
		t.Fatalf("setup exited %d:\n%s", r.code, out)
	}
	vals := readEnv(t, envPath)
	projectID := srv.ProjectIDBySlug("teststack")
	if projectID == "" {
		t.Fatalf("no project with slug teststack on the server")
	}
	for k, want := range map[string]string{keyAPIURL: srv.URL, keyProjectID: projectID, keyAdminEmail: "admin@example.com",
		"DB_HOST": "db", "DB_PASSWORD": "db-password-value-1", "PLAIN": "plain setting"} {
		if vals[k] != want {
			t.Errorf(".env: %s = %q, want %q", k, vals[k], want)
		}
	}
	for _, k := range []string{keyClientID, keyClientSecret, keyAdminPassword, keyIdentityID} {
		if vals[k] == "" {
			t.Errorf(".env has no %s", k)
		}
	}
	if len(vals[keyAdminPassword]) < 32 {
		t.Errorf("the generated admin password has %d characters, want at least 32", len(vals[keyAdminPassword]))
	}
	data, _ := os.ReadFile(envPath)
	if !bytes.HasPrefix(data, []byte(setupEnv)) {
		t.Errorf("the lines that were there changed:\n%s", data)
	}
	if st, _ := os.Stat(envPath); st.Mode().Perm() != 0o600 {
		t.Errorf(".env mode %v, want 0600", st.Mode().Perm())
	}
	bs := backups(t, dir)
	if len(bs) != 1 {
		t.Fatalf("backups %v, want one", bs)
	}
	if b, _ := os.ReadFile(bs[0]); string(b) != setupEnv {
		t.Errorf("the backup is not the old .env")
	}
	if st, _ := os.Stat(bs[0]); st.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", st.Mode().Perm())
	}
	wantOneOfEach(t, srv)
	assertHidden(t, out, setupValues(t, envPath))
	assertNoToken(t, out)

	// export reads the project through the new identity, with nothing in the
	// process environment.
	srv.SetSecret(projectID, "dev", "/", "FROM_INFISICAL", "value-from-infisical-1")
	logins := srv.Calls(infisicaltest.RouteLogin)
	r = invoke(t, dir, nil, "export", "-C", dir, "--format", "json", "--require-infisical")
	if r.code != 0 {
		t.Fatalf("export exited %d:\n%s", r.code, r.stderr)
	}
	var exported map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &exported); err != nil {
		t.Fatal(err)
	}
	if exported["FROM_INFISICAL"] != "value-from-infisical-1" || exported["DB_HOST"] != "db" {
		t.Errorf("export does not give Infisical's and .env's values (FROM_INFISICAL %d bytes)", len(exported["FROM_INFISICAL"]))
	}
	if srv.Calls(infisicaltest.RouteLogin) != logins+1 {
		t.Errorf("export did not log in with the new identity")
	}

	// A second run creates nothing and leaves .env alone.
	before := created(srv)
	srv.ResetAdminLog()
	r = invoke(t, dir, nil, setupArgs(srv, dir)...)
	if r.code != 0 || !strings.Contains(r.stderr, "already set up") {
		t.Fatalf("second run exited %d:\n%s", r.code, r.stderr)
	}
	if after := created(srv); len(after) != 0 {
		t.Errorf("the second run created %v (before: %v)", after, before)
	}
	if again, _ := os.ReadFile(envPath); !bytes.Equal(again, data) {
		t.Errorf("the second run changed .env")
	}
	if bs := backups(t, dir); len(bs) != 1 {
		t.Errorf("the second run left another backup: %v", bs)
	}
	wantOneOfEach(t, srv)
	assertHidden(t, r.stdout+r.stderr, setupValues(t, envPath))
	assertNoToken(t, r.stdout+r.stderr)
}
