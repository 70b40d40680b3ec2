package stack

import (
	"testing"
)

// TestInfisicalInStack pins when startsvc treats the Infisical it fetches from
// as part of the stack (and so starts it first and fetches afterwards): only a
// loopback URL, in a startsvc stack that has a stages file to order it.
// Otherwise the stack would wait for a server it does not run, or fetch from a
// remote server at the wrong moment.
func TestInfisicalInStack(t *testing.T) {
	withStages := t.TempDir()
	write(t, withStages, map[string]string{BaseFile: "", StagesFile: "stages: []\n"})
	noStages := t.TempDir()
	write(t, noStages, map[string]string{BaseFile: ""})
	plain := t.TempDir()
	write(t, plain, map[string]string{"compose.yaml": "", StagesFile: "stages: []\n"})
	open := func(dir string) *Layout {
		l, err := Open(dir, nil, "private")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	for _, tc := range []struct {
		name string
		l    *Layout
		url  string
		want bool
	}{
		{"localhost", open(withStages), "http://localhost:8010", true},
		{"127.0.0.1", open(withStages), "http://127.0.0.1:8010", true},
		{"::1", open(withStages), "http://[::1]:8010", true},
		{"a remote server", open(withStages), "https://infisical.example.com", false},
		{"a name that only starts with localhost", open(withStages), "http://localhost.example.com:8010", false},
		{"no stages file", open(noStages), "http://localhost:8010", false},
		{"a plain compose project", open(plain), "http://localhost:8010", false},
		{"no layout", nil, "http://localhost:8010", false},
		{"an unparsable URL", open(withStages), "http://[::1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := InfisicalInStack(tc.l, tc.url); got != tc.want {
				t.Errorf("InfisicalInStack(%s) = %v, want %v", tc.url, got, tc.want)
			}
		})
	}
}

// TestAutoNeedsRequirementsItCanCheck: auto picks a GPU profile only when a
// profile file states what it needs and the machine has it. A compose
// profile named gpu-nvidia without a file says nothing checkable, so auto
// stays on cpu (or none, in a project without cpu) rather than guess.
func TestAutoNeedsRequirementsItCanCheck(t *testing.T) {
	bare := Machine{Runtimes: []string{"runc"}, HasDevice: func(string) bool { return false }}
	nvidia := Machine{Runtimes: []string{"nvidia", "runc"}, HasDevice: func(string) bool { return false }}

	dir := t.TempDir()
	write(t, dir, map[string]string{"compose.yaml": ""})
	l, err := Open(dir, nil, "private")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		m       Machine
		defined []string
		want    string
	}{
		{"compose-only gpu profiles, bare machine", bare, []string{"cpu", "gpu-amd", "gpu-nvidia"}, "cpu"},
		{"compose-only gpu profiles, nvidia machine", nvidia, []string{"cpu", "gpu-amd", "gpu-nvidia"}, "cpu"},
		{"no cpu profile either", nvidia, []string{"gpu-nvidia"}, ProfileNone},
		{"no profiles at all", bare, nil, ProfileNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := l.Auto(tc.m, tc.defined); got != tc.want {
				t.Errorf("Auto = %s, want %s", got, tc.want)
			}
		})
	}
}
