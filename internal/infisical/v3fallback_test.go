package infisical_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
)

// TestNotFoundOnACurrentServerStaysOnV4: only a route-404 ("Route GET:… not
// found") means an old server. A current server's 404 for a wrong project,
// environment or folder is a configuration error — "not found", naming what
// was not found — and must neither ask the v3 route nor switch the client to
// it: the next listing still goes to v4.
func TestNotFoundOnACurrentServerStaysOnV4(t *testing.T) {
	for _, tc := range []struct {
		name string
		// pathNotFound: the server answers an unknown environment or folder
		// with 404 SecretPathNotFound, as a 2026 server does; else an unknown
		// environment with the older 404 "Environment with slug …".
		pathNotFound bool
		list         infisical.ListOptions
		wantInErr    string
	}{
		{"wrong folder", true, infisical.ListOptions{ProjectID: testProject, Environment: "dev", SecretPath: "/no-such-folder"},
			"Folder with path '/no-such-folder'"},
		{"wrong folder, recursive", true, infisical.ListOptions{ProjectID: testProject, Environment: "dev", SecretPath: "/apps/nope", Recursive: true},
			"'/apps/nope'"},
		{"wrong environment", true, infisical.ListOptions{ProjectID: testProject, Environment: "prdo"}, "environment 'prdo'"},
		{"wrong project", true, infisical.ListOptions{ProjectID: "no-such-project", Environment: "dev"}, "Project with ID 'no-such-project'"},
		{"wrong environment, older 404 text", false, infisical.ListOptions{ProjectID: testProject, Environment: "prdo"}, "slug 'prdo'"},
		{"wrong project, older 404 text", false, infisical.ListOptions{ProjectID: "no-such-project", Environment: "dev"}, "'no-such-project'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fake(t, infisicaltest.V4)
			srv.SetLegacyNotFound(!tc.pathNotFound)
			srv.AddFolder(testProject, "dev", "/apps")
			srv.SetSecret(testProject, "dev", "/", "ROOT_TOKEN", "root-token-value")
			c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), fastOptions())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			_, err := c.ListSecrets(ctx, tc.list)
			if infisical.KindOf(err) != infisical.NotFound {
				t.Fatalf("err = %v, want not found", err)
			}
			if infisical.IsFallback(err) {
				t.Errorf("%v allows the fallback to .env; a wrong name is a configuration error", err)
			}
			if !strings.Contains(err.Error(), tc.wantInErr) {
				t.Errorf("error %q does not name what was not found (%q)", err, tc.wantInErr)
			}
			if strings.Contains(err.Error(), "does not have that route") {
				t.Errorf("error %q calls a data 404 a missing route", err)
			}
			if n := srv.Calls(infisicaltest.RouteListV3); n != 0 {
				t.Errorf("the v3 route was called %d times after a 404 that was not a route-404", n)
			}
			if n := srv.Calls(infisicaltest.RouteListV4); n != 1 {
				t.Errorf("v4 calls = %d, want 1", n)
			}

			// The client still speaks v4 to this server.
			l, err := c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject, Environment: "dev"})
			if err != nil {
				t.Fatalf("listing the right folder afterwards: %v", err)
			}
			if l.API != "v4" || srv.Calls(infisicaltest.RouteListV3) != 0 {
				t.Errorf("after a data 404 the client lists through %s (%d v3 calls); want v4 only", l.API, srv.Calls(infisicaltest.RouteListV3))
			}
			if l.Values()["ROOT_TOKEN"] != "root-token-value" {
				t.Errorf("ROOT_TOKEN not listed")
			}
		})
	}
}

// TestRouteNotFoundSwitchesToV3Once is the other side: a server without the
// v4 route answers its route-404 once, and every later listing goes to v3.
func TestRouteNotFoundSwitchesToV3Once(t *testing.T) {
	srv := fake(t, infisicaltest.V3Only)
	srv.SetSecret(testProject, "dev", "/", "ROOT_TOKEN", "root-token-value")
	c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), fastOptions())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		l, err := c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject, Environment: "dev"})
		if err != nil {
			t.Fatalf("listing %d: %v", i+1, err)
		}
		if l.API != "v3" {
			t.Errorf("listing %d went through %s, want v3", i+1, l.API)
		}
	}
	if v4, v3 := srv.Calls(infisicaltest.RouteListV4), srv.Calls(infisicaltest.RouteListV3); v4 != 1 || v3 != 3 {
		t.Errorf("v4 calls = %d, v3 calls = %d; want 1 and 3", v4, v3)
	}
}

// TestWriteCreatesFoldersOnlyForAMissingFolder: the write path's own 404
// decision. A write into a wrong project is not found, and no folder is
// created for it; only a 404 about the folder leads to creating it.
func TestWriteCreatesFoldersOnlyForAMissingFolder(t *testing.T) {
	srv := fake(t, infisicaltest.V4)
	c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), fastOptions())
	target := writeTarget("/apps/web", 0)
	target.ProjectID = "no-such-project"
	_, err := c.CreateSecrets(context.Background(), target, []infisical.Write{{Key: "A_TOKEN", Value: "tok-value-1"}})
	if infisical.KindOf(err) != infisical.NotFound || !strings.Contains(err.Error(), "no-such-project") {
		t.Fatalf("err = %s, want not found naming the project", show(err))
	}
	if n := srv.Calls(infisicaltest.RouteCreateFolder); n != 0 {
		t.Errorf("%d folder calls for a project that does not exist, want 0", n)
	}
}
