package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/exitcode"
)

// parse runs cobra's flag parsing for args the way Execute would, without
// running the command.
func parse(t *testing.T, environ []string, args ...string) (*globalOptions, string, error) {
	t.Helper()
	g := &globalOptions{}
	d := &deps{env: Env{Environ: environ, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}}
	root := newRoot(d, g)
	cmd, rest, err := root.Find(args)
	if err != nil {
		return g, "", err
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return g, cmd.Name(), err
	}
	g.profileSet = cmd.Flags().Changed("profile")
	return g, cmd.Name(), g.validate()
}

func TestFlags(t *testing.T) {
	cases := []struct {
		name    string
		environ []string
		args    []string
		cmd     string
		check   func(*globalOptions) bool
		errWant string
	}{
		{name: "defaults", args: nil, cmd: "startsvc", check: func(g *globalOptions) bool {
			return g.Dir == "." && g.Project == "localai" && g.Profile == "cpu" && !g.profileSet && g.Environment == "private" &&
				g.EnvFile == ".env" && g.SecretsVia == "file" && g.WaitTimeout == 5*time.Minute && len(g.Files) == 0
		}},
		{name: "the original's flags", args: []string{"--profile", "gpu-nvidia", "--environment", "public"}, cmd: "startsvc",
			check: func(g *globalOptions) bool {
				return g.Profile == "gpu-nvidia" && g.profileSet && g.Environment == "public"
			}},
		{name: "project from COMPOSE_PROJECT_NAME", environ: []string{"COMPOSE_PROJECT_NAME=mine"}, cmd: "startsvc",
			check: func(g *globalOptions) bool { return g.Project == "mine" }},
		{name: "flag beats COMPOSE_PROJECT_NAME", environ: []string{"COMPOSE_PROJECT_NAME=mine"}, args: []string{"-p", "other"}, cmd: "startsvc",
			check: func(g *globalOptions) bool { return g.Project == "other" }},
		{name: "repeatable -f and -C after the command", args: []string{"up", "-f", "a.yml", "--file", "b.yml", "-C", "/srv/stack"}, cmd: "up",
			check: func(g *globalOptions) bool {
				return strings.Join(g.Files, ",") == "a.yml,b.yml" && g.Dir == "/srv/stack"
			}},
		{name: "compose binary from the environment", environ: []string{"STARTSVC_COMPOSE=/opt/dc"}, args: []string{"down"}, cmd: "down",
			check: func(g *globalOptions) bool { return g.Compose == "/opt/dc" }},
		{name: "skip and require contradict", args: []string{"--skip-infisical", "--require-infisical"}, errWant: "contradict"},
		{name: "bad secrets channel", args: []string{"--secrets-via", "pigeon"}, errWant: "want file or env"},
		{name: "bad duration", args: []string{"--wait-timeout", "soon"}, errWant: "invalid argument"},
		{name: "upper-case project", args: []string{"-p", "LocalAI"}, errWant: "lower case"},
		{name: "quiet and verbose", args: []string{"-q", "-v"}, errWant: "contradict"},
		{name: "snapshot defaults", cmd: "startsvc", check: func(g *globalOptions) bool { return !g.Offline && g.MaxStale == 72*time.Hour }},
		{name: "offline with a bound", args: []string{"up", "--offline", "--max-stale", "24h"}, cmd: "up",
			check: func(g *globalOptions) bool { return g.Offline && g.MaxStale == 24*time.Hour }},
		{name: "offline and skip contradict", args: []string{"--offline", "--skip-infisical"}, errWant: "contradicts --skip-infisical"},
		{name: "offline and require contradict", args: []string{"--offline", "--require-infisical"}, errWant: "--require-infisical"},
		{name: "max-stale must be positive", args: []string{"--max-stale", "0s"}, errWant: "--max-stale must be positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, cmd, err := parse(t, c.environ, c.args...)
			if c.errWant != "" {
				if err == nil || !strings.Contains(err.Error(), c.errWant) {
					t.Fatalf("err = %v, want %q", err, c.errWant)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cmd != c.cmd {
				t.Errorf("command %q, want %q", cmd, c.cmd)
			}
			if !c.check(g) {
				t.Errorf("options not as expected: %+v", *g)
			}
		})
	}
}

func TestMainExitCodes(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--no-such-flag"}, exitcode.Usage, "unknown flag"},
		{[]string{"nope"}, exitcode.Usage, `unknown command "nope"`},
		{[]string{"run"}, exitcode.Usage, "run needs a command"},
		{[]string{"export", "--format", "yaml"}, exitcode.Usage, "want dotenv, json or shell"},
		{[]string{"--help"}, exitcode.OK, ""},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), Env{Args: c.args, Stdout: &stdout, Stderr: &stderr, Dir: t.TempDir()})
			if code != c.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, c.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.err) {
				t.Errorf("stderr %q does not say %q", stderr.String(), c.err)
			}
		})
	}
	var stdout bytes.Buffer
	Main(context.Background(), Env{Args: []string{"--help"}, Stdout: &stdout, Stderr: &stdout})
	for _, want := range []string{"Exit codes:", "130", "--profile", "--skip-infisical", "down", "export", "run"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--help does not mention %q", want)
		}
	}
}
