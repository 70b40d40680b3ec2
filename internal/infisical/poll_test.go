package infisical_test

import (
	"context"
	"testing"

	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
)

// TestExpiredTokenLogsInAgain: a long-running caller (watch) keeps one
// client; when its access token expires, the next listing logs in again once
// and succeeds, instead of failing as a configuration error.
func TestExpiredTokenLogsInAgain(t *testing.T) {
	for _, mode := range []infisicaltest.Mode{infisicaltest.V4, infisicaltest.V3Only} {
		srv := fake(t, mode)
		srv.SetSecret(testProject, "dev", "/", "K", "v1-value")
		c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), fastOptions())
		ctx := context.Background()
		if _, err := c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject}); err != nil {
			t.Fatal(err)
		}
		srv.ExpireAllTokens()
		srv.SetSecret(testProject, "dev", "/", "K", "v2-value")
		logins := srv.Calls(infisicaltest.RouteLogin)
		l, err := c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject})
		if err != nil {
			t.Fatalf("mode %v: listing after the token expired: %v", mode, err)
		}
		if l.Values()["K"] != "v2-value" {
			t.Errorf("mode %v: the listing after a new login does not have the new value", mode)
		}
		if got := srv.Calls(infisicaltest.RouteLogin) - logins; got != 1 {
			t.Errorf("mode %v: %d logins after the token expired, want 1", mode, got)
		}
	}
}

// TestExpiredAccessTokenGivenDirectlyIsAnError: a token given by the user
// cannot be renewed; its expiry stays an authentication error.
func TestExpiredAccessTokenGivenDirectlyIsAnError(t *testing.T) {
	srv := fake(t, infisicaltest.V4)
	tok := srv.IssueToken()
	c := newClient(t, settings(t, srv, infisical.FlagValues{}, map[string]string{
		"INFISICAL_TOKEN": tok, "INFISICAL_PROJECT_ID": testProject}), fastOptions())
	srv.ExpireToken(tok)
	_, err := c.ListSecrets(context.Background(), infisical.ListOptions{ProjectID: testProject})
	if infisical.KindOf(err) != infisical.Auth {
		t.Fatalf("an expired access token given directly: %v (kind %v), want an authentication error", err, infisical.KindOf(err))
	}
}

// TestConditionalListing: with Options.Conditional, a repeated listing of an
// unchanged folder on a server that gives ETags (the v3 route) is a 304 and
// gives the same values; a change is seen at once.
func TestConditionalListing(t *testing.T) {
	srv := fake(t, infisicaltest.V3Only)
	srv.SetSecret(testProject, "dev", "/", "K", "first-value")
	o := fastOptions()
	o.Conditional = true
	c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), o)
	ctx := context.Background()
	list := func() string {
		t.Helper()
		l, err := c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject})
		if err != nil {
			t.Fatal(err)
		}
		return l.Values()["K"]
	}
	if list() != "first-value" {
		t.Fatal("first listing: wrong value")
	}
	if srv.NotModified() != 0 {
		t.Fatal("the first listing cannot be a 304")
	}
	if list() != "first-value" || srv.NotModified() != 1 {
		t.Errorf("an unchanged folder: want the same value from a 304 answer (%d 304s)", srv.NotModified())
	}
	srv.SetSecret(testProject, "dev", "/", "K", "second-value")
	if list() != "second-value" {
		t.Error("a changed folder: the listing does not have the new value")
	}
}
