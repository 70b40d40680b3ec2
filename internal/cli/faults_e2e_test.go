package cli_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

// TestInfisicalFaults drives the real binary against every way an Infisical
// server fails, and checks the documented policy: an unreachable server
// (refused, DNS, TLS, no answer, 5xx, 429 after bounded retries, a body that
// is not a usable answer) means a WARNING naming the cause and the .env
// values, exit 0 — and exit 4 under --require-infisical; a configuration
// error (401, 403, 404) is exit 4 with nothing created. No run may take much
// longer than --infisical-timeout, and none prints a value or a credential.
func TestInfisicalFaults(t *testing.T) {
	testenv.BuildFixtureImage(t)

	// fallback is the outcome of an unreachable server; say is a pattern the
	// output must match, naming the cause.
	type fault struct {
		name     string
		setup    func(t *testing.T) (env, args []string)
		fallback bool
		say      string
	}
	onServer := func(route string, f infisicaltest.Fault) func(t *testing.T) ([]string, []string) {
		return func(t *testing.T) ([]string, []string) {
			s := faultServer(t, false)
			s.FailAlways(route, f)
			return identityEnv(s.URL, faultClientSecret), nil
		}
	}
	faults := []fault{
		{name: "connection refused", fallback: true, say: `connection refused`,
			setup: func(t *testing.T) ([]string, []string) {
				return identityEnv("http://"+closedPort(t), faultClientSecret), nil
			}},
		{name: "DNS failure", fallback: true, say: `infisical\.startsvc-fault\.invalid.*(no such host|server misbehaving|no answer in time)`,
			setup: func(t *testing.T) ([]string, []string) {
				return identityEnv("http://infisical.startsvc-fault.invalid", faultClientSecret), nil
			}},
		{name: "untrusted TLS certificate", fallback: true, say: `certificate`,
			setup: func(t *testing.T) ([]string, []string) {
				return identityEnv(faultServer(t, true).URL, faultClientSecret), nil
			}},
		{name: "accepts and never answers", fallback: true, say: `log in to Infisical at \S+: no answer in time`,
			setup: onServer(infisicaltest.RouteLogin, infisicaltest.HangBeforeHeaders())},
		{name: "headers then a stalled body", fallback: true, say: `list Infisical secrets at \S+: HTTP 200: the answer stalled`,
			setup: onServer(infisicaltest.RouteListV4, infisicaltest.StallBody())},
		{name: "HTTP 500", fallback: true, say: `HTTP 500: Something went wrong \(after \d+ attempts\)`,
			setup: onServer(infisicaltest.RouteListV4, infisicaltest.Status(500))},
		{name: "HTTP 502", fallback: true, say: `log in to Infisical at \S+: HTTP 502: Bad Gateway \(after \d+ attempts\)`,
			setup: onServer(infisicaltest.RouteLogin, infisicaltest.Status(502))},
		{name: "HTTP 429 asking for a wait longer than the bound", fallback: true, say: `HTTP 429: Rate limit exceeded\. Please try again in 1 minute`,
			setup: onServer(infisicaltest.RouteListV4, infisicaltest.RateLimited("1 minute"))},
		{name: "HTTP 429 asking for 2 seconds", fallback: true, say: `HTTP 429: Rate limit exceeded\. Please try again in 2 seconds`,
			setup: onServer(infisicaltest.RouteListV4, infisicaltest.RateLimited("2 seconds"))},
		{name: "HTTP 429 naming no wait", fallback: true, say: `HTTP 429: Rate limit exceeded \(after \d+ attempts\)`,
			setup: onServer(infisicaltest.RouteListV4, infisicaltest.RateLimited(""))},
		{name: "truncated body", fallback: true, say: `list Infisical secrets at \S+: HTTP 200: .*cut short`,
			setup: onServer(infisicaltest.RouteListV4, infisicaltest.TruncatedBody())},
		{name: "50 MB body", fallback: true, say: `list Infisical secrets at \S+: .*(larger than|no answer in time|stalled)`,
			setup: onServer(infisicaltest.RouteListV4, infisicaltest.HugeBody(50<<20))},

		{name: "401 bad client secret", say: `log in to Infisical at \S+: HTTP 401: Invalid credentials`,
			setup: func(t *testing.T) ([]string, []string) {
				return identityEnv(faultServer(t, false).URL, "wrong-client-secret-Pq72"), nil
			}},
		{name: "403 expired token", say: `HTTP 403: .*expired`,
			setup: func(t *testing.T) ([]string, []string) {
				s := faultServer(t, false)
				tok := s.IssueToken()
				s.ExpireToken(tok)
				return []string{"INFISICAL_API_URL=" + s.URL, "INFISICAL_TOKEN=" + tok, "INFISICAL_PROJECT_ID=proj-1"}, nil
			}},
		{name: "404 unknown project", say: `HTTP 404: Project with ID 'proj-nope' not found`,
			setup: func(t *testing.T) ([]string, []string) {
				env := identityEnv(faultServer(t, false).URL, faultClientSecret)
				return env, []string{"--infisical-project", "proj-nope"}
			}},
		{name: "404 unknown environment", say: `HTTP 404: Folder with path '/' in environment 'staging' was not found`,
			setup: func(t *testing.T) ([]string, []string) {
				return identityEnv(faultServer(t, false).URL, faultClientSecret), []string{"--infisical-env", "staging"}
			}},
		// A typo on a 2024 server, which lists an unknown environment or
		// folder as empty (200) where a 2026 one answers 404.
		{name: "unknown environment on a 2024 server", say: `project proj-1 has no environment "prdo" \(its environments: dev\)`,
			setup: onOldServer("--infisical-env", "prdo")},
		{name: "unknown folder on a 2024 server", say: `environment dev of project proj-1 has no folder /nope`,
			setup: onOldServer("--secret-path", "/nope")},
		{name: "unknown folder on a 2026 server", say: `HTTP 404: Folder with path '/nope' in environment 'dev' was not found`,
			setup: func(t *testing.T) ([]string, []string) {
				return identityEnv(faultServer(t, false).URL, faultClientSecret), []string{"--secret-path", "/nope"}
			}},
		// An answer that came whole and is not what Infisical sends is no
		// fallback case: it is refused, exit 4.
		{name: "invalid JSON", say: `list Infisical secrets at \S+: HTTP 200: invalid JSON in response`,
			setup: onServer(infisicaltest.RouteListV4, infisicaltest.InvalidJSON())},
		{name: "a secret without a name", say: `list Infisical secrets at \S+: HTTP 200: invalid response: a secret without a name`,
			setup: onServer(infisicaltest.RouteListV4, infisicaltest.NamelessSecret())},
	}

	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			say := regexp.MustCompile(f.say)
			if f.fallback {
				// The policy alone: --dry-run runs the Infisical phase and starts nothing.
				stack := faultStack(t)
				env, extra := f.setup(t)
				args := append([]string{"up", "--dry-run", "-C", stack, "-p", testenv.ProjectName(t), "--infisical-timeout", faultTimeout}, extra...)
				r := startsvc(t, env, args...)
				checkFaultRun(t, r, 0, stack)
				if !regexp.MustCompile(`WARNING: Infisical is unreachable, falling back to \.env: `).MatchString(r.out) {
					t.Errorf("no warning that Infisical is unreachable:\n%s", r.out)
				}
				if !say.MatchString(r.out) {
					t.Errorf("the output does not name the cause (%s):\n%s", f.say, r.out)
				}
				// The plan hands compose the stack's .env itself, not a merged file.
				if !strings.Contains(r.out, "--env-file "+filepath.Join(stack, ".env")+" ") || strings.Contains(r.out, secrets.FileName) {
					t.Errorf("the dry run does not use .env alone:\n%s", r.out)
				}
			}

			// The error (or, under --require-infisical, the refused fallback)
			// through a real up: exit 4 and not one container created.
			stack := faultStack(t)
			project := testenv.ProjectName(t)
			env, extra := f.setup(t)
			args := append([]string{"up", "-C", stack, "-p", project, "--infisical-timeout", faultTimeout}, extra...)
			if f.fallback {
				args = append(args, "--require-infisical")
			}
			r := startsvc(t, env, args...)
			checkFaultRun(t, r, 4, stack)
			if !say.MatchString(r.out) {
				t.Errorf("the error does not name the cause (%s):\n%s", f.say, r.out)
			}
			if f.fallback && !strings.Contains(r.out, "--require-infisical: no fallback to .env") {
				t.Errorf("the error does not say that --require-infisical refused the fallback:\n%s", r.out)
			}
			if !f.fallback && !strings.Contains(r.out, "nothing was started") {
				t.Errorf("the error does not say that nothing was started:\n%s", r.out)
			}
			if left, err := testenv.Services(project, true); err != nil || len(left) != 0 {
				t.Errorf("containers were created: %v (%v)", left, err)
			}
		})
	}
}

// TestRateLimitHonouredWithinBound checks the other side of 429: a wait that
// fits in --infisical-timeout is honoured, and the retry brings the values.
func TestRateLimitHonouredWithinBound(t *testing.T) {
	testenv.BuildFixtureImage(t)
	s := faultServer(t, false)
	s.FailNext(infisicaltest.RouteListV4, infisicaltest.RateLimited("1 second"))
	stack := faultStack(t)
	r := startsvc(t, identityEnv(s.URL, faultClientSecret),
		"up", "--dry-run", "-C", stack, "-p", testenv.ProjectName(t), "--infisical-timeout", "5s")
	checkFaultRun(t, r, 0, stack)
	if strings.Contains(r.out, "WARNING") {
		t.Errorf("a wait that fits in the bound still fell back:\n%s", r.out)
	}
	if !strings.Contains(r.out, "3 secrets from Infisical") {
		t.Errorf("the retry did not bring the values:\n%s", r.out)
	}
	if n := s.Calls(infisicaltest.RouteListV4); n != 2 {
		t.Errorf("%d listing calls, want 2 (one refused, one retried)", n)
	}
}
