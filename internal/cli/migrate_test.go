package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/secrets"
)

// testValues are the secrets of TestMigrateInProcess, which no output may show.
var testValues = []string{"pw-abcdef-123", "padded-value", "csecret-value-1", "wrong-value-1"}

// parseMigrate parses args the way Execute would for the migrate command and
// returns the options the flags filled.
func parseMigrate(t *testing.T, args ...string) (*migrateOptions, error) {
	t.Helper()
	o := &migrateOptions{}
	return o, parseCommand(args, func(d *deps, g *globalOptions) (*cobra.Command, func() error) {
		o.global = g
		return migrateCommand(d, o), o.validate
	})
}

// parseCommand parses args the way Execute would for the subcommand that
// command makes, under the root command (whose flags it inherits), then
// validates the global options and the subcommand's own.
func parseCommand(args []string, command func(*deps, *globalOptions) (*cobra.Command, func() error)) error {
	g := &globalOptions{}
	d := &deps{env: Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}}
	root := newRoot(d, g)
	cmd, validate := command(d, g)
	root.AddCommand(cmd)
	if err := cmd.ParseFlags(args); err != nil {
		return err
	}
	if err := g.validate(); err != nil {
		return err
	}
	return validate()
}

func TestMigrateFlags(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		check func(*migrateOptions) bool
		err   string
	}{
		{name: "a dry run by default", check: func(o *migrateOptions) bool {
			return !o.apply && !o.overwrite && len(o.move) == 0 && len(o.keep) == 0 && o.batchSize == 100 &&
				o.global.EnvFile == ".env" && o.global.Dir == "."
		}},
		{name: "everything", args: []string{"--apply", "--overwrite", "--move", "A", "--move", "B,C", "--keep", "D",
			"--batch-size", "7", "-C", "stack", "--env-file", "prod.env", "--infisical-env", "prod", "--secret-path", "/app"},
			check: func(o *migrateOptions) bool {
				return o.apply && o.overwrite && strings.Join(o.move, " ") == "A B C" && strings.Join(o.keep, " ") == "D" &&
					o.batchSize == 7 && o.global.Dir == "stack" && o.global.EnvFile == "prod.env" &&
					o.global.InfisicalEnv == "prod" && o.global.SecretPath == "/app"
			}},
		{name: "apply and dry-run", args: []string{"--apply", "--dry-run"}, err: "contradict"},
		{name: "skip-infisical", args: []string{"--skip-infisical"}, err: "writes to Infisical"},
		{name: "recursive", args: []string{"--recursive"}, err: "one folder"},
		{name: "batch size", args: []string{"--batch-size", "0"}, err: "at least 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := parseMigrate(t, c.args...)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err) // flag errors hold no value
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(o) {
				t.Errorf("options not as expected: move %v keep %v apply %v", o.move, o.keep, o.apply)
			}
		})
	}
}

// TestMigrateInProcess runs the command through Main against the fake server:
// the exit codes of the ways it refuses, and a dry run that changes nothing.
func TestMigrateInProcess(t *testing.T) {
	srv := infisicaltest.New()
	t.Cleanup(srv.Close)
	srv.AddProject("proj-1", "dev")
	srv.AddIdentity("cid-1", "csecret-value-1")
	creds := []string{"INFISICAL_API_URL=" + srv.URL, "INFISICAL_CLIENT_ID=cid-1",
		"INFISICAL_CLIENT_SECRET=csecret-value-1", "INFISICAL_PROJECT_ID=proj-1"}
	const dotenv = "DB_HOST=db\nDB_PASSWORD=pw-abcdef-123\nPADDED_SECRET=\" padded-value\"\n"
	for _, c := range []struct {
		name    string
		environ []string
		args    []string
		code    int
		say     string
	}{
		{"dry run", creds, nil, exitcode.OK, "--apply would refuse: PADDED_SECRET"},
		{"apply refuses a value Infisical trims", creds, []string{"--apply"}, exitcode.Usage, "PADDED_SECRET: the value starts or ends with white space"},
		{"not configured", nil, nil, exitcode.Infisical, "needs machine credentials"},
		{"bad secret", append(creds[:2:2], "INFISICAL_CLIENT_SECRET=wrong-value-1", creds[3]), nil, exitcode.Infisical, "Invalid credentials"},
		{"unknown key", creds, []string{"--move", "NOPE"}, exitcode.Usage, "has no NOPE"},
		{"no env file", creds, []string{"--env-file", "missing.env"}, exitcode.Usage, "does not exist"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, ".env")
			if err := os.WriteFile(path, []byte(dotenv), 0o600); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour)
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
			srv.ResetCalls()
			var out bytes.Buffer
			code := Main(context.Background(), Env{Args: append([]string{"migrate"}, c.args...), Environ: c.environ,
				Stdout: &out, Stderr: &out, Dir: dir})
			if code != c.code {
				t.Errorf("exit %d, want %d:\n%s", code, c.code, secrets.NewRedactor(testValues...).String(out.String()))
			}
			if !strings.Contains(out.String(), c.say) {
				t.Errorf("output does not say %q:\n%s", c.say, secrets.NewRedactor(testValues...).String(out.String()))
			}
			for _, v := range testValues {
				if strings.Contains(out.String(), v) {
					t.Errorf("a value appears in the output")
				}
			}
			if data, _ := os.ReadFile(path); string(data) != dotenv {
				t.Errorf(".env changed")
			}
			if st, _ := os.Stat(path); !st.ModTime().Equal(old) {
				t.Errorf(".env was touched")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("%d files in the stack directory, want only .env", len(entries))
			}
			for _, route := range []string{infisicaltest.RouteCreateBatch, infisicaltest.RouteUpdateBatch, infisicaltest.RouteCreateSecret,
				infisicaltest.RouteUpdateSecret, infisicaltest.RouteCreateFolder} {
				if n := srv.Calls(route); n != 0 {
					t.Errorf("%d calls to %s", n, route)
				}
			}
		})
	}
}
