package infisical_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/secrets"
)

const adminPassword = secrets.Secret("admin-password-value-1")

func newAdmin(t *testing.T, srv *infisicaltest.Server) *infisical.Admin {
	t.Helper()
	a, err := infisical.NewAdmin(srv.URL, infisical.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// setUp takes every step on a fresh server and returns the project id and
// the identity's credentials. Servers with projects under /api/v2/workspace
// have no route to find one by slug: legacy says so.
func setUp(t *testing.T, ctx context.Context, a *infisical.Admin, legacy bool) (project, clientID string, secret secrets.Secret) {
	t.Helper()
	if err := a.Bootstrap(ctx, "admin@example.com", adminPassword, "acme"); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	if _, found, err := a.FindProject(ctx, "my-stack"); found || err != nil {
		t.Fatalf("find before create: found %v, %v", found, err)
	}
	p, err := a.CreateProject(ctx, "My stack", "my-stack")
	if err != nil {
		t.Fatalf("create project: %v", err)
	}
	if !slices.Equal(p.Environments, []string{"dev", "staging", "prod"}) {
		t.Errorf("environments %v, want the defaults", p.Environments)
	}
	if again, found, err := a.FindProject(ctx, "my-stack"); found == legacy || err != nil || found && again.ID != p.ID {
		t.Errorf("find after create: %+v, %v, %v", again, found, err)
	}
	id, err := a.CreateIdentity(ctx, "startsvc-my-stack")
	if err != nil {
		t.Fatalf("create identity: %v", err)
	}
	if clientID, err = a.AttachUniversalAuth(ctx, id); err != nil {
		t.Fatalf("attach universal auth: %v", err)
	}
	if again, err := a.AttachUniversalAuth(ctx, id); err != nil || again != clientID {
		t.Errorf("attaching again: %q, %v; want the same client id", again, err)
	}
	if added, err := a.AddToProject(ctx, p.ID, id); !added || err != nil {
		t.Fatalf("add to project: %v, %v", added, err)
	}
	if added, err := a.AddToProject(ctx, p.ID, id); added || err != nil {
		t.Errorf("adding again: %v, %v; want no error and nothing added", added, err)
	}
	if secret, err = a.CreateClientSecret(ctx, id, "test"); err != nil || secret == "" {
		t.Fatalf("client secret: %v", err)
	}
	return p.ID, clientID, secret
}

// readsThrough checks that the identity lists the project.
func readsThrough(t *testing.T, srv *infisicaltest.Server, project, clientID string, secret secrets.Secret) {
	t.Helper()
	srv.SetSecret(project, "dev", "/", "APP_KEY", "app-key-value-1")
	c, err := infisical.NewClient(infisical.Settings{SiteURL: srv.URL, ProjectID: project, Environment: "dev", SecretPath: "/",
		ClientID: secrets.Secret(clientID), ClientSecret: secret}, infisical.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.ListSecrets(context.Background(), infisical.ListOptions{ProjectID: project, Environment: "dev", SecretPath: "/"})
	if err != nil || l.Values()["APP_KEY"] != "app-key-value-1" {
		t.Errorf("the new identity does not read the project: %v", err)
	}
}

// TestAdminSetsUpAFreshInstance: every admin call against a current server,
// each twice where a second call must find what the first made; then the
// identity reads the project.
func TestAdminSetsUpAFreshInstance(t *testing.T) {
	srv := infisicaltest.New()
	t.Cleanup(srv.Close)
	ctx := context.Background()
	a := newAdmin(t, srv)
	if err := a.WaitReady(ctx, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	project, clientID, secret := setUp(t, ctx, a, false)
	readsThrough(t, srv, project, clientID, secret)

	// Bootstrap again: the instance has its admin.
	err := newAdmin(t, srv).Bootstrap(ctx, "other@example.com", "other-password-1", "other")
	if !infisical.IsAlreadySetUp(err) {
		t.Errorf("second bootstrap: %v, want already set up", err)
	}
	// The admin's password sign-in finds the one organisation.
	b := newAdmin(t, srv)
	if err := b.SignIn(ctx, "admin@example.com", adminPassword, ""); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if p, found, err := b.FindProject(ctx, "my-stack"); !found || err != nil || p.ID != project {
		t.Errorf("after signing in, the project is not found: %v", err)
	}
	if err := newAdmin(t, srv).SignIn(ctx, "admin@example.com", "wrong-password-1", ""); err == nil {
		t.Errorf("a wrong password signed in")
	} else if strings.Contains(err.Error(), "wrong-password-1") {
		t.Errorf("the error shows the password")
	}
}

// TestAdminOnOtherServers: the bootstrap token refused, projects under
// /api/v2/workspace, and a 2024 server without the bootstrap and password
// sign-in routes.
func TestAdminOnOtherServers(t *testing.T) {
	ctx := context.Background()
	t.Run("bootstrap token refused", func(t *testing.T) {
		srv := infisicaltest.New()
		t.Cleanup(srv.Close)
		srv.SetRefuseBootstrapToken(true)
		project, clientID, secret := setUp(t, ctx, newAdmin(t, srv), false)
		readsThrough(t, srv, project, clientID, secret)
		log := srv.AdminLog()
		// find (401), sign in, select the organisation, find again (404): then on.
		want := []infisicaltest.AdminRequest{{Route: infisicaltest.RouteBootstrap, Status: 200},
			{Route: infisicaltest.RouteProjectBySlug, Status: 401}, {Route: infisicaltest.RouteAdminLogin, Status: 200},
			{Route: infisicaltest.RouteSelectOrganization, Status: 200}, {Route: infisicaltest.RouteProjectBySlug, Status: 404}}
		if len(log) < len(want) || !slices.Equal(log[:len(want)], want) {
			t.Errorf("admin log starts %v, want %v", log, want)
		}
	})
	t.Run("projects under v2/workspace", func(t *testing.T) {
		srv := infisicaltest.New()
		t.Cleanup(srv.Close)
		srv.SetLegacyProjectRoutes(true)
		project, clientID, secret := setUp(t, ctx, newAdmin(t, srv), true)
		readsThrough(t, srv, project, clientID, secret)
		if srv.Created(infisicaltest.RouteCreateWorkspace) != 1 || srv.Created(infisicaltest.RouteAddWorkspaceMember) != 1 {
			t.Errorf("the v2/workspace routes were not used: %v", srv.AdminLog())
		}
	})
	t.Run("2024 server", func(t *testing.T) {
		srv := infisicaltest.New()
		t.Cleanup(srv.Close)
		srv.SetMode(infisicaltest.V3Only)
		a := newAdmin(t, srv)
		if err := a.Bootstrap(ctx, "admin@example.com", adminPassword, "acme"); !infisical.IsRouteMissing(err) {
			t.Errorf("bootstrap: %v, want a missing route", err)
		}
		if err := a.SignIn(ctx, "admin@example.com", adminPassword, ""); !infisical.IsRouteMissing(err) {
			t.Errorf("sign in: %v, want a missing route", err)
		}
	})
}

// TestAdminErrorsNameTheStepAndNoValue: a failed call says which step failed;
// a server that quotes the password or a token back has them removed.
func TestAdminErrorsNameTheStepAndNoValue(t *testing.T) {
	srv := infisicaltest.New()
	t.Cleanup(srv.Close)
	ctx := context.Background()
	a := newAdmin(t, srv)
	if err := a.Bootstrap(ctx, "admin@example.com", adminPassword, "acme"); err != nil {
		t.Fatal(err)
	}
	srv.FailNext(infisicaltest.RouteCreateIdentity, infisicaltest.Status(500))
	_, err := a.CreateIdentity(ctx, "startsvc-x")
	if err == nil || !strings.Contains(err.Error(), `create the machine identity "startsvc-x"`) || infisical.KindOf(err) != infisical.Unreachable {
		t.Errorf("err = %v, want the step named, unreachable", err)
	}
	if n := srv.Calls(infisicaltest.RouteCreateIdentity); n != 1 {
		t.Errorf("a create that failed with 500 was sent %d times, want once", n)
	}

	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"statusCode":400,"error":"BadRequest","message":"bad password ` + string(adminPassword) + `"}`))
	}))
	t.Cleanup(echo.Close)
	e, err := infisical.NewAdmin(echo.URL, infisical.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Bootstrap(ctx, "admin@example.com", adminPassword, "acme")
	if err == nil || strings.Contains(err.Error(), string(adminPassword)) || !strings.Contains(err.Error(), "bootstrap the Infisical instance") {
		t.Errorf("err = %v, want the step named and the password removed", err)
	}
}

// TestAdminWaitReady: a server that comes up is waited for; one that never
// does ends with the deadline; something that is not Infisical ends at once.
func TestAdminWaitReady(t *testing.T) {
	srv := infisicaltest.New()
	t.Cleanup(srv.Close)
	srv.FailNext(infisicaltest.RouteStatus, infisicaltest.Status(503), infisicaltest.Status(502), infisicaltest.Status(503),
		infisicaltest.Status(503), infisicaltest.Status(503), infisicaltest.Status(503))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := newAdmin(t, srv).WaitReady(ctx, 10*time.Millisecond); err != nil {
		t.Errorf("a server that answers after a few 5xx: %v", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	a, _ := infisical.NewAdmin(closed, infisical.Options{})
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	err = a.WaitReady(short, 20*time.Millisecond)
	if infisical.KindOf(err) != infisical.Unreachable || !strings.Contains(err.Error(), "did not answer in time") {
		t.Errorf("closed port: %v, want unreachable, in time", err)
	}

	notInfisical := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notInfisical.Close)
	b, _ := infisical.NewAdmin(notInfisical.URL, infisical.Options{})
	start := time.Now()
	if err := b.WaitReady(context.Background(), time.Second); infisical.KindOf(err) != infisical.NotFound {
		t.Errorf("not Infisical: %v, want not found at once", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("WaitReady kept waiting for something that is not Infisical")
	}
	canceled, cancel3 := context.WithCancel(context.Background())
	cancel3()
	if err := a.WaitReady(canceled, time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}
