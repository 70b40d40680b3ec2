package infisicaltest_test

import (
	"testing"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
)

func field(m map[string]any, path ...string) string {
	var cur any = m
	for _, p := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = obj[p]
	}
	s, _ := cur.(string)
	return s
}

// TestAdminRoutes: the routes that set an instance up answer with the shapes
// and errors of a real server, an identity reads only the projects it is a
// member of, and the log records every call with its status.
func TestAdminRoutes(t *testing.T) {
	srv := infisicaltest.New()
	defer srv.Close()
	boot := map[string]string{"email": "admin@example.com", "password": "pw-value-1", "organization": "Acme Corp"}
	if code, _ := call(t, srv, "POST", "/api/v1/admin/bootstrap", "", map[string]string{"email": "a@b.c"}); code != 422 {
		t.Errorf("bootstrap without password: %d, want 422", code)
	}
	code, b := call(t, srv, "POST", "/api/v1/admin/bootstrap", "", boot)
	tok, org := field(b, "identity", "credentials", "token"), field(b, "organization", "id")
	if code != 200 || tok == "" || org == "" || field(b, "organization", "slug") != "acme-corp" || field(b, "user", "email") != "admin@example.com" {
		t.Fatalf("bootstrap: %d %v", code, b)
	}
	if code, e := call(t, srv, "POST", "/api/v1/admin/bootstrap", "", boot); code != 400 || field(e, "message") != "Instance has already been set up" {
		t.Errorf("second bootstrap: %d %v", code, e)
	}

	code, p := call(t, srv, "POST", "/api/v1/projects", tok, map[string]any{"projectName": "Stack", "slug": "my-stack", "shouldCreateDefaultEnvs": true})
	project := field(p, "project", "id")
	if code != 200 || project == "" {
		t.Fatalf("create project: %d %v", code, p)
	}
	if code, _ := call(t, srv, "POST", "/api/v1/projects", tok, map[string]any{"projectName": "Stack", "slug": "my-stack"}); code != 400 {
		t.Errorf("a second project with the slug: %d, want 400", code)
	}
	if code, found := call(t, srv, "GET", "/api/v1/projects/slug/my-stack", tok, nil); code != 200 || field(found, "id") != project {
		t.Errorf("project by slug: %d %v", code, found)
	}
	if code, _ := call(t, srv, "GET", "/api/v1/projects/slug/nope-stack", tok, nil); code != 404 {
		t.Errorf("unknown slug: %d, want 404", code)
	}
	if code, _ := call(t, srv, "POST", "/api/v2/workspace", tok, map[string]any{"projectName": "x"}); code != 404 {
		t.Errorf("v2/workspace on a current server: %d, want the route-404", code)
	}

	_, ident := call(t, srv, "POST", "/api/v1/identities", tok, map[string]string{"name": "app", "organizationId": org, "role": "member"})
	id := field(ident, "identity", "id")
	code, ua := call(t, srv, "POST", "/api/v1/auth/universal-auth/identities/"+id, tok, map[string]any{})
	clientID := field(ua, "identityUniversalAuth", "clientId")
	if code != 200 || clientID == "" {
		t.Fatalf("attach universal auth: %d %v", code, ua)
	}
	if code, e := call(t, srv, "POST", "/api/v1/auth/universal-auth/identities/"+id, tok, map[string]any{}); code != 400 ||
		field(e, "message") != "Failed to add universal auth to already configured identity" {
		t.Errorf("attach twice: %d %v", code, e)
	}
	_, cs := call(t, srv, "POST", "/api/v1/auth/universal-auth/identities/"+id+"/client-secrets", tok, map[string]string{"description": "d"})
	secret := field(cs, "clientSecret")
	_, login := call(t, srv, "POST", "/api/v1/auth/universal-auth/login", "", map[string]string{"clientId": clientID, "clientSecret": secret})
	access := field(login, "accessToken")
	list := "/api/v4/secrets?projectId=" + project + "&environment=dev"
	if code, _ := call(t, srv, "GET", list, access, nil); code != 403 {
		t.Errorf("listing before the membership: %d, want 403", code)
	}
	member := "/api/v1/projects/" + project + "/identity-memberships/" + id
	if code, _ := call(t, srv, "POST", member, tok, map[string]string{"role": "member"}); code != 200 {
		t.Errorf("membership: %d", code)
	}
	if code, e := call(t, srv, "POST", member, tok, map[string]string{"role": "member"}); code != 400 || field(e, "error") != "BadRequest" {
		t.Errorf("membership twice: %d %v", code, e)
	}
	if code, _ := call(t, srv, "GET", list, access, nil); code != 200 {
		t.Errorf("listing as a member: %d, want 200", code)
	}
	if c := srv.Counts(); c.Admins != 1 || c.Projects != 1 || c.Identities != 1 || c.ClientSecrets != 1 || c.Memberships != 1 {
		t.Errorf("counts %+v", c)
	}
	if srv.Created(infisicaltest.RouteCreateProject) != 1 || srv.Created(infisicaltest.RouteBootstrap) != 1 {
		t.Errorf("log %v", srv.AdminLog())
	}

	// A password sign-in, then the organisation.
	_, l := call(t, srv, "POST", "/api/v3/auth/login", "", map[string]string{"email": "admin@example.com", "password": "pw-value-1"})
	session := field(l, "accessToken")
	if code, _ := call(t, srv, "GET", "/api/v1/projects/slug/my-stack", session, nil); code != 403 {
		t.Errorf("before choosing the organization: %d, want 403", code)
	}
	_, sel := call(t, srv, "POST", "/api/v3/auth/select-organization", session, map[string]string{"organizationId": org})
	if code, _ := call(t, srv, "GET", "/api/v1/projects/slug/my-stack", field(sel, "token"), nil); code != 200 {
		t.Errorf("after choosing the organization: %d", code)
	}
	if code, _ := call(t, srv, "POST", "/api/v3/auth/login", "", map[string]string{"email": "admin@example.com", "password": "nope-1"}); code != 400 {
		t.Errorf("wrong password: %d", code)
	}
}

// TestAdminRouteFaults: a 2024 server has no bootstrap; a refused bootstrap
// token answers 401; an applied call can lose its answer.
func TestAdminRouteFaults(t *testing.T) {
	old := infisicaltest.New()
	defer old.Close()
	old.SetMode(infisicaltest.V3Only)
	boot := map[string]string{"email": "admin@example.com", "password": "pw-value-1", "organization": "acme"}
	if code, e := call(t, old, "POST", "/api/v1/admin/bootstrap", "", boot); code != 404 || field(e, "message") != "Route POST:/api/v1/admin/bootstrap not found" {
		t.Errorf("2024 bootstrap: %d %v", code, e)
	}

	srv := infisicaltest.New()
	defer srv.Close()
	srv.SetRefuseBootstrapToken(true)
	srv.FailNextAfterApply(infisicaltest.RouteBootstrap)
	if code, _ := call(t, srv, "POST", "/api/v1/admin/bootstrap", "", boot); code != 500 || !srv.Counts().Initialized {
		t.Errorf("answer lost: %d, initialized %v; want 500 and applied", code, srv.Counts().Initialized)
	}
	_, l := call(t, srv, "POST", "/api/v3/auth/login", "", map[string]string{"email": "admin@example.com", "password": "pw-value-1"})
	if field(l, "accessToken") == "" {
		t.Errorf("the admin of a bootstrap whose answer was lost cannot sign in")
	}
	srv2 := infisicaltest.New()
	defer srv2.Close()
	srv2.SetRefuseBootstrapToken(true)
	_, b := call(t, srv2, "POST", "/api/v1/admin/bootstrap", "", boot)
	code, e := call(t, srv2, "POST", "/api/v1/projects", field(b, "identity", "credentials", "token"), map[string]string{"projectName": "x-stack"})
	if code != 401 || field(e, "message") != "Identity access token exceeded max age" {
		t.Errorf("refused bootstrap token: %d %v", code, e)
	}
	want := []infisicaltest.AdminRequest{{Route: infisicaltest.RouteBootstrap, Status: 200}, {Route: infisicaltest.RouteCreateProject, Status: 401}}
	if got := srv2.AdminLog(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("log %v, want %v", got, want)
	}
}
