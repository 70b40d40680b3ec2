package infisical_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
)

// listWithin runs ListSecrets and fails the test if it has not returned by
// the time watchdog fires. The watchdog is far above what a correct client
// takes (a few local round trips) and only guards against a client that went
// to sleep: it cancels the call so that the test ends instead of hanging.
func listWithin(t *testing.T, c *infisical.Client, ctx context.Context, watchdog time.Duration) (*infisical.Listing, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		l   *infisical.Listing
		err error
	}
	done := make(chan result, 1)
	go func() {
		l, err := c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject, Environment: "dev"})
		done <- result{l, err}
	}()
	select {
	case r := <-done:
		return r.l, r.err
	case <-time.After(watchdog):
		cancel()
		<-done
		t.Fatalf("ListSecrets still waiting after %s: the wait the server asked for was not bounded", watchdog)
		return nil, nil
	}
}

// TestRateLimitWaitIsBoundedWhateverTheTimeout: with a long --infisical-timeout
// (startsvc passes half of it as MaxRetryWait), "try again in 5 minutes" ends
// at once as unreachable — the fallback case — after one call, instead of
// sleeping five minutes.
func TestRateLimitWaitIsBoundedWhateverTheTimeout(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault infisicaltest.Fault
	}{
		{"try again in 5 minutes", infisicaltest.RateLimited("5 minutes")},
		{"try again in 1 hour", infisicaltest.RateLimited("1 hour")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fake(t, infisicaltest.V4)
			srv.SetSecret(testProject, "dev", "/", "API_KEY", "value-of-api-key")
			srv.FailNext(infisicaltest.RouteListV4, tc.fault)
			const infisicalTimeout = time.Hour
			c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()),
				infisical.Options{Timeout: infisicalTimeout, MaxRetryWait: infisicalTimeout / 2})
			ctx, cancel := context.WithTimeout(context.Background(), infisicalTimeout)
			defer cancel()

			_, err := listWithin(t, c, ctx, 30*time.Second)
			if infisical.KindOf(err) != infisical.Unreachable || !infisical.IsFallback(err) {
				t.Fatalf("err = %v, want Unreachable (the fallback case)", err)
			}
			if !strings.Contains(err.Error(), "waits at most 1m0s") {
				t.Errorf("error %q does not say how long startsvc waits at most", err)
			}
			if n := srv.Calls(infisicaltest.RouteListV4); n != 1 {
				t.Errorf("listing calls = %d, want 1 (no retry after a refused wait)", n)
			}
			assertClean(t, err, "value-of-api-key")
		})
	}
}

// TestRateLimitWaitOverTheCallersBound: a caller's bound below the ceiling is
// honoured too. Without it the client would wait 2 s and then succeed, so the
// outcome, not the clock, shows the bound.
func TestRateLimitWaitOverTheCallersBound(t *testing.T) {
	srv := fake(t, infisicaltest.V4)
	srv.SetSecret(testProject, "dev", "/", "API_KEY", "value-of-api-key")
	srv.FailNext(infisicaltest.RouteListV4, infisicaltest.RateLimited("2 seconds"))
	c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()),
		infisical.Options{MaxRetryWait: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	_, err := listWithin(t, c, ctx, 30*time.Second)
	if infisical.KindOf(err) != infisical.Unreachable {
		t.Fatalf("err = %v, want Unreachable", err)
	}
	if !strings.Contains(err.Error(), "waits at most 100ms") {
		t.Errorf("error %q does not name the bound", err)
	}
	if n := srv.Calls(infisicaltest.RouteListV4); n != 1 {
		t.Errorf("listing calls = %d, want 1", n)
	}
}

// TestRateLimitWaitOfAWriteIsBounded: migrate's writes retry a 429 through
// the same decision, so the same ceiling holds there.
func TestRateLimitWaitOfAWriteIsBounded(t *testing.T) {
	srv := fake(t, infisicaltest.V4)
	srv.FailNext(infisicaltest.RouteCreateBatch, infisicaltest.RateLimited("5 minutes"))
	c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()),
		infisical.Options{Timeout: time.Hour, MaxRetryWait: 30 * time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.CreateSecrets(ctx, writeTarget("/", 0), []infisical.Write{{Key: "A_TOKEN", Value: "tok-value-1"}})
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cancel()
		<-done
		t.Fatal("CreateSecrets still waiting after 30s: the wait the server asked for was not bounded")
	}
	if infisical.KindOf(err) != infisical.Unreachable || !strings.Contains(err.Error(), "waits at most 1m0s") {
		t.Fatalf("err = %s, want Unreachable saying startsvc waits at most 1m0s", show(err))
	}
	if n := srv.Calls(infisicaltest.RouteCreateBatch); n != 1 {
		t.Errorf("create calls = %d, want 1", n)
	}
}
