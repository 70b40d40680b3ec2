package stack

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/exitcode"
)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func rels(l *Layout) []string {
	var out []string
	for _, f := range l.Files {
		r, _ := filepath.Rel(l.Dir, f)
		out = append(out, r)
	}
	return out
}

func TestOpenFiles(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		flagF []string
		env   string
		want  []string
		err   string
	}{
		{name: "convention with override", env: "private",
			files: map[string]string{BaseFile: "", "compose/docker-compose.override.private.yml": "", "compose/docker-compose.override.public.yml": ""},
			want:  []string{BaseFile, "compose/docker-compose.override.private.yml"}},
		{name: "convention without override", env: "public",
			files: map[string]string{BaseFile: ""}, want: []string{BaseFile}},
		{name: "plain compose.yaml with compose's own override", env: "private",
			files: map[string]string{"compose.yaml": "", "compose.override.yaml": ""}, want: []string{"compose.yaml", "compose.override.yaml"}},
		{name: "the original's root layout", env: "public",
			files: map[string]string{"docker-compose.yml": "", "docker-compose.override.public.yml": ""},
			want:  []string{"docker-compose.yml", "docker-compose.override.public.yml"}},
		{name: "-f replaces everything", env: "private", flagF: []string{"other.yml"},
			files: map[string]string{BaseFile: "", "other.yml": ""}, want: []string{"other.yml"}},
		{name: "missing -f file", env: "private", flagF: []string{"nope.yml"}, files: map[string]string{}, err: "compose file nope.yml"},
		{name: "empty folder", env: "private", files: map[string]string{}, err: "no compose file in"},
		{name: "custom environment with its override", env: "staging",
			files: map[string]string{BaseFile: "", "compose/docker-compose.override.staging.yml": ""},
			want:  []string{BaseFile, "compose/docker-compose.override.staging.yml"}},
		{name: "unknown environment", env: "staging", files: map[string]string{BaseFile: ""}, err: `unknown environment "staging"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, c.files)
			l, err := Open(dir, c.flagF, c.env)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || exitcode.Of(nil, err) != exitcode.Usage {
					t.Fatalf("err = %v, want a usage error saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := rels(l); !slices.Equal(got, c.want) {
				t.Errorf("files = %v, want %v", got, c.want)
			}
		})
	}
}

func TestResolveProfiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		BaseFile:                  "",
		"profiles/cpu.yml":        "description: CPU\ncompose_profiles: [cpu]\n",
		"profiles/gpu-nvidia.yml": "compose_profiles: [gpu-nvidia]\nrequires:\n  runtime: nvidia\n",
		"profiles/gpu-amd.yml":    "compose_profiles: [gpu-amd]\nrequires:\n  devices: [/dev/kfd, /dev/dri]\n",
		"profiles/none.yml":       "",
		"profiles/ghost.yml":      "compose_profiles: [not-declared]\n",
	})
	l, err := Open(dir, nil, "private")
	if err != nil {
		t.Fatal(err)
	}
	defined := []string{"cpu", "gpu-amd", "gpu-nvidia", "extra"}

	if p, err := l.Resolve("cpu", defined); err != nil || !slices.Equal(p.Compose, []string{"cpu"}) {
		t.Errorf("cpu: %v %v", p, err)
	}
	if p, err := l.Resolve("extra", defined); err != nil || !slices.Equal(p.Compose, []string{"extra"}) {
		t.Errorf("a compose profile without a file is itself: %v %v", p, err)
	}
	if p, err := l.Resolve("none", defined); err != nil || len(p.Compose) != 0 {
		t.Errorf("none: %v %v", p, err)
	}
	_, err = l.Resolve("nope", defined)
	if err == nil || !strings.Contains(err.Error(), "auto, cpu, extra, ghost, gpu-amd, gpu-nvidia, none") {
		t.Errorf("unknown profile must list the defined ones: %v", err)
	}
	if _, err := l.Resolve("ghost", defined); err == nil || !strings.Contains(err.Error(), "not-declared") {
		t.Errorf("a profile file naming an undeclared compose profile: %v", err)
	}

	noGPU := Machine{Runtimes: []string{"runc"}, HasDevice: func(string) bool { return false }}
	nvidia := Machine{Runtimes: []string{"nvidia", "runc"}, HasDevice: func(string) bool { return false }}
	amd := Machine{Runtimes: []string{"runc"}, HasDevice: func(p string) bool { return p == "/dev/kfd" || p == "/dev/dri" }}
	for m, want := range map[*Machine]string{&noGPU: "cpu", &nvidia: "gpu-nvidia", &amd: "gpu-amd"} {
		if got := l.Auto(*m, defined); got != want {
			t.Errorf("Auto on %+v = %s, want %s", m.Runtimes, got, want)
		}
	}
	gpu := l.Profiles["gpu-nvidia"]
	if missing := Missing(gpu.Requires, noGPU); len(missing) != 1 || !strings.Contains(missing[0], `no "nvidia" runtime`) {
		t.Errorf("Missing = %v", missing)
	}
}

func TestDefaultProfileOfAPlainProject(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"compose.yaml": ""})
	l, err := Open(dir, nil, "private")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.DefaultProfile(nil); got != ProfileNone {
		t.Errorf("a project without a cpu profile runs with %s, want none", got)
	}
	if got := l.DefaultProfile([]string{"cpu"}); got != ProfileCPU {
		t.Errorf("with a cpu compose profile the default is %s", got)
	}
}

func TestProfileFileWithUnknownField(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{BaseFile: "", "profiles/cpu.yml": "compose_profile: [cpu]\n"})
	if _, err := Open(dir, nil, "private"); err == nil || !strings.Contains(err.Error(), "profiles/cpu.yml") {
		t.Errorf("a misspelt field must be an error naming the file: %v", err)
	}
}
