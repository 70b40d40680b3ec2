package infisical_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical"
)

// helperMarker tells TestHelperProcess that the test binary was started as
// a fake Infisical CLI.
const helperMarker = "fake-infisical-cli"

// TestHelperProcess is not a test: started by fakeCommand it plays the
// Infisical CLI in the way its first argument names, with the real CLI's
// arguments after it.
func TestHelperProcess(t *testing.T) {
	i := slices.Index(os.Args, helperMarker)
	if i < 0 {
		return
	}
	behaviour, args := os.Args[i+1], os.Args[i+2:]
	switch behaviour {
	case "ok":
		fmt.Print(`[{"key":"API_KEY","value":"cli-value-1","type":"shared"},{"key":"QUOTED","value":"it's \"$x\"\n"}]`)
	case "echo":
		// Report the arguments and the update-check setting as secrets.
		out := []map[string]string{
			{"key": "ARGS", "value": strings.Join(args, " ")},
			{"key": "INFISICAL_DISABLE_UPDATE_CHECK", "value": os.Getenv("INFISICAL_DISABLE_UPDATE_CHECK")},
		}
		json.NewEncoder(os.Stdout).Encode(out)
	case "not-logged-in":
		fmt.Fprintln(os.Stderr, "You must be logged in to run this command. To login, run [infisical login]")
		os.Exit(1)
	case "forbidden":
		fmt.Fprintln(os.Stderr, `error: Unable to fetch secrets`)
		fmt.Fprintln(os.Stderr, `CallGetRawSecretsV3: Unsuccessful response [GET https://x/api/v3/secrets/raw] [status-code=403] [response={"statusCode":403,"message":"You are not allowed to read secrets","error":"PermissionDenied"}]`)
		os.Exit(1)
	case "refused":
		fmt.Fprintln(os.Stderr, `Get "https://x/api/v3/secrets/raw": dial tcp 127.0.0.1:1: connect: connection refused`)
		os.Exit(1)
	case "garbage":
		fmt.Print("API_KEY='cli-value-1'\n")
	case "hang":
		// Block like a CLI waiting on a server that never answers, until the
		// test's context kills it.
		time.Sleep(time.Hour)
	}
	os.Exit(0)
}

// fakeCommand returns a Command constructor that runs the test binary as a
// fake CLI behaving as behaviour says, and records the arguments it was given.
func fakeCommand(behaviour string, gotArgs *[]string) func(ctx context.Context, name string, args ...string) *exec.Cmd {
	return func(ctx context.Context, name string, args ...string) *exec.Cmd {
		if gotArgs != nil {
			*gotArgs = append([]string{name}, args...)
		}
		helper := append([]string{"-test.run=^TestHelperProcess$", "--", helperMarker, behaviour}, args...)
		return exec.CommandContext(ctx, os.Args[0], helper...)
	}
}

func cliSettings(t *testing.T, flags infisical.FlagValues, env map[string]string) infisical.Settings {
	t.Helper()
	s, err := infisical.ResolveSettings(flags, mapEnv(env), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCLISource(t *testing.T) {
	for _, tc := range []struct {
		name      string
		behaviour string
		flags     infisical.FlagValues
		want      map[string]string
		wantKind  infisical.Kind
		wantInErr string
	}{
		{name: "logged in", behaviour: "ok",
			want: map[string]string{"API_KEY": "cli-value-1", "QUOTED": "it's \"$x\"\n"}},
		{name: "not logged in", behaviour: "not-logged-in", wantKind: infisical.NotConfigured, wantInErr: "infisical login"},
		{name: "no access", behaviour: "forbidden", wantKind: infisical.Auth, wantInErr: "You are not allowed to read secrets"},
		{name: "server unreachable", behaviour: "refused", wantKind: infisical.Unreachable, wantInErr: "connection refused"},
		{name: "dotenv instead of JSON", behaviour: "garbage", wantKind: infisical.Invalid, wantInErr: "not the JSON list"},
		{name: "silent CLI", behaviour: "hang", wantKind: infisical.Unreachable, wantInErr: "no answer in time"},
		{name: "recursive is not possible", behaviour: "ok", flags: infisical.FlagValues{Recursive: true},
			wantKind: infisical.Invalid, wantInErr: "recursively"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := &infisical.CLISource{Path: "/opt/fake/infisical", Settings: cliSettings(t, tc.flags, nil),
				Command: fakeCommand(tc.behaviour, nil), Dir: t.TempDir()}
			// Only the silent CLI must meet the deadline, whatever the
			// machine's speed: its outcome is "no answer in time". Every other
			// helper must finish on its own, which a process started under
			// -race on a busy machine may take seconds to do.
			bound := time.Minute
			if tc.behaviour == "hang" {
				bound = 2 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), bound)
			defer cancel()
			got, err := src.Fetch(ctx)
			if tc.wantKind == 0 {
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %q, want %q", got, tc.want)
				}
				return
			}
			if k := infisical.KindOf(err); k != tc.wantKind {
				t.Fatalf("err = %v: kind %v, want %v", err, k, tc.wantKind)
			}
			if !strings.Contains(err.Error(), tc.wantInErr) {
				t.Errorf("error %q does not say %q", err, tc.wantInErr)
			}
			if strings.Contains(err.Error(), "cli-value-1") {
				t.Errorf("error %q shows a value", err)
			}
		})
	}
}

func TestCLISourceArguments(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags infisical.FlagValues
		env   map[string]string
		want  []string
	}{
		{
			name: "defaults: the CLI keeps its own server",
			want: []string{"export", "--format=json", "--env=dev", "--path=/", "--include-imports=true", "--expand=true"},
		},
		{
			name:  "everything given",
			flags: infisical.FlagValues{ProjectID: "p-1", Environment: "prod", SecretPath: "/apps/web"},
			env:   map[string]string{"INFISICAL_API_URL": "https://infisical.example"},
			want: []string{"export", "--format=json", "--env=prod", "--path=/apps/web", "--include-imports=true", "--expand=true",
				"--projectId=p-1", "--domain=https://infisical.example/api"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var argv []string
			src := &infisical.CLISource{Path: "/opt/fake/infisical", Settings: cliSettings(t, tc.flags, tc.env),
				Command: fakeCommand("echo", &argv), Environ: []string{"HOME=/home/someone", "INFISICAL_DISABLE_UPDATE_CHECK=0"}}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			got, err := src.Fetch(ctx)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			want := append([]string{"/opt/fake/infisical"}, tc.want...)
			if !reflect.DeepEqual(argv, want) {
				t.Errorf("argv = %q\nwant %q", argv, want)
			}
			if got["ARGS"] != strings.Join(tc.want, " ") {
				t.Errorf("the CLI saw %q", got["ARGS"])
			}
			if got["INFISICAL_DISABLE_UPDATE_CHECK"] != "1" {
				t.Errorf("INFISICAL_DISABLE_UPDATE_CHECK = %q in the CLI's environment, want 1", got["INFISICAL_DISABLE_UPDATE_CHECK"])
			}
		})
	}
}

func TestNewSource(t *testing.T) {
	found := func(string) (string, error) { return "/usr/local/bin/infisical", nil }
	missing := func(string) (string, error) { return "", exec.ErrNotFound }
	for _, tc := range []struct {
		name     string
		env      map[string]string
		lookPath func(string) (string, error)
		want     string // type of the source, or "" for an error
	}{
		{"machine credentials: the API, even with the CLI installed", universalAuth(), found, "*infisical.APISource"},
		{"a token: the API", map[string]string{"INFISICAL_TOKEN": "st.a.b.c"}, found, "*infisical.APISource"},
		{"no credentials, CLI installed: the CLI", nil, found, "*infisical.CLISource"},
		{"no credentials, no CLI: not configured", nil, missing, ""},
		{"no credentials, no way to look: not configured", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := cliSettings(t, infisical.FlagValues{URL: "http://127.0.0.1:1"}, tc.env)
			src, err := infisical.NewSource(s, infisical.Deps{LookPath: tc.lookPath})
			if tc.want == "" {
				if infisical.KindOf(err) != infisical.NotConfigured || !infisical.IsFallback(err) {
					t.Fatalf("err = %v, want NotConfigured", err)
				}
				if !strings.Contains(err.Error(), s.Hint()) {
					t.Errorf("error %q does not carry the hint", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%T", src); got != tc.want {
				t.Errorf("source is %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNewClientWithoutCredentials(t *testing.T) {
	_, err := infisical.NewClient(cliSettings(t, infisical.FlagValues{}, nil), infisical.Options{})
	var e *infisical.Error
	if !errors.As(err, &e) || e.Kind != infisical.NotConfigured {
		t.Fatalf("err = %v, want NotConfigured", err)
	}
}
