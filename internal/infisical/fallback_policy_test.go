package infisical_test

import (
	"context"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
)

// TestFallbackPolicy pins which failures let startsvc continue on .env: only
// an unreachable server and missing configuration. Bad credentials, a wrong
// name, a refused request and an interruption must stop it, or a typo would
// run production on stale local values.
func TestFallbackPolicy(t *testing.T) {
	for kind, want := range map[infisical.Kind]bool{
		infisical.Unreachable:   true,
		infisical.NotConfigured: true,
		infisical.Auth:          false,
		infisical.NotFound:      false,
		infisical.Invalid:       false,
		infisical.Canceled:      false,
		0:                       false, // not an Infisical error at all
	} {
		if got := kind.Fallback(); got != want {
			t.Errorf("%v.Fallback() = %v, want %v", kind, got, want)
		}
	}
}

// TestCredentialFailuresDoNotFallBack goes through the fake: a wrong client
// secret (401) and an expired token (403 TokenError) are Auth errors that do
// not allow the fallback.
func TestCredentialFailuresDoNotFallBack(t *testing.T) {
	srv := fake(t, infisicaltest.V4)
	expired := srv.IssueToken()
	srv.ExpireToken(expired)
	for name, env := range map[string]map[string]string{
		"wrong client secret": func() map[string]string {
			env := universalAuth()
			env["INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET"] = "wrong-" + testClientSecret
			return env
		}(),
		"expired access token": {"INFISICAL_TOKEN": expired, "INFISICAL_PROJECT_ID": testProject},
	} {
		t.Run(name, func(t *testing.T) {
			c := newClient(t, settings(t, srv, infisical.FlagValues{}, env), fastOptions())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject, Environment: "dev"})
			if infisical.KindOf(err) != infisical.Auth || infisical.IsFallback(err) {
				t.Fatalf("err = %v (kind %v, fallback %v), want Auth without fallback", err, infisical.KindOf(err), infisical.IsFallback(err))
			}
			assertClean(t, err, expired)
		})
	}
}
