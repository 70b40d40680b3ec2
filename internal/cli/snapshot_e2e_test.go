package cli_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/secrets"
	snapshots "github.com/startsvc/startsvc/internal/snapshot"
	"github.com/startsvc/startsvc/internal/testenv"
)

// snapshotValues are what a seeded snapshot holds: every hostile value, and
// values for the precedence probes that differ from .env's and Infisical's.
func snapshotValues() map[string]string {
	m := maps.Clone(testenv.Hostile)
	m["OVERRIDE"] = "override-from-snapshot"
	m["ONLY_INFISICAL"] = "only-in-snapshot-Rk39"
	return m
}

// seedSnapshot stores values as the snapshot startsvc would take with env in
// stack (the same settings resolution), fetched age ago, in the state
// directory state; it returns the snapshot's file.
func seedSnapshot(t *testing.T, state, stack string, env []string, values map[string]string, age time.Duration) string {
	t.Helper()
	st, ref := snapshotOf(t, state, stack, env)
	st.Now = func() time.Time { return time.Now().Add(-age) }
	if err := st.Save(ref, values); err != nil {
		t.Fatal(err)
	}
	return st.File(ref)
}

// snapshotOf is the store in state and the snapshot startsvc uses with env in stack.
func snapshotOf(t *testing.T, state, stack string, env []string) (*snapshots.Store, snapshots.Ref) {
	t.Helper()
	getenv := func(k string) string { return secrets.EnvMap(append([]string{"XDG_STATE_HOME=" + state}, env...))[k] }
	s, err := infisical.ResolveSettings(infisical.FlagValues{}, getenv, stack)
	if err != nil {
		t.Fatal(err)
	}
	ref, ok := snapshots.RefFor(s)
	if !ok {
		t.Fatal("no snapshot for these settings")
	}
	return snapshots.NewStore(getenv, time.Now), ref
}

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

// assertNothingOnDisk fails when a file below one of dirs holds one of values
// (at least 4 bytes), as it is or JSON-escaped; .env is the user's own.
func assertNothingOnDisk(t *testing.T, values map[string]string, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || d.Name() == ".env" {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for k, v := range values {
				esc, _ := json.Marshal(v)
				if len(v) >= secrets.MinMasked && (bytes.Contains(data, []byte(v)) || bytes.Contains(data, esc[1:len(esc)-1])) {
					t.Errorf("%s holds the value of %s in the clear", path, k)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestRefusedCredentialsDeleteTheSnapshot is issue 14's second promise, first
// half: 401 and 403 delete the identity's snapshot, and exit 4 as before.
func TestRefusedCredentialsDeleteTheSnapshot(t *testing.T) {
	testenv.BuildFixtureImage(t)
	for _, c := range []struct {
		name string
		env  func(s *infisicaltest.Server) (seed, run []string)
		say  string
	}{
		{name: "401 bad client secret", say: "HTTP 401: Invalid credentials", env: func(s *infisicaltest.Server) ([]string, []string) {
			return identityEnv(s.URL, faultClientSecret), identityEnv(s.URL, "revoked-client-secret-Hz05")
		}},
		{name: "403 expired token", say: "HTTP 403", env: func(s *infisicaltest.Server) ([]string, []string) {
			tok := s.IssueToken()
			s.ExpireToken(tok)
			env := []string{"INFISICAL_API_URL=" + s.URL, "INFISICAL_TOKEN=" + tok, "INFISICAL_PROJECT_ID=proj-1"}
			return env, env
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := faultServer(t, false)
			stack := faultStack(t)
			state := t.TempDir()
			seed, run := c.env(s)
			file := seedSnapshot(t, state, stack, seed, map[string]string{"DB_PASSWORD": faultRemotePass}, time.Hour)
			project := testenv.ProjectName(t)
			r := startsvc(t, append(run, "XDG_STATE_HOME="+state), "up", "-C", stack, "-p", project, "--infisical-timeout", faultTimeout)
			checkFaultRun(t, r, 4, stack)
			if !strings.Contains(r.out, c.say) || !strings.Contains(r.out, "deleted the encrypted snapshot") {
				t.Errorf("the output does not say %q and that the snapshot was deleted:\n%s", c.say, r.out)
			}
			if _, err := os.Stat(file); !os.IsNotExist(err) {
				t.Errorf("the snapshot is still there: %v", err)
			}
			if left, _ := testenv.Services(project, true); len(left) != 0 {
				t.Errorf("containers were created: %v", left)
			}
		})
	}
}

// TestAlteredOrForeignSnapshotIsRefused is the second half: a snapshot that
// was altered, or copied from another scope, is refused with a clear message
// and not used (.env is, with the usual warning); under --offline that is an
// error.
func TestAlteredOrForeignSnapshotIsRefused(t *testing.T) {
	testenv.RequireDocker(t)
	for _, c := range []struct {
		name  string
		spoil func(t *testing.T, state, stack string, env []string, file string)
		say   string
	}{
		{name: "a byte of the ciphertext changed", say: "it does not decrypt with this identity's credentials",
			spoil: func(t *testing.T, state, stack string, env []string, file string) {
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				var f map[string]any
				if err := json.Unmarshal(data, &f); err != nil {
					t.Fatal(err)
				}
				ct, err := base64.StdEncoding.DecodeString(f["ciphertext"].(string))
				if err != nil {
					t.Fatal(err)
				}
				ct[len(ct)/2] ^= 0x01
				f["ciphertext"] = base64.StdEncoding.EncodeToString(ct)
				data, _ = json.Marshal(f)
				if err := os.WriteFile(file, data, 0o600); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "another project's snapshot copied over it", say: "it was made for another scope or identity",
			spoil: func(t *testing.T, state, stack string, env []string, file string) {
				other := seedSnapshot(t, state, stack, append(env, "INFISICAL_PROJECT_ID=proj-other"), snapshotValues(), time.Hour)
				if err := os.Rename(other, file); err != nil {
					t.Fatal(err)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			stack := faultStack(t)
			state := t.TempDir()
			env := append(identityEnv("http://"+closedPort(t), faultClientSecret), "XDG_STATE_HOME="+state)
			file := seedSnapshot(t, state, stack, env, map[string]string{"DB_PASSWORD": faultRemotePass, "API_KEY": faultRemoteAPIKey}, time.Hour)
			c.spoil(t, state, stack, env, file)
			r := startsvc(t, env, "up", "--dry-run", "-C", stack, "-p", testenv.ProjectName(t), "--infisical-timeout", faultTimeout)
			checkFaultRun(t, r, 0, stack)
			if !regexp.MustCompile(`WARNING: snapshot [0-9a-f]{12} refused: ` + regexp.QuoteMeta(c.say) + `.*; not used \(` +
				"`startsvc snapshot delete [0-9a-f]{12}` removes it\\)").MatchString(r.out) {
				t.Errorf("no clear refusal (%q):\n%s", c.say, r.out)
			}
			if !strings.Contains(r.out, "WARNING: Infisical is unreachable, falling back to .env") ||
				!strings.Contains(r.out, "--env-file "+filepath.Join(stack, ".env")+" ") {
				t.Errorf("the refused snapshot was not replaced by .env:\n%s", r.out)
			}
			r = startsvc(t, env, "up", "--dry-run", "-C", stack, "-p", testenv.ProjectName(t), "--offline")
			if r.code != 4 || !strings.Contains(r.out, "--offline: snapshot ") || !strings.Contains(r.out, c.say) {
				t.Errorf("--offline with a refused snapshot: exit %d, want 4 saying why:\n%s", r.code, r.out)
			}
		})
	}
}

// TestInStackStartsWithTheSnapshot is issue 14's fourth promise: with
// Infisical inside the stack, the stage that starts it gets the snapshot's
// values instead of stand-ins — here a variable only Infisical has, which
// without a snapshot stops the run — and the later stages get the values
// fetched once it answers.
func TestInStackStartsWithTheSnapshot(t *testing.T) {
	testenv.BuildFixtureImage(t)
	srv := fakeInfisical(t, infisicaltest.V4)
	srv.SetSecret("proj-1", "dev", "/", "APP_SECRET", "app-secret-from-infisical")
	srv.SetSecret("proj-1", "dev", "/", "EARLY_SECRET", "early-secret-from-infisical")
	var early strings.Builder
	for k := range testenv.Hostile {
		early.WriteString("      " + k + ": ${" + k + "}\n")
	}
	stack := writeStack(t, `services:
  infisical:
    image: `+testenv.FixtureImage+`
    environment:
      EARLY_SECRET: ${EARLY_SECRET:?only Infisical has it}
`+early.String()+`    healthcheck:
      test: ["CMD", "/fixture", "health"]
      interval: 1s
      start_period: 60s
  app:
    image: `+testenv.FixtureImage+`
    environment:
      APP_SECRET: ${APP_SECRET:?set by Infisical}
      EARLY_SECRET: ${EARLY_SECRET}
`)
	stages := "stages:\n  - name: secrets\n    when: infisical-in-stack\n    services: [infisical]\n    ready_url: " + srv.URL +
		"/api/status\n    fetch_secrets: true\n  - name: apps\n    services: [\"*\"]\n"
	if err := os.WriteFile(filepath.Join(stack, "stages.yml"), []byte(stages), 0o644); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	env := append(infisicalEnv(srv, "client-secret-value-1"), "XDG_STATE_HOME="+state)
	project := testenv.ProjectName(t)

	// Without a snapshot the first stage could only get a stand-in: refused.
	r := startsvc(t, env, "up", "-C", stack, "-p", project)
	if r.code != 2 || !strings.Contains(r.out, "EARLY_SECRET") {
		t.Fatalf("without a snapshot: exit %d, want 2 naming EARLY_SECRET:\n%s", r.code, r.out)
	}

	snap := maps.Clone(testenv.Hostile)
	snap["EARLY_SECRET"] = "early-secret-from-snapshot-\"$x'\n"
	snap["APP_SECRET"] = "app-secret-from-snapshot"
	seedSnapshot(t, state, stack, env, snap, 3*time.Hour)
	r = startsvc(t, env, "up", "-C", stack, "-p", project, "-v")
	if r.code != 0 {
		t.Fatalf("up exited %d:\n%s", r.code, r.out)
	}
	said := strings.Index(r.out, "until the in-stack Infisical answers, compose gets the snapshot of its secrets taken 3h")
	first := strings.Index(r.out, "stage 1/2 secrets")
	fetched := strings.Index(r.out, "secrets from Infisical")
	second := strings.Index(r.out, "stage 2/2 apps")
	if said < 0 || first < said || fetched < first || second < fetched {
		t.Errorf("want the snapshot announced, the secrets stage, the fetch, then the apps stage:\n%s", r.out)
	}
	inf, err := testenv.ContainerEnv(project, "infisical")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range snap {
		if k != "APP_SECRET" && inf[k] != want {
			t.Errorf("the first stage did not get %s from the snapshot byte for byte (%d bytes, want %d)", k, len(inf[k]), len(want))
		}
	}
	for k, v := range inf {
		if strings.Contains(v, "startsvc-pending-infisical") {
			t.Errorf("the first stage got a stand-in in %s", k)
		}
	}
	app, err := testenv.ContainerEnv(project, "app")
	if err != nil {
		t.Fatal(err)
	}
	if app["APP_SECRET"] != "app-secret-from-infisical" || app["EARLY_SECRET"] != "early-secret-from-infisical" {
		t.Errorf("the later stage did not get the fetched values (APP_SECRET %d bytes, EARLY_SECRET %d bytes)", len(app["APP_SECRET"]), len(app["EARLY_SECRET"]))
	}
	hidden := maps.Clone(snap)
	hidden["fetched APP_SECRET"], hidden["fetched EARLY_SECRET"] = "app-secret-from-infisical", "early-secret-from-infisical"
	assertNoValues(t, r.out, hidden)
	assertNothingOnDisk(t, hidden, state, stack)
	// The fetch renewed the snapshot: it now holds Infisical's values.
	st, ref := snapshotOf(t, state, stack, env)
	renewed, err := st.Load(ref)
	if err != nil || renewed.Values["APP_SECRET"] != "app-secret-from-infisical" || renewed.Age(time.Now()) > time.Hour {
		t.Errorf("the snapshot was not renewed by the fetch (%v)", err)
	}
}

// TestSnapshotCommand is issue 14's fifth promise: `snapshot` lists scope,
// age, key count and state, never a value, in the table and in --json; and
// deletes one or all.
func TestSnapshotCommand(t *testing.T) {
	stack := faultStack(t)
	state := t.TempDir()
	env := append(identityEnv("https://infisical.example", faultClientSecret), "XDG_STATE_HOME="+state)
	values := snapshotValues()
	values["CANARY"] = "snapcmd-canary-Tz82"
	fresh := seedSnapshot(t, state, stack, env, values, 90*time.Minute)
	staging := append(slicesClone(env), "INFISICAL_PROJECT_ID=proj-staging")
	old := seedSnapshot(t, state, stack, staging, map[string]string{"ONE": "one-value-Wq11"}, 100*time.Hour)
	if err := os.WriteFile(filepath.Join(state, "startsvc", "snapshots", "00badf00d.snapshot"), []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	hidden := maps.Clone(values)
	hidden["ONE"], hidden["client secret"] = "one-value-Wq11", faultClientSecret

	r := startsvc(t, env, "snapshot")
	if r.code != 0 {
		t.Fatalf("snapshot exited %d:\n%s", r.code, r.out)
	}
	rows := map[string]*regexp.Regexp{
		"fresh":      regexp.MustCompile(`(?m)^[0-9a-f]{12}\s+https://infisical\.example\s+proj-1\s+dev\s+/\s+1h3\dm\s+` + strconv.Itoa(len(values)) + `\s+usable$`),
		"expired":    regexp.MustCompile(`(?m)^[0-9a-f]{12}\s+https://infisical\.example\s+proj-staging\s+dev\s+/\s+4d04h\s+1\s+expired$`),
		"unreadable": regexp.MustCompile(`(?m)^00badf00d\s+(-\s+){6}unreadable: `),
	}
	for what, re := range rows {
		if !re.MatchString(r.out) {
			t.Errorf("the list has no %s row (%s):\n%s", what, re, r.out)
		}
	}
	assertNoValues(t, r.out, hidden)

	if l := startsvc(t, env, "snapshot", "list"); l.out != r.out {
		t.Errorf("snapshot list differs from snapshot:\n%s", l.out)
	}
	r = startsvc(t, env, "snapshot", "list", "--json")
	var doc struct {
		Directory string `json:"directory"`
		Snapshots []struct {
			ID, Server, Project, Environment, Path, State string
			Keys                                          int
			AgeSeconds                                    int64 `json:"age_seconds"`
		} `json:"snapshots"`
	}
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil || r.code != 0 {
		t.Fatalf("snapshot --json: exit %d, %v:\n%s", r.code, err, r.out)
	}
	if len(doc.Snapshots) != 3 || doc.Directory != filepath.Join(state, "startsvc", "snapshots") {
		t.Fatalf("snapshot --json: %d snapshots in %s, want 3 in the state directory", len(doc.Snapshots), doc.Directory)
	}
	states := map[string]int{}
	for _, s := range doc.Snapshots {
		states[s.State]++
		if s.Project == "proj-1" && (s.Keys != len(values) || s.AgeSeconds < 5400 || s.AgeSeconds > 5400+600) {
			t.Errorf("snapshot --json: proj-1 has %d keys, age %ds; want %d keys, about 5400s", s.Keys, s.AgeSeconds, len(values))
		}
	}
	if states["usable"] != 1 || states["expired"] != 1 || states["unreadable"] != 1 {
		t.Errorf("snapshot --json states: %v", states)
	}
	assertNoValues(t, r.out, hidden)

	id := strings.TrimSuffix(filepath.Base(old), ".snapshot")
	r = startsvc(t, env, "snapshot", "delete", id[:8])
	if r.code != 0 || !strings.Contains(r.out, "deleted snapshot "+id[:12]+" (proj-staging dev:/ at https://infisical.example)") {
		t.Errorf("snapshot delete: exit %d:\n%s", r.code, r.out)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the deleted snapshot is still there")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("snapshot delete removed another snapshot too: %v", err)
	}
	if r = startsvc(t, env, "snapshot", "delete"); r.code != 2 {
		t.Errorf("snapshot delete without an id: exit %d, want 2:\n%s", r.code, r.out)
	}
	r = startsvc(t, env, "snapshot", "delete", "--all")
	if r.code != 0 || !strings.Contains(r.out, "deleted 2 snapshots") {
		t.Errorf("snapshot delete --all: exit %d:\n%s", r.code, r.out)
	}
	if entries, _ := os.ReadDir(filepath.Join(state, "startsvc", "snapshots")); len(entries) != 0 {
		t.Errorf("%d files left after delete --all", len(entries))
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }
