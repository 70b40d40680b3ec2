package infisical_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
)

const (
	testProject      = "proj-7f3a"
	testClientID     = "5d1c2a9e-client-id"
	testClientSecret = "cs-0b7e4f1d9a2c-hidden"
)

// hostile are values that break naive env-file writers and shell quoting; the
// client must hand them back byte for byte.
var hostile = map[string]string{
	"DB_PASSWORD":   `p'a"s$s\w0rd`,
	"DOLLARS":       `$HOME ${HOME} $$ \$`,
	"MULTILINE":     "line one\nline two\r\nline three\n",
	"TRAILING_BS":   `ends with a backslash\`,
	"HASH_EQUALS":   "a#b=c # not a comment",
	"UNICODE":       "päss wörd ✓ 🔑",
	"LEADING_ZERO":  "007",
	"TABS":          "\tindented\t",
	"EMPTY":         "",
	"JSONISH":       `{"k": ["v", 1]}`,
	"REF_LITERAL":   "${NOT_DEFINED_ANYWHERE}",
	"SPACES_AROUND": "  padded  ",
}

// mapEnv is a getenv over a map.
func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// fake starts a fake server in mode with the test identity and project.
func fake(t *testing.T, mode infisicaltest.Mode) *infisicaltest.Server {
	t.Helper()
	srv := infisicaltest.New()
	t.Cleanup(srv.Close)
	srv.SetMode(mode)
	srv.AddIdentity(testClientID, testClientSecret)
	srv.AddProject(testProject)
	return srv
}

// settings resolves settings for the fake with env as the environment.
func settings(t *testing.T, srv *infisicaltest.Server, flags infisical.FlagValues, env map[string]string) infisical.Settings {
	t.Helper()
	if flags.URL == "" {
		flags.URL = srv.URL
	}
	s, err := infisical.ResolveSettings(flags, mapEnv(env), t.TempDir())
	if err != nil {
		t.Fatalf("ResolveSettings: %v", err)
	}
	return s
}

func universalAuth() map[string]string {
	return map[string]string{
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID":     testClientID,
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET": testClientSecret,
		"INFISICAL_PROJECT_ID":                   testProject,
	}
}

// fastOptions keep retries quick in tests.
func fastOptions() infisical.Options {
	return infisical.Options{RetryBackoff: 10 * time.Millisecond}
}

func newClient(t *testing.T, s infisical.Settings, o infisical.Options) *infisical.Client {
	t.Helper()
	c, err := infisical.NewClient(s, o)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// assertClean fails when err's text holds a credential or a secret value.
func assertClean(t *testing.T, err error, values ...string) {
	t.Helper()
	if err == nil {
		return
	}
	text := err.Error()
	for _, v := range append([]string{testClientSecret, testClientID}, values...) {
		if len(v) >= 4 && strings.Contains(text, v) {
			t.Errorf("error text %q contains a secret (%d bytes)", text, len(v))
		}
	}
}

func allValues() []string {
	var vs []string
	for _, v := range hostile {
		vs = append(vs, strings.TrimSpace(v))
	}
	return vs
}

func TestListSecretsV4AndV3(t *testing.T) {
	for _, tc := range []struct {
		name       string
		mode       infisicaltest.Mode
		wantAPI    string
		wantV4     int // v4 calls after two listings
		wantV3     int
		wantFields []string
	}{
		{"current server", infisicaltest.V4, "v4", 2, 0,
			[]string{"projectId", "environment", "secretPath", "recursive", "includeImports", "include_imports", "expandSecretReferences", "viewSecretValue"}},
		{"v3-only server", infisicaltest.V3Only, "v3", 1, 2,
			[]string{"workspaceId", "environment", "secretPath", "recursive", "includeImports", "include_imports", "expandSecretReferences"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fake(t, tc.mode)
			for k, v := range hostile {
				srv.SetSecret(testProject, "dev", "/", k, v)
			}
			c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), fastOptions())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			l, err := c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject, Environment: "dev", SecretPath: "/"})
			if err != nil {
				t.Fatalf("ListSecrets: %v", err)
			}
			if !reflect.DeepEqual(l.Values(), hostile) {
				t.Errorf("values differ from what the server holds:\n got %q\nwant %q", l.Values(), hostile)
			}
			if l.API != tc.wantAPI {
				t.Errorf("API = %q, want %q", l.API, tc.wantAPI)
			}
			if n := srv.Calls(infisicaltest.RouteLogin); n != 1 {
				t.Errorf("login calls = %d, want 1", n)
			}
			route := infisicaltest.RouteListV4
			if tc.mode == infisicaltest.V3Only {
				route = infisicaltest.RouteListV3
			}
			q := srv.LastQuery(route)
			for _, f := range tc.wantFields {
				if !q.Has(f) {
					t.Errorf("listing query lacks %s: %v", f, q)
				}
			}

			// A second listing goes straight to the route that worked.
			if _, err := c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject, Environment: "dev"}); err != nil {
				t.Fatalf("second ListSecrets: %v", err)
			}
			if v4, v3 := srv.Calls(infisicaltest.RouteListV4), srv.Calls(infisicaltest.RouteListV3); v4 != tc.wantV4 || v3 != tc.wantV3 {
				t.Errorf("after two listings: v4 calls = %d, v3 calls = %d; want %d and %d", v4, v3, tc.wantV4, tc.wantV3)
			}
			if n := srv.Calls(infisicaltest.RouteLogin); n != 1 {
				t.Errorf("login calls after two listings = %d, want 1", n)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup prepares the server and returns the environment to resolve settings from.
		setup      func(srv *infisicaltest.Server) map[string]string
		list       infisical.ListOptions
		wantKind   infisical.Kind // 0: success
		wantInErr  string
		wantLogin  int
		wantLookup int
	}{
		{
			name:      "universal auth",
			setup:     func(*infisicaltest.Server) map[string]string { return universalAuth() },
			wantLogin: 1,
		},
		{
			name: "bad client secret",
			setup: func(*infisicaltest.Server) map[string]string {
				env := universalAuth()
				env["INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET"] = "wrong-" + testClientSecret
				return env
			},
			wantKind: infisical.Auth, wantInErr: "HTTP 401: Invalid credentials", wantLogin: 1,
		},
		{
			name: "unknown client id on an older server",
			setup: func(srv *infisicaltest.Server) map[string]string {
				srv.SetOldLoginErrors(true)
				env := universalAuth()
				env["INFISICAL_UNIVERSAL_AUTH_CLIENT_ID"] = "unknown-client-id"
				return env
			},
			wantKind: infisical.Auth, wantInErr: "No identity with specified client ID", wantLogin: 1,
		},
		{
			name: "access token needs no login",
			setup: func(srv *infisicaltest.Server) map[string]string {
				return map[string]string{"INFISICAL_TOKEN": srv.IssueToken(), "INFISICAL_PROJECT_ID": testProject}
			},
		},
		{
			name: "expired access token",
			setup: func(srv *infisicaltest.Server) map[string]string {
				tok := srv.IssueToken()
				srv.ExpireToken(tok)
				return map[string]string{"INFISICAL_UNIVERSAL_AUTH_ACCESS_TOKEN": tok, "INFISICAL_PROJECT_ID": testProject}
			},
			wantKind: infisical.Auth, wantInErr: "HTTP 403",
		},
		{
			name: "unknown access token",
			setup: func(*infisicaltest.Server) map[string]string {
				return map[string]string{"INFISICAL_TOKEN": "eyJhbGciOiJIUzI1NiJ9.eyJub3BlIjp0cnVlfQ.c2ln", "INFISICAL_PROJECT_ID": testProject}
			},
			wantKind: infisical.Auth, wantInErr: "expired or malformed",
		},
		{
			name: "service token finds its project and environment",
			setup: func(srv *infisicaltest.Server) map[string]string {
				srv.SetSecret(testProject, "prod", "/", "PROD_ONLY", "prod-value-1")
				return map[string]string{"INFISICAL_TOKEN": srv.AddServiceToken(testProject, "prod", "/")}
			},
			wantLookup: 1,
		},
		{
			name: "service token for another project",
			setup: func(srv *infisicaltest.Server) map[string]string {
				srv.AddProject("other-project")
				return map[string]string{"INFISICAL_TOKEN": srv.AddServiceToken("other-project", "dev", "/"), "INFISICAL_PROJECT_ID": testProject}
			},
			list:     infisical.ListOptions{ProjectID: testProject, Environment: "dev"},
			wantKind: infisical.Auth, wantInErr: "not allowed",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fake(t, infisicaltest.V4)
			srv.SetSecret(testProject, "dev", "/", "API_KEY", "dev-value-1")
			env := tc.setup(srv)
			s := settings(t, srv, infisical.FlagValues{}, env)
			c := newClient(t, s, fastOptions())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			list := tc.list
			if list == (infisical.ListOptions{}) {
				list = s.ListOptions()
			}
			l, err := c.ListSecrets(ctx, list)
			assertClean(t, err, "dev-value-1", "prod-value-1", env["INFISICAL_TOKEN"], env["INFISICAL_UNIVERSAL_AUTH_ACCESS_TOKEN"],
				env["INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET"])
			if tc.wantKind == 0 {
				if err != nil {
					t.Fatalf("ListSecrets: %v", err)
				}
				if len(l.Secrets) != 1 {
					t.Errorf("got %d secrets (%v), want 1", len(l.Secrets), l.Keys())
				}
			} else {
				if got := infisical.KindOf(err); got != tc.wantKind {
					t.Fatalf("error %v: kind %v, want %v", err, got, tc.wantKind)
				}
				if !strings.Contains(err.Error(), tc.wantInErr) {
					t.Errorf("error %q does not say %q", err, tc.wantInErr)
				}
				if !strings.Contains(err.Error(), srv.Listener.Addr().String()) {
					t.Errorf("error %q does not name the host", err)
				}
			}
			if n := srv.Calls(infisicaltest.RouteLogin); n != tc.wantLogin {
				t.Errorf("login calls = %d, want %d", n, tc.wantLogin)
			}
			if n := srv.Calls(infisicaltest.RouteServiceToken); n != tc.wantLookup {
				t.Errorf("service token lookups = %d, want %d", n, tc.wantLookup)
			}
			if n := srv.Calls(infisicaltest.RouteListV4); tc.wantKind == 0 && n != 1 {
				t.Errorf("listing calls = %d, want 1", n)
			}
		})
	}
}

// TestNotFound: a project, environment or folder that does not exist is an
// error of kind NotFound naming it, on a 2026 server (which answers 404
// SecretPathNotFound) and on a 2024 one (which lists 200 with nothing, so the
// client asks for the project's environments and folders); an empty folder
// that exists is an empty listing on both.
func TestNotFound(t *testing.T) {
	for _, tc := range []struct {
		name     string
		list     infisical.ListOptions
		wantKind infisical.Kind
		want     map[infisicaltest.Mode]string // what the error says, per server
	}{
		{"unknown project", infisical.ListOptions{ProjectID: "no-such-project", Environment: "dev"}, infisical.NotFound,
			map[infisicaltest.Mode]string{infisicaltest.V4: "Project with ID 'no-such-project' not found", infisicaltest.V3Only: "Project with ID 'no-such-project' not found"}},
		{"unknown environment", infisical.ListOptions{ProjectID: testProject, Environment: "prdo"}, infisical.NotFound,
			map[infisicaltest.Mode]string{infisicaltest.V4: "in environment 'prdo' was not found", infisicaltest.V3Only: `no environment "prdo" (its environments: dev, prod, staging)`}},
		{"unknown folder", infisical.ListOptions{ProjectID: testProject, Environment: "dev", SecretPath: "/nope"}, infisical.NotFound,
			map[infisicaltest.Mode]string{infisicaltest.V4: "Folder with path '/nope'", infisicaltest.V3Only: "has no folder /nope"}},
		{"unknown folder below an existing one", infisical.ListOptions{ProjectID: testProject, Environment: "dev", SecretPath: "/apps/paymnts"}, infisical.NotFound,
			map[infisicaltest.Mode]string{infisicaltest.V4: "Folder with path '/apps/paymnts'", infisicaltest.V3Only: "has no folder /apps/paymnts"}},
		{"existing empty folder", infisical.ListOptions{ProjectID: testProject, Environment: "dev", SecretPath: "/apps/empty"}, 0, nil},
		{"existing empty environment", infisical.ListOptions{ProjectID: testProject, Environment: "staging"}, 0, nil},
	} {
		for _, mode := range []infisicaltest.Mode{infisicaltest.V4, infisicaltest.V3Only} {
			t.Run(tc.name+modeName(mode), func(t *testing.T) {
				srv := fake(t, mode)
				srv.SetSecret(testProject, "dev", "/", "ROOT", "root-value")
				srv.SetSecret(testProject, "dev", "/apps/payments", "STRIPE", "stripe-value")
				srv.AddFolder(testProject, "dev", "/apps/empty")
				c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), fastOptions())
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				l, err := c.ListSecrets(ctx, tc.list)
				if tc.wantKind == 0 {
					if err != nil {
						t.Fatalf("ListSecrets: %v", err)
					}
					if len(l.Secrets) != 0 || len(l.Notes) != 0 {
						t.Errorf("got %v and notes %q, want no secrets and no note", l.Keys(), l.Notes)
					}
					return
				}
				if got := infisical.KindOf(err); got != tc.wantKind {
					t.Fatalf("error %v: kind %v, want %v", err, got, tc.wantKind)
				}
				if !strings.Contains(err.Error(), tc.want[mode]) {
					t.Errorf("error %q does not say %q", err, tc.want[mode])
				}
				if infisical.IsFallback(err) {
					t.Errorf("%v allows a fallback; a typo is a configuration error", err)
				}
			})
		}
	}
}

// TestEmptyListingCheckedOnlyWhenEmpty: a listing with secrets costs no
// extra call; an empty one on a server that cannot be asked (a route it does
// not have, an identity it refuses) stands, with a note when it was refused.
func TestEmptyListingCheckedOnlyWhenEmpty(t *testing.T) {
	srv := fake(t, infisicaltest.V3Only)
	srv.SetSecret(testProject, "dev", "/", "ROOT", "root-value")
	c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), fastOptions())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject, Environment: "dev"}); err != nil {
		t.Fatal(err)
	}
	if n := srv.Calls(infisicaltest.RouteWorkspace) + srv.Calls(infisicaltest.RouteFolders); n != 0 {
		t.Errorf("a listing with secrets made %d extra calls", n)
	}

	srv.FailAlways(infisicaltest.RouteWorkspace, infisicaltest.Status(http.StatusForbidden))
	l, err := c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject, Environment: "staging"})
	if err != nil || len(l.Notes) != 1 || !strings.Contains(l.Notes[0], "typo") {
		t.Errorf("verification refused: %v, notes %q; want the empty listing with a note", err, l.Notes)
	}

	// A server without the route reports typos itself: nothing to add.
	srv.ClearFaults()
	srv.FailAlways(infisicaltest.RouteWorkspace, infisicaltest.RouteMissing())
	l, err = c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject, Environment: "staging"})
	if err != nil || len(l.Notes) != 0 {
		t.Errorf("verification route missing: %v, notes %q; want the empty listing", err, l.Notes)
	}

	// A verification that cannot reach the server is unreachable: the
	// fallback policy decides, as for the listing itself.
	srv.ClearFaults()
	srv.FailAlways(infisicaltest.RouteWorkspace, infisicaltest.Status(http.StatusBadGateway))
	if _, err := c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject, Environment: "staging"}); infisical.KindOf(err) != infisical.Unreachable {
		t.Errorf("verification unreachable: %v, want Unreachable", err)
	}

	// An answer that is not Infisical's is invalid, not unreachable.
	srv.ClearFaults()
	srv.FailAlways(infisicaltest.RouteWorkspace, infisicaltest.InvalidJSON())
	if _, err := c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject, Environment: "staging"}); infisical.KindOf(err) != infisical.Invalid {
		t.Errorf("verification answered with junk: %v, want Invalid", err)
	}
}

func modeName(m infisicaltest.Mode) string {
	if m == infisicaltest.V3Only {
		return " (v3-only)"
	}
	return " (v4)"
}

// TestFaults plays each way a server fails. Cases whose outcome is "no answer
// in time" get a short deadline: it is the outcome however slow the machine.
// Every other case gets a deadline a busy machine cannot miss, so that the
// outcome never depends on how fast the calls went.
func TestFaults(t *testing.T) {
	const short, generous = 2 * time.Second, 30 * time.Second
	for _, tc := range []struct {
		deadline time.Duration // generous when 0
		name     string
		route    string
		faults   []infisicaltest.Fault
		always   *infisicaltest.Fault
		opts     infisical.Options
		// wantKind 0 means the client recovers and lists.
		wantKind  infisical.Kind
		wantInErr string
		wantCalls int // calls to route, when not 0
	}{
		{name: "500 on every attempt", route: infisicaltest.RouteListV4, always: ptr(infisicaltest.Status(500)),
			wantKind: infisical.Unreachable, wantInErr: "HTTP 500", wantCalls: 3},
		{name: "502 once, then an answer", route: infisicaltest.RouteListV4, faults: []infisicaltest.Fault{infisicaltest.Status(502)},
			wantCalls: 2},
		{name: "503 on login", route: infisicaltest.RouteLogin, always: ptr(infisicaltest.Status(503)),
			wantKind: infisical.Unreachable, wantInErr: "log in to Infisical", wantCalls: 3},
		{name: "429 with a wait that fits", route: infisicaltest.RouteListV4,
			faults: []infisicaltest.Fault{infisicaltest.RateLimited("1 seconds")}, wantCalls: 2},
		{name: "429 with a wait that does not fit", route: infisicaltest.RouteListV4,
			faults:   []infisicaltest.Fault{infisicaltest.RateLimited("60 seconds")},
			wantKind: infisical.Unreachable, wantInErr: "Please try again in 60 seconds", wantCalls: 1},
		{name: "429 in 1 minute", route: infisicaltest.RouteListV4,
			faults:   []infisicaltest.Fault{infisicaltest.RateLimited("1 minute")},
			wantKind: infisical.Unreachable, wantInErr: "HTTP 429", wantCalls: 1},
		{name: "429 without a wait, every time", route: infisicaltest.RouteListV4, always: ptr(infisicaltest.RateLimited("")),
			wantKind: infisical.Unreachable, wantInErr: "Rate limit exceeded", wantCalls: 3},
		{deadline: short, name: "hang before headers", route: infisicaltest.RouteListV4, faults: []infisicaltest.Fault{infisicaltest.HangBeforeHeaders()},
			wantKind: infisical.Unreachable, wantInErr: "no answer in time"},
		{deadline: short, name: "hang on login", route: infisicaltest.RouteLogin, faults: []infisicaltest.Fault{infisicaltest.HangBeforeHeaders()},
			wantKind: infisical.Unreachable, wantInErr: "log in to Infisical"},
		{deadline: short, name: "headers, then a stalled body", route: infisicaltest.RouteListV4, faults: []infisicaltest.Fault{infisicaltest.StallBody()},
			wantKind: infisical.Unreachable, wantInErr: "stalled"},
		{name: "invalid JSON", route: infisicaltest.RouteListV4, faults: []infisicaltest.Fault{infisicaltest.InvalidJSON()},
			wantKind: infisical.Invalid, wantInErr: "invalid JSON"},
		{name: "a secret without a name", route: infisicaltest.RouteListV4, faults: []infisicaltest.Fault{infisicaltest.NamelessSecret()},
			wantKind: infisical.Invalid, wantInErr: "without a name"},
		{name: "truncated body", route: infisicaltest.RouteListV4, faults: []infisicaltest.Fault{infisicaltest.TruncatedBody()},
			wantKind: infisical.Unreachable, wantInErr: "cut short"},
		{name: "body over a small cap", route: infisicaltest.RouteListV4, faults: []infisicaltest.Fault{infisicaltest.HugeBody(2 << 20)},
			opts: infisical.Options{MaxBodyBytes: 1 << 20}, wantKind: infisical.Unreachable, wantInErr: "larger than 1 MiB"},
		{name: "invalid JSON on v3 after the fallback", route: infisicaltest.RouteListV3,
			faults: []infisicaltest.Fault{infisicaltest.InvalidJSON()}, wantKind: infisical.Invalid, wantInErr: "invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mode := infisicaltest.V4
			if tc.route == infisicaltest.RouteListV3 {
				mode = infisicaltest.V3Only
			}
			srv := fake(t, mode)
			srv.SetSecret(testProject, "dev", "/", "API_KEY", "value-of-api-key")
			if tc.always != nil {
				srv.FailAlways(tc.route, *tc.always)
			}
			srv.FailNext(tc.route, tc.faults...)
			opts := tc.opts
			opts.RetryBackoff = 10 * time.Millisecond
			c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), opts)
			deadline := tc.deadline
			if deadline == 0 {
				deadline = generous
			}
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			// The hanging faults last until the server closes: returning at
			// all shows the deadline was kept.
			l, err := c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject, Environment: "dev"})
			assertClean(t, err, "value-of-api-key")
			if tc.wantCalls != 0 {
				if n := srv.Calls(tc.route); n != tc.wantCalls {
					t.Errorf("calls to %s = %d, want %d", tc.route, n, tc.wantCalls)
				}
			}
			if tc.wantKind == 0 {
				if err != nil {
					t.Fatalf("ListSecrets: %v", err)
				}
				if got := l.Values()["API_KEY"]; got != "value-of-api-key" {
					t.Errorf("API_KEY = %q after recovering", got)
				}
				return
			}
			if got := infisical.KindOf(err); got != tc.wantKind {
				t.Fatalf("error %v: kind %v, want %v", err, got, tc.wantKind)
			}
			// Only an answer that never came whole falls back; one that came
			// and is not what Infisical sends is an error.
			if want := tc.wantKind != infisical.Invalid; infisical.IsFallback(err) != want {
				t.Errorf("%v: fallback allowed = %v, want %v", err, !want, want)
			}
			if !strings.Contains(err.Error(), tc.wantInErr) {
				t.Errorf("error %q does not say %q", err, tc.wantInErr)
			}
			if !strings.Contains(err.Error(), srv.Listener.Addr().String()) {
				t.Errorf("error %q does not name the host", err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestHugeBodyAtDefaultCap(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 17 MiB")
	}
	srv := fake(t, infisicaltest.V4)
	srv.FailNext(infisicaltest.RouteListV4, infisicaltest.HugeBody(infisical.DefaultMaxBodyBytes+1<<20))
	c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), fastOptions())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject, Environment: "dev"})
	if infisical.KindOf(err) != infisical.Unreachable || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Fatalf("err = %v, want Unreachable saying the answer is larger than 16 MiB", err)
	}
}

func TestUnreachableServers(t *testing.T) {
	closed := infisicaltest.New()
	closedURL := closed.URL
	closed.Close()
	tlsSrv := infisicaltest.NewTLS()
	defer tlsSrv.Close()

	for _, tc := range []struct {
		name      string
		url       string
		wantInErr string
	}{
		{"connection refused", closedURL, "refused"},
		{"unknown host", "http://startsvc-test.invalid", "startsvc-test.invalid"},
		{"untrusted certificate", tlsSrv.URL, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := universalAuth()
			s, err := infisical.ResolveSettings(infisical.FlagValues{URL: tc.url}, mapEnv(env), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			c := newClient(t, s, fastOptions())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err = c.ListSecrets(ctx, s.ListOptions())
			if infisical.KindOf(err) != infisical.Unreachable {
				t.Fatalf("err = %v, want Unreachable", err)
			}
			if !strings.Contains(err.Error(), tc.wantInErr) {
				t.Errorf("error %q does not say %q", err, tc.wantInErr)
			}
			assertClean(t, err)
		})
	}
}

func TestCanceled(t *testing.T) {
	srv := fake(t, infisicaltest.V4)
	srv.FailNext(infisicaltest.RouteListV4, infisicaltest.HangBeforeHeaders())
	c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), fastOptions())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-srv.Hanging() // the listing reached the server and waits
		cancel()
	}()
	_, err := c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject, Environment: "dev"})
	if infisical.KindOf(err) != infisical.Canceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled wrapping context.Canceled", err)
	}
	if infisical.IsFallback(err) {
		t.Error("an interruption must not fall back")
	}
}

func TestNoDeadlineUsesClientTimeout(t *testing.T) {
	srv := fake(t, infisicaltest.V4)
	srv.FailNext(infisicaltest.RouteListV4, infisicaltest.HangBeforeHeaders())
	c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), infisical.Options{Timeout: 200 * time.Millisecond})
	// The listing hangs until the server closes: returning at all, with
	// "no answer in time", shows the client's own timeout applied.
	_, err := c.ListSecrets(context.Background(), infisical.ListOptions{ProjectID: testProject, Environment: "dev"})
	if infisical.KindOf(err) != infisical.Unreachable || !strings.Contains(err.Error(), "no answer in time") {
		t.Fatalf("err = %v, want Unreachable: no answer in time", err)
	}
}

func TestStatus(t *testing.T) {
	srv := fake(t, infisicaltest.V4)
	c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), fastOptions())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Status(ctx); err != nil {
		t.Fatalf("Status: %v", err)
	}
	if n := srv.Calls(infisicaltest.RouteLogin); n != 0 {
		t.Errorf("Status logged in (%d calls)", n)
	}
	srv.FailNext(infisicaltest.RouteStatus, infisicaltest.InvalidJSON())
	if err := c.Status(ctx); infisical.KindOf(err) != infisical.Invalid {
		t.Errorf("Status on a broken answer: %v, want Invalid: an answer that is not Infisical's is no fallback case", err)
	}
}

func TestNotInfisical(t *testing.T) {
	// A web server that answers everything with a page, as a wrong URL does.
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>welcome</body></html>"))
	}))
	defer web.Close()
	s, err := infisical.ResolveSettings(infisical.FlagValues{URL: web.URL}, mapEnv(universalAuth()), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s, fastOptions())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Status(ctx); infisical.KindOf(err) != infisical.Invalid {
		t.Errorf("Status: %v, want Invalid", err)
	}
	_, err = c.ListSecrets(ctx, s.ListOptions())
	if infisical.KindOf(err) != infisical.Invalid || !strings.Contains(err.Error(), "no access token") {
		t.Errorf("ListSecrets: %v, want Invalid saying there is no access token", err)
	}
}

// TestFolderMayBeMissing: a write target (migrate) may be a folder that does
// not exist yet: it lists empty on both server versions, while an unknown
// environment is still NotFound.
func TestFolderMayBeMissing(t *testing.T) {
	for _, mode := range []infisicaltest.Mode{infisicaltest.V4, infisicaltest.V3Only} {
		t.Run(modeName(mode), func(t *testing.T) {
			srv := fake(t, mode)
			srv.SetSecret(testProject, "dev", "/", "ROOT", "root-value")
			c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), fastOptions())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			l, err := c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject, Environment: "dev", SecretPath: "/apps/new", FolderMayBeMissing: true})
			if err != nil || len(l.Secrets) != 0 {
				t.Errorf("a missing target folder: %v, %v; want an empty listing", l, err)
			}
			_, err = c.ListSecrets(ctx, infisical.ListOptions{ProjectID: testProject, Environment: "prdo", SecretPath: "/apps/new", FolderMayBeMissing: true})
			if infisical.KindOf(err) != infisical.NotFound {
				t.Errorf("an unknown environment: %v, want NotFound", err)
			}
		})
	}
}
