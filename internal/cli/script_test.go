package cli_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/startsvc/startsvc/internal/cli"
	"github.com/startsvc/startsvc/internal/testenv"
)

// runMain runs startsvc in-process as the test binary's "startsvc" command.
func runMain(args []string) int {
	ctx, stop := cli.NotifyContext(context.Background())
	defer stop()
	wd, _ := os.Getwd()
	return cli.Main(ctx, cli.Env{Args: args, Environ: os.Environ(), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Dir: wd})
}

func TestMain(m *testing.M) {
	if dir := os.Getenv("STARTSVC_FAKE_COMPOSE"); dir != "" {
		os.Exit(fakeCompose(dir))
	}
	testscript.Main(m, map[string]func(){
		"startsvc": func() { os.Exit(runMain(os.Args[1:])) },
		// exits N startsvc ARGS… runs startsvc and succeeds only when it exits with N.
		"exits": func() {
			want, err := strconv.Atoi(os.Args[1])
			if err != nil || len(os.Args) < 3 || os.Args[2] != "startsvc" {
				fmt.Fprintln(os.Stderr, "usage: exits N startsvc [args…]")
				os.Exit(2)
			}
			if got := runMain(os.Args[3:]); got != want {
				fmt.Fprintf(os.Stderr, "startsvc exited with %d, want %d\n", got, want)
				os.Exit(1)
			}
			os.Exit(0)
		},
	})
}

// TestScripts runs the end-to-end scenarios in testdata/script against the real
// Docker Engine and compose, on stacks of the fixture image.
func TestScripts(t *testing.T) {
	testenv.BuildFixtureImage(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			project := testenv.ProjectName(env.T().(testing.TB))
			env.Setenv("PROJECT", project)
			for _, k := range []string{"PATH", "DOCKER_HOST", "DOCKER_CONFIG", "CI"} {
				if v, ok := os.LookupEnv(k); ok {
					env.Setenv(k, v)
				}
			}
			if _, ok := os.LookupEnv("DOCKER_CONFIG"); !ok {
				if home, err := os.UserHomeDir(); err == nil {
					env.Setenv("DOCKER_CONFIG", filepath.Join(home, ".docker"))
				}
			}
			env.Setenv("FIXTURE_IMAGE", testenv.FixtureImage)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// running PROJECT [SERVICE…]: exactly these services have a running container.
			"running": func(ts *testscript.TestScript, neg bool, args []string) {
				expectServices(ts, neg, args, false)
			},
			// containers PROJECT [SERVICE…]: exactly these services have a container at all.
			"containers": func(ts *testscript.TestScript, neg bool, args []string) {
				expectServices(ts, neg, args, true)
			},
			// envof PROJECT SERVICE KEY VALUE: the container's environment has KEY=VALUE exactly.
			"envof": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 4 {
					ts.Fatalf("usage: envof PROJECT SERVICE KEY VALUE")
				}
				env, err := testenv.ContainerEnv(args[0], args[1])
				ts.Check(err)
				got, ok := env[args[2]]
				if match := ok && got == args[3]; match == neg {
					ts.Fatalf("%s of %s: got %q (set: %v), want %q (negated: %v)", args[2], args[1], got, ok, args[3], neg)
				}
			},
		},
	})
}

func expectServices(ts *testscript.TestScript, neg bool, args []string, all bool) {
	if len(args) < 1 {
		ts.Fatalf("usage: running|containers PROJECT [SERVICE…]")
	}
	got, err := testenv.Services(args[0], all)
	ts.Check(err)
	want := slices.Clone(args[1:])
	slices.Sort(want)
	if slices.Equal(got, want) == neg {
		ts.Fatalf("services of %s: got [%s], want [%s] (negated: %v)", args[0], strings.Join(got, " "), strings.Join(want, " "), neg)
	}
}
