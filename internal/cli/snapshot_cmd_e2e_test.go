package cli_test

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/testenv"
)

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
	stages := inStackStages(srv.URL)
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
