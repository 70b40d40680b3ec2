package cli_test

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

// TestSnapshotCoversUnreachableInfisical is issue 14's first promise: for
// every way Infisical can be unreachable, a snapshot younger than --max-stale
// gives the containers its values byte for byte, with a warning naming the
// cause and the snapshot's age; an expired one is not used: .env, with a
// warning that says so.
func TestSnapshotCoversUnreachableInfisical(t *testing.T) {
	testenv.BuildFixtureImage(t)
	type fault struct {
		name  string
		setup func(t *testing.T) []string
		cause string // the output names it
	}
	onServer := func(route string, f infisicaltest.Fault) func(t *testing.T) []string {
		return func(t *testing.T) []string {
			s := faultServer(t, false)
			s.FailAlways(route, f)
			return identityEnv(s.URL, faultClientSecret)
		}
	}
	faults := []fault{
		{name: "connection refused", cause: `connection refused`,
			setup: func(t *testing.T) []string { return identityEnv("http://"+closedPort(t), faultClientSecret) }},
		{name: "DNS failure", cause: `infisical\.startsvc-fault\.invalid.*(no such host|server misbehaving|no answer in time)`,
			setup: func(t *testing.T) []string {
				return identityEnv("http://infisical.startsvc-fault.invalid", faultClientSecret)
			}},
		{name: "untrusted TLS certificate", cause: `certificate`,
			setup: func(t *testing.T) []string { return identityEnv(faultServer(t, true).URL, faultClientSecret) }},
		{name: "timeout", cause: `log in to Infisical at \S+: no answer in time`,
			setup: onServer(infisicaltest.RouteLogin, infisicaltest.HangBeforeHeaders())},
		{name: "HTTP 500", cause: `HTTP 500: Something went wrong \(after \d+ attempts\)`,
			setup: onServer(infisicaltest.RouteListV4, infisicaltest.Status(500))},
		{name: "HTTP 502 at login", cause: `HTTP 502: Bad Gateway`,
			setup: onServer(infisicaltest.RouteLogin, infisicaltest.Status(502))},
		{name: "HTTP 429", cause: `HTTP 429: Rate limit exceeded\. Please try again in 1 minute`,
			setup: onServer(infisicaltest.RouteListV4, infisicaltest.RateLimited("1 minute"))},
	}
	values := snapshotValues()
	hidden := maps.Clone(values)
	hidden["client secret"] = faultClientSecret
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			cause := regexp.MustCompile(f.cause)
			for _, c := range []struct {
				name     string
				age      time.Duration
				say      *regexp.Regexp
				override string
			}{
				{name: "fresh", age: 2*time.Hour + 10*time.Minute, override: "override-from-snapshot",
					say: regexp.MustCompile(`WARNING: Infisical is unreachable, using the snapshot of its secrets taken 2h\d\dm ago \(\d+ secrets, [^;]+; --max-stale 72h\): `)},
				{name: "expired", age: 100 * time.Hour, override: "override-from-dotenv",
					say: regexp.MustCompile(`(?s)WARNING: the snapshot of Infisical's secrets was taken 4d04h ago, longer than --max-stale 72h: expired, not used.*` +
						`WARNING: Infisical is unreachable, falling back to \.env: `)},
			} {
				stack := secretStack(t, precedenceEnv+"ONLY_INFISICAL=dotenv-placeholder\n")
				state := t.TempDir()
				env := append(f.setup(t), "XDG_STATE_HOME="+state)
				seedSnapshot(t, state, stack, env, values, c.age)
				project := testenv.ProjectName(t)
				r := startsvc(t, env, "up", "-C", stack, "-p", project, "--infisical-timeout", faultTimeout)
				// A whole up, containers included, on a machine that may be
				// busy: no bound on its duration here (TestInfisicalFaults
				// bounds the Infisical phase).
				if r.code != 0 {
					t.Fatalf("%s snapshot: exit %d, want 0:\n%s", c.name, r.code, r.out)
				}
				assertNoValues(t, r.out, faultValues)
				if _, err := os.Stat(filepath.Join(stack, secrets.FileName)); !os.IsNotExist(err) {
					t.Errorf("%s is left in the stack directory", secrets.FileName)
				}
				if !c.say.MatchString(r.out) || !cause.MatchString(r.out) {
					t.Errorf("%s snapshot: the output does not say %q naming the cause (%s):\n%s", c.name, c.say, f.cause, r.out)
				}
				assertNoValues(t, r.out, hidden)
				got, err := testenv.ContainerEnv(project, "app")
				if err != nil {
					t.Fatal(err)
				}
				if c.name == "fresh" {
					for k, want := range values {
						if got[k] != want {
							t.Errorf("%s does not arrive byte for byte from the snapshot (got %d bytes, want %d)", k, len(got[k]), len(want))
						}
					}
				} else if got["ONLY_INFISICAL"] != "dotenv-placeholder" {
					t.Errorf("with an expired snapshot ONLY_INFISICAL is not .env's")
				}
				if got["OVERRIDE"] != c.override || got["PLAIN"] != "plain-setting" {
					t.Errorf("%s snapshot: OVERRIDE=%q PLAIN=%q, want %q and plain-setting", c.name, got["OVERRIDE"], got["PLAIN"], c.override)
				}
			}
		})
	}
}

// TestSnapshotLifecycle follows one snapshot through real runs: taken by a
// successful up (0600 in a 0700 directory, no value in the clear in the state
// or the stack directory), used when the server is gone, refused under
// --require-infisical, used by --offline without a server, listed by
// `snapshot` without a value.
func TestSnapshotLifecycle(t *testing.T) {
	testenv.BuildFixtureImage(t)
	srv := fakeInfisical(t, infisicaltest.V4)
	canaries := map[string]string{"CANARY_ONE": "snapcanary-one-Qm38xT", "CANARY_TWO": "snapcanary-two-Lp61wB"}
	for k, v := range canaries {
		srv.SetSecret("proj-1", "dev", "/", k, v)
	}
	stack := secretStack(t, precedenceEnv)
	state := t.TempDir()
	env := append(infisicalEnv(srv, "client-secret-value-1"), "XDG_STATE_HOME="+state)
	project := testenv.ProjectName(t)
	hidden := map[string]string{"client secret": "client-secret-value-1", "OVERRIDE": "override-from-infisical", "ONLY_INFISICAL": "only-in-infisical-value"}
	maps.Copy(hidden, canaries)
	maps.Copy(hidden, testenv.Hostile)

	r := startsvc(t, env, "up", "-C", stack, "-p", project, "-v")
	if r.code != 0 {
		t.Fatalf("up exited %d:\n%s", r.code, r.out)
	}
	st, ref := snapshotOf(t, state, stack, env)
	fi, err := os.Stat(st.File(ref))
	if err != nil {
		t.Fatalf("no snapshot after a successful fetch: %v\n%s", err, r.out)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("snapshot mode %v, want 0600", fi.Mode().Perm())
	}
	if di, err := os.Stat(st.Dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("snapshot directory: %v, want mode 0700", err)
	}
	assertNothingOnDisk(t, hidden, state, stack)
	srv.Close()

	// Infisical gone: the snapshot, byte for byte.
	r = startsvc(t, env, "up", "-C", stack, "-p", project)
	if r.code != 0 || !regexp.MustCompile(`WARNING: Infisical is unreachable, using the snapshot of its secrets taken \d+[sm] ago`).MatchString(r.out) {
		t.Fatalf("up without the server: exit %d, want 0 with the snapshot:\n%s", r.code, r.out)
	}
	got, err := testenv.ContainerEnv(project, "app")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range testenv.Hostile {
		if got[k] != want {
			t.Errorf("%s does not arrive byte for byte from the snapshot", k)
		}
	}
	if got["OVERRIDE"] != "override-from-infisical" {
		t.Errorf("OVERRIDE is not the snapshot's")
	}
	assertNoValues(t, r.out, hidden)

	// --require-infisical refuses it; --offline needs no server.
	r = startsvc(t, env, "up", "-C", stack, "-p", project, "--require-infisical")
	if r.code != 4 || !strings.Contains(r.out, "--require-infisical: no fallback") {
		t.Errorf("--require-infisical with a snapshot: exit %d, want 4:\n%s", r.code, r.out)
	}
	r = startsvc(t, env, "up", "-C", stack, "-p", project, "--offline")
	if r.code != 0 || !strings.Contains(r.out, "Infisical was not contacted") || strings.Contains(r.out, "WARNING") {
		t.Errorf("--offline: exit %d, want 0 saying Infisical was not contacted, without a warning:\n%s", r.code, r.out)
	}
	if got, _ := testenv.ContainerEnv(project, "app"); got["H_NEWLINE"] != testenv.Hostile["H_NEWLINE"] {
		t.Errorf("--offline: H_NEWLINE is not the snapshot's")
	}
	r = startsvc(t, env, "up", "-C", stack, "-p", project, "--offline", "--max-stale", "1ms")
	if r.code != 4 || !strings.Contains(r.out, "longer than --max-stale 1ms") {
		t.Errorf("--offline with an expired snapshot: exit %d, want 4 saying why:\n%s", r.code, r.out)
	}
	keys := strconv.Itoa(len(hidden) - 1) // every value but the client secret
	for _, c := range []struct {
		args []string
		want *regexp.Regexp
	}{
		{[]string{"snapshot", "-v"}, regexp.MustCompile(`proj-1\s+dev\s+/\s+\S+\s+` + keys + `\s+usable\n`)},
		{[]string{"snapshot", "--json"}, regexp.MustCompile(`"project": "proj-1",(.|\n)*"keys": ` + keys + `,`)},
	} {
		r = startsvc(t, env, c.args...)
		if r.code != 0 || !c.want.MatchString(r.out) {
			t.Errorf("%v: exit %d, want the snapshot with its %s keys:\n%s", c.args, r.code, keys, r.out)
		}
		assertNoValues(t, r.out, hidden)
	}
	assertNothingOnDisk(t, hidden, state, stack)
	if _, err := os.Stat(filepath.Join(stack, secrets.FileName)); !os.IsNotExist(err) {
		t.Errorf("%s left behind", secrets.FileName)
	}
}
