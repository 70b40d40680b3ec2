package cli

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
)

// bootstrapByHand gives the fake its admin the way someone else would have.
func bootstrapByHand(t *testing.T, srv *infisicaltest.Server) {
	t.Helper()
	resp, err := http.Post(srv.URL+"/api/v1/admin/bootstrap", "application/json",
		strings.NewReader(`{"email":"someone@example.com","password":"someone-else-pw-1","organization":"theirs"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bootstrap by hand: HTTP %d", resp.StatusCode)
	}
}

// unchangedEnv checks that .env is byte for byte and mode for mode as the
// stack had it, and that no backup is left.
func unchangedEnv(t *testing.T, dir, envPath string) {
	t.Helper()
	if data, _ := os.ReadFile(envPath); string(data) != setupEnv {
		t.Errorf(".env changed:\n%s", data)
	}
	if st, _ := os.Stat(envPath); st.Mode().Perm() != 0o640 {
		t.Errorf(".env mode %v, want 0640 as before", st.Mode().Perm())
	}
	if bs := backups(t, dir); len(bs) != 0 {
		t.Errorf("backups left: %v", bs)
	}
}

// TestSetupTellsWhatToDoInTheWebPage is issue 16's third bullet: an instance
// with an admin already and no admin credentials, a server without the
// bootstrap route, and no admin e-mail at all each end with what to create in
// the web page and which .env keys to fill, and leave .env as it was.
func TestSetupTellsWhatToDoInTheWebPage(t *testing.T) {
	admin := []string{keyAdminEmail, keyAdminPassword}
	for _, c := range []struct {
		name  string
		setup func(*infisicaltest.Server)
		args  []string
		code  int
		says  []string
	}{
		{"already set up", func(s *infisicaltest.Server) { bootstrapByHand(t, s) }, nil, 4, append(admin, "has an admin already")},
		{"2024 server", func(s *infisicaltest.Server) { s.SetMode(infisicaltest.V3Only) }, nil, 4, []string{"no bootstrap route", "Upgrade"}},
		{"no admin e-mail", func(*infisicaltest.Server) {}, []string{"--admin-email", ""}, 2, append(admin, "no admin credentials")},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := infisicaltest.New()
			t.Cleanup(srv.Close)
			c.setup(srv)
			dir, envPath := setupStack(t)
			r := invoke(t, dir, nil, setupArgs(srv, dir, c.args...)...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d:\n%s", r.code, c.code, r.stderr)
			}
			for _, s := range append(c.says, "web page", keyAPIURL+"="+srv.URL, keyProjectID+"=", keyClientID+"=",
				keyClientSecret+"=", ".env is unchanged") {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("the message does not say %q:\n%s", s, r.stderr)
				}
			}
			unchangedEnv(t, dir, envPath)
			if n := srv.Counts().Projects; n != 0 {
				t.Errorf("%d projects created", n)
			}
		})
	}
}

// TestSetupWithAnAdminOfItsOwn: admin credentials in .env set up a second
// stack on an instance that has its admin (no bootstrap); wrong ones are
// refused with the keys named.
func TestSetupWithAnAdminOfItsOwn(t *testing.T) {
	srv := infisicaltest.New()
	t.Cleanup(srv.Close)
	bootstrapByHand(t, srv)
	dir, envPath := setupStack(t)
	creds := "INFISICAL_ADMIN_EMAIL=someone@example.com\nINFISICAL_ADMIN_PASSWORD=wrong-password-1\n"
	if err := os.WriteFile(envPath, []byte(setupEnv+creds), 0o600); err != nil {
		t.Fatal(err)
	}
	r := invoke(t, dir, nil, setupArgs(srv, dir, "--admin-email", "")...)
	if r.code != 4 || !strings.Contains(r.stderr, keyAdminPassword) || !strings.Contains(r.stderr, "Invalid credentials") {
		t.Fatalf("exit %d, want 4 naming the credentials:\n%s", r.code, r.stderr)
	}
	assertHidden(t, r.stderr, map[string]string{keyAdminPassword: "wrong-password-1"})

	creds = strings.Replace(creds, "wrong-password-1", "someone-else-pw-1", 1)
	if err := os.WriteFile(envPath, []byte(setupEnv+creds), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.ResetAdminLog()
	r = invoke(t, dir, nil, setupArgs(srv, dir, "--admin-email", "")...)
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	if c := srv.Counts(); c.Admins != 1 || c.Projects != 1 || c.Identities != 1 {
		t.Errorf("server holds %+v, want the one admin and one new project and identity", c)
	}
	for _, req := range srv.AdminLog() {
		if req.Route == infisicaltest.RouteBootstrap {
			t.Errorf("bootstrap called although the admin's credentials were given")
		}
	}
	assertHidden(t, r.stdout+r.stderr, setupValues(t, envPath))
}

// TestSetupOnOtherServerVersions: the bootstrap token refused (one 2026
// snapshot) falls back to the admin's password sign-in; a server with its
// projects under /api/v2/workspace is set up through those routes.
func TestSetupOnOtherServerVersions(t *testing.T) {
	for _, c := range []struct {
		name   string
		setup  func(*infisicaltest.Server)
		routes []string // each answered 200 once
	}{
		{"bootstrap token refused", func(s *infisicaltest.Server) { s.SetRefuseBootstrapToken(true) },
			[]string{infisicaltest.RouteAdminLogin, infisicaltest.RouteSelectOrganization, infisicaltest.RouteCreateProject}},
		{"projects under v2/workspace", func(s *infisicaltest.Server) { s.SetLegacyProjectRoutes(true) },
			[]string{infisicaltest.RouteCreateWorkspace, infisicaltest.RouteAddWorkspaceMember}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := infisicaltest.New()
			t.Cleanup(srv.Close)
			c.setup(srv)
			dir, envPath := setupStack(t)
			r := invoke(t, dir, nil, setupArgs(srv, dir)...)
			if r.code != 0 {
				t.Fatalf("exit %d:\n%s", r.code, r.stderr)
			}
			for _, route := range c.routes {
				if n := srv.Created(route); n != 1 {
					t.Errorf("%s answered 200 %d times, want 1", route, n)
				}
			}
			wantOneOfEach(t, srv)
			data, _ := os.ReadFile(envPath)
			assertNoToken(t, r.stdout+r.stderr)
			if r := invoke(t, dir, nil, setupArgs(srv, dir)...); r.code != 0 || !strings.Contains(r.stderr, "already set up") {
				t.Errorf("second run exited %d:\n%s", r.code, r.stderr)
			}
			if again, _ := os.ReadFile(envPath); !bytes.Equal(again, data) {
				t.Errorf("the second run changed .env")
			}
			assertHidden(t, r.stdout+r.stderr, setupValues(t, envPath))
		})
	}
}

// TestSetupRenewsRefusedCredentials: a client secret the server refuses gets
// a new one for the same identity; nothing else is created.
func TestSetupRenewsRefusedCredentials(t *testing.T) {
	srv := infisicaltest.New()
	t.Cleanup(srv.Close)
	dir, envPath := setupStack(t)
	if r := invoke(t, dir, nil, setupArgs(srv, dir)...); r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	data, _ := os.ReadFile(envPath)
	old := readEnv(t, envPath)[keyClientSecret]
	stale := bytes.Replace(data, []byte(old), []byte("revoked-secret-value-1"), 1)
	if err := os.WriteFile(envPath, stale, 0o600); err != nil {
		t.Fatal(err)
	}
	r := invoke(t, dir, nil, setupArgs(srv, dir)...)
	if r.code != 0 || !strings.Contains(r.stderr, "are refused") {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	if c := srv.Counts(); c.Admins != 1 || c.Projects != 1 || c.Identities != 1 || c.ClientSecrets != 2 || c.Memberships != 1 {
		t.Errorf("server holds %+v, want only a second client secret", c)
	}
	if readEnv(t, envPath)[keyClientSecret] == "revoked-secret-value-1" {
		t.Errorf("the refused secret is still in .env")
	}
	assertHidden(t, r.stdout+r.stderr, setupValues(t, envPath))
}
