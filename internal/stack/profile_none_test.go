package stack_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/stack"
)

// noneProject is a small compose project: app has no profile, ollama-cpu the
// cpu profile, tool the tools profile.
const noneProject = `services:
  app:
    image: busybox
  ollama-cpu:
    image: busybox
    profiles: [cpu]
  tool:
    image: busybox
    profiles: [tools]
`

// strayNone adds a service under a compose profile literally named "none".
const strayNone = `  stray:
    image: busybox
    profiles: ["none"]
`

// activeWith opens the stack in dir, resolves profile and returns the services
// it runs, as up and plan select them.
func activeWith(t *testing.T, dir, profile string) (stack.Profile, []string) {
	t.Helper()
	l, err := stack.Open(dir, nil, "private")
	if err != nil {
		t.Fatal(err)
	}
	all, err := compose.Load(context.Background(), compose.Spec{Name: "p", Dir: l.Dir, Files: l.Files, Profiles: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(l.Names(all.Defined), stack.ProfileNone) {
		t.Errorf("profile names %v lack none", l.Names(all.Defined))
	}
	prof, err := l.Resolve(profile, all.Defined)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", profile, err)
	}
	sel, err := all.Select(prof.Compose)
	if err != nil {
		t.Fatal(err)
	}
	return prof, sel.Active()
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
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

// TestProfileNoneBuiltIn: without profiles/none.yml, none is built in and
// runs only the services without a profile — in a startsvc stack with other
// profile files and in a plain compose project alike, and even when a compose
// file declares a profile of that name (none is reserved: it activates none).
func TestProfileNoneBuiltIn(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"startsvc stack without none.yml": {stack.BaseFile: noneProject, "profiles/cpu.yml": "compose_profiles: [cpu]\n"},
		"plain compose project":           {"compose.yaml": noneProject},
		"a compose profile named none":    {"compose.yaml": noneProject + strayNone},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, files)
			if _, err := os.Stat(filepath.Join(dir, stack.ProfilesDir, "none.yml")); err == nil {
				t.Fatal("the fixture has a none.yml; this test is about the built-in none")
			}
			prof, active := activeWith(t, dir, stack.ProfileNone)
			if prof.Name != stack.ProfileNone || len(prof.Compose) != 0 || prof.Description != "" ||
				prof.Requires.Runtime != "" || len(prof.Requires.Devices) != 0 {
				t.Errorf("built-in none = %+v, want a profile that activates and requires nothing", prof)
			}
			if !slices.Equal(active, []string{"app"}) {
				t.Errorf("none runs %v, want only the services without a profile: [app]", active)
			}
		})
	}
}

// TestProfileNoneFromFile: a profiles/none.yml is the user's own definition
// and wins over the built-in one, with what it activates, says and requires.
func TestProfileNoneFromFile(t *testing.T) {
	t.Run("activates nothing, as shipped", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{stack.BaseFile: noneProject,
			"profiles/none.yml": "description: Everything but Ollama.\ncompose_profiles: []\n"})
		prof, active := activeWith(t, dir, stack.ProfileNone)
		if prof.Description != "Everything but Ollama." {
			t.Errorf("description %q: the file was not used", prof.Description)
		}
		if !slices.Equal(active, []string{"app"}) {
			t.Errorf("none runs %v, want [app]", active)
		}
	})
	t.Run("adapted by the user", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{stack.BaseFile: noneProject,
			"profiles/none.yml": "description: no Ollama, but the tools\ncompose_profiles: [tools]\nrequires:\n  devices: [/dev/null]\n"})
		prof, active := activeWith(t, dir, stack.ProfileNone)
		if !slices.Equal(prof.Compose, []string{"tools"}) || !slices.Equal(prof.Requires.Devices, []string{"/dev/null"}) {
			t.Errorf("none = %+v, want the file's compose profiles and requirements", prof)
		}
		if !slices.Equal(active, []string{"app", "tool"}) {
			t.Errorf("none runs %v, want [app tool]", active)
		}
	})
	t.Run("checked like any profile file", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{stack.BaseFile: noneProject, "profiles/none.yml": "compose_profiles: [not-declared]\n"})
		l, err := stack.Open(dir, nil, "private")
		if err != nil {
			t.Fatal(err)
		}
		_, err = l.Resolve(stack.ProfileNone, []string{"cpu", "none", "tools"})
		if err == nil || !strings.Contains(err.Error(), "profiles/none.yml") || exitcode.Of(nil, err) != exitcode.Usage {
			t.Errorf("err = %v, want a usage error naming profiles/none.yml", err)
		}
	})
}
