package cli

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
)

// setupKeys are the keys setup writes, in the order it records them.
var setupKeys = []string{keyAdminEmail, keyAdminPassword, keyAPIURL, keyProjectID, keyIdentityID, keyClientID, keyClientSecret}

// TestSetupFailsAtEachStepAndContinues is issue 16's fourth promise: a failure
// at any step — the server refusing the call, or applying it and losing the
// answer — leaves .env as it was or with the finished steps recorded (never a
// client id without its secret, which would stop every other command), says
// which step failed, shows no value, and the next run finishes without
// creating anything twice.
func TestSetupFailsAtEachStepAndContinues(t *testing.T) {
	admin := []string{keyAdminEmail, keyAdminPassword, keyAPIURL}
	for _, c := range []struct {
		name  string
		route string
		after bool     // the server applies the call, then answers 500
		step  string   // what the error names
		holds []string // the setup keys .env holds after the failure
	}{
		{"bootstrap", infisicaltest.RouteBootstrap, false, "bootstrap the Infisical instance", admin},
		{"bootstrap, answer lost", infisicaltest.RouteBootstrap, true, "bootstrap the Infisical instance", admin},
		{"create project", infisicaltest.RouteCreateProject, false, "create the Infisical project", admin},
		{"create project, answer lost", infisicaltest.RouteCreateProject, true, "create the Infisical project", admin},
		{"create identity", infisicaltest.RouteCreateIdentity, false, "create the machine identity", setupKeys[:4]},
		{"attach universal auth", infisicaltest.RouteAttachUniversal, false, "attach universal auth", setupKeys[:5]},
		{"attach universal auth, answer lost", infisicaltest.RouteAttachUniversal, true, "attach universal auth", setupKeys[:5]},
		{"add to project", infisicaltest.RouteAddMembership, false, "add the machine identity", setupKeys[:5]},
		{"add to project, answer lost", infisicaltest.RouteAddMembership, true, "add the machine identity", setupKeys[:5]},
		{"create client secret", infisicaltest.RouteCreateClientSecret, false, "create a client secret", setupKeys[:5]},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := infisicaltest.New()
			t.Cleanup(srv.Close)
			dir, envPath := setupStack(t)
			if c.after {
				srv.FailNextAfterApply(c.route)
			} else {
				srv.FailNext(c.route, infisicaltest.Status(500))
			}
			r := invoke(t, dir, nil, setupArgs(srv, dir)...)
			if r.code != 4 {
				t.Fatalf("exit %d, want 4:\n%s", r.code, r.stderr)
			}
			for _, s := range []string{c.step, "HTTP 500", ".env holds what is done so far"} {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("the error does not say %q:\n%s", s, r.stderr)
				}
			}
			vals := readEnv(t, envPath)
			var holds []string
			for _, k := range setupKeys {
				if vals[k] != "" {
					holds = append(holds, k)
				}
			}
			if !slices.Equal(holds, c.holds) {
				t.Errorf(".env holds %v, want %v", holds, c.holds)
			}
			if data, _ := os.ReadFile(envPath); !bytes.HasPrefix(data, []byte(setupEnv)) {
				t.Errorf("the lines that were there changed")
			}
			assertHidden(t, r.stdout+r.stderr, setupValues(t, envPath))
			assertNoToken(t, r.stdout+r.stderr)

			// Every other command still runs: .env is consistent.
			if r := invoke(t, dir, nil, "export", "-C", dir, "--format", "json"); r.code != 0 {
				t.Errorf("export after the failure exited %d:\n%s", r.code, r.stderr)
			}

			r = invoke(t, dir, nil, setupArgs(srv, dir)...)
			if r.code != 0 || !strings.Contains(r.stderr, "through the new machine identity") {
				t.Fatalf("the next run exited %d:\n%s", r.code, r.stderr)
			}
			wantOneOfEach(t, srv)
			assertHidden(t, r.stdout+r.stderr, setupValues(t, envPath))
			assertNoToken(t, r.stdout+r.stderr)
		})
	}
}

// TestSetupWaitsForInfisical: a server that does not answer its status route
// within --wait-timeout stops setup before anything changes; one that answers
// late is waited for.
func TestSetupWaitsForInfisical(t *testing.T) {
	srv := infisicaltest.New()
	t.Cleanup(srv.Close)
	dir, envPath := setupStack(t)
	srv.FailAlways(infisicaltest.RouteStatus, infisicaltest.Status(503))
	args := append(setupArgs(srv, dir), "--wait-timeout", "1500ms")
	r := invoke(t, dir, nil, args...)
	if r.code != 4 || !strings.Contains(r.stderr, "did not answer in time") || !strings.Contains(r.stderr, ".env is unchanged") {
		t.Fatalf("exit %d, want 4 and a timeout that changed nothing:\n%s", r.code, r.stderr)
	}
	if data, _ := os.ReadFile(envPath); string(data) != setupEnv {
		t.Errorf(".env changed")
	}
	if n := len(srv.AdminLog()); n != 0 {
		t.Errorf("%d admin calls before Infisical answered", n)
	}

	srv.ClearFaults()
	srv.FailNext(infisicaltest.RouteStatus, infisicaltest.Status(503), infisicaltest.Status(503), infisicaltest.Status(503))
	if r := invoke(t, dir, nil, setupArgs(srv, dir)...); r.code != 0 {
		t.Fatalf("setup against a server that answers late exited %d:\n%s", r.code, r.stderr)
	}
	wantOneOfEach(t, srv)
}

// parseSetup parses args the way Execute would for infisical setup and
// returns the options the flags filled.
func parseSetup(t *testing.T, args ...string) (*setupOptions, error) {
	t.Helper()
	o := &setupOptions{}
	return o, parseCommand(args, func(d *deps, g *globalOptions) (*cobra.Command, func() error) {
		o.global = g
		return setupCommand(d, o), o.validate
	})
}

func TestSetupFlags(t *testing.T) {
	for _, c := range []struct {
		name  string
		args  []string
		check func(*setupOptions) bool
		err   string
	}{
		{name: "defaults from the compose project", check: func(o *setupOptions) bool {
			return o.projectSlug == "localai" && o.organization == "localai" && o.identityName == "startsvc-localai" &&
				o.adminEmail == "" && !o.migrate
		}},
		{name: "a short project name gets a valid slug", args: []string{"-p", "ai"}, check: func(o *setupOptions) bool {
			return o.projectSlug == "ai-stack"
		}},
		{name: "underscores and length", args: []string{"-p", "my_very_long_compose_project_name_for_testing"}, check: func(o *setupOptions) bool {
			return o.projectSlug == "my-very-long-compose-project-name-fo" && slugPattern.MatchString(o.projectSlug)
		}},
		{name: "everything", args: []string{"--admin-email", "a@b.c", "--organization", "Acme", "--project-slug", "my-stack",
			"--identity-name", "ci", "--migrate"}, check: func(o *setupOptions) bool {
			return o.adminEmail == "a@b.c" && o.organization == "Acme" && o.projectSlug == "my-stack" && o.identityName == "ci" && o.migrate
		}},
		{name: "bad slug", args: []string{"--project-slug", "My_Stack"}, err: "--project-slug"},
		{name: "short slug", args: []string{"--project-slug", "abc"}, err: "5 to 36"},
		{name: "bad e-mail", args: []string{"--admin-email", "nobody"}, err: "not an e-mail address"},
		{name: "dry run", args: []string{"--dry-run"}, err: "no dry run"},
		{name: "skip-infisical", args: []string{"--skip-infisical"}, err: "talks to Infisical"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, err := parseSetup(t, c.args...)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(o) {
				t.Errorf("options not as expected: %+v", *o)
			}
		})
	}
}
