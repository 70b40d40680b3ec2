package compose

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/exitcode"
)

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{
		"2.40.3\n":           {2, 40, 3},
		"v2.40.3":            {2, 40, 3},
		"2.24.6-desktop.1":   {2, 24, 6},
		"1.29.2, build 5bec": {1, 29, 2},
		"2.20":               {2, 20, 0},
		// What standalone binaries print for `version --short` when they do
		// not know the flag, or print their banner anyway.
		"docker-compose version 1.29.2, build 5becea4c\n": {1, 29, 2},
		"Docker Compose version v2.40.3\n":                {2, 40, 3},
	} {
		got, err := ParseVersion(in)
		if err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"dev", "", "x.y", "docker-compose version", "build 5becea4c"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted it", bad)
		}
	}
}

func TestFinder(t *testing.T) {
	type answer struct {
		out string
		err error
	}
	cases := []struct {
		name     string
		path     map[string]bool
		answers  map[string]answer // by argv joined
		explicit string
		want     string // CLI name, or "" for an error
		wantCode int
		wantMsg  string
	}{
		{name: "plugin", path: map[string]bool{"docker": true, "docker-compose": true},
			answers: map[string]answer{"/bin/docker compose version --short": {out: "2.40.3\n"}}, want: "/bin/docker compose"},
		{name: "standalone when the plugin is missing", path: map[string]bool{"docker": true, "docker-compose": true},
			answers: map[string]answer{"/bin/docker compose version --short": {err: errors.New("not a docker command")},
				"/bin/docker-compose version --short": {out: "2.29.1"}}, want: "/bin/docker-compose"},
		{name: "v1 is refused with what to install", path: map[string]bool{"docker-compose": true},
			answers:  map[string]answer{"/bin/docker-compose version --short": {out: "1.29.2"}},
			wantCode: exitcode.Unavailable, wantMsg: "v1, end of life"},
		{name: "v1 printing its banner for --short gets the same message", path: map[string]bool{"docker-compose": true},
			answers:  map[string]answer{"/bin/docker-compose version --short": {out: "docker-compose version 1.29.2, build 5becea4c\n"}},
			wantCode: exitcode.Unavailable, wantMsg: "v1, end of life"},
		{name: "too old a v2", path: map[string]bool{"docker": true},
			answers:  map[string]answer{"/bin/docker compose version --short": {out: "2.12.0"}},
			wantCode: exitcode.Unavailable, wantMsg: "needs compose >= 2.17.0"},
		{name: "nothing on the PATH", path: map[string]bool{},
			wantCode: exitcode.Unavailable, wantMsg: "no compose CLI found"},
		{name: "explicit binary", explicit: "/opt/compose", path: map[string]bool{"docker": true},
			answers: map[string]answer{"/opt/compose version --short": {out: "v2.30.0"}}, want: "/opt/compose"},
		{name: "explicit docker means its plugin", explicit: "/usr/bin/docker",
			answers: map[string]answer{"/usr/bin/docker compose version --short": {out: "2.30.0"}}, want: "/usr/bin/docker compose"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := Finder{
				Explicit: c.explicit,
				LookPath: func(file string) (string, error) {
					if c.path[file] {
						return "/bin/" + file, nil
					}
					return "", errors.New("not found")
				},
				Output: func(_ context.Context, _ []string, argv []string) ([]byte, error) {
					a, ok := c.answers[strings.Join(argv, " ")]
					if !ok {
						return nil, errors.New("unexpected call")
					}
					return []byte(a.out), a.err
				},
			}
			got, err := f.Find(context.Background())
			if c.want != "" {
				if err != nil || got.Name() != c.want {
					t.Fatalf("Find = %q, %v; want %q", got.Name(), err, c.want)
				}
				return
			}
			if code := exitcode.Of(nil, err); code != c.wantCode {
				t.Fatalf("exit code %d, want %d (err %v)", code, c.wantCode, err)
			}
			if !strings.Contains(err.Error(), c.wantMsg) || !strings.Contains(err.Error(), "install") {
				t.Errorf("error %q should say %q and what to install", err, c.wantMsg)
			}
		})
	}
}

func TestInvocationArgs(t *testing.T) {
	inv := Invocation{Project: "p", Dir: "/s", Files: []string{"/s/a.yml", "/s/b.yml"}, EnvFile: "/s/.env", Profiles: []string{"cpu"}}
	got := strings.Join(inv.Args("up", "--detach"), " ")
	want := "--project-name p --project-directory /s --file /s/a.yml --file /s/b.yml --env-file /s/.env --profile cpu up --detach"
	if got != want {
		t.Errorf("Args = %s\nwant   %s", got, want)
	}
	if got := strings.Join(DownAll("p", true), " "); got != "--project-name p down --remove-orphans --volumes" {
		t.Errorf("DownAll = %s", got)
	}
	if s := subcommand(inv.Args("up", "--detach")); s != "up" {
		t.Errorf("subcommand = %q", s)
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain/path-1.yml": "plain/path-1.yml",
		"with space":       "'with space'",
		"it's":             `'it'\''s'`,
		"":                 "''",
		"$HOME":            "'$HOME'",
	} {
		if got := Quote([]string{in}); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestNeeds(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := write("plain.yml", "services:\n  a:\n    image: x\n")
	inc := write("inc.yml", "include:\n  - plain.yml\nservices: {}\n")
	ovr := write("ovr.yml", "services:\n  a:\n    ports: !override\n      - 80:80\n")
	for _, c := range []struct {
		files []string
		want  []Feature
	}{
		{[]string{plain}, nil},
		{[]string{plain, inc}, []Feature{FeatureInclude}},
		{[]string{inc, ovr}, []Feature{FeatureInclude, FeatureOverride}},
	} {
		if got := Needs(c.files); !slices.Equal(got, c.want) {
			t.Errorf("Needs(%v) = %v, want %v", c.files, got, c.want)
		}
	}
}
