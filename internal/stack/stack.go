// Package stack knows the stack directory convention: which compose files make up
// the project for an environment, and what a startsvc profile activates and
// requires. All of it is data in the stack directory, so users adapt it without
// recompiling.
package stack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/secrets"
)

// Special profile names.
const (
	ProfileNone = "none" // activate no compose profile
	ProfileAuto = "auto" // pick gpu-nvidia, gpu-amd or cpu from the machine
	ProfileCPU  = "cpu"  // the default, when the stack defines it
)

// The stack directory convention.
const (
	BaseFile      = "compose/docker-compose.yml"
	overrideFmt   = "compose/docker-compose.override.%s.yml"
	ProfilesDir   = "profiles"
	plainOverride = "docker-compose.override.%s.yml"
)

// plainNames are the files compose itself looks for, in its order.
var plainNames = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

// Layout is a stack directory resolved for one environment.
type Layout struct {
	Dir   string   // absolute
	Files []string // compose files in order, absolute
	// Conventional is true for the compose/ + profiles/ layout, false for a plain
	// compose project or an explicit -f list.
	Conventional bool
	// Profiles are the startsvc profiles defined under profiles/, by name.
	Profiles map[string]Profile
}

// Profile is profiles/<name>.yml: what a startsvc profile activates and needs.
type Profile struct {
	Name        string   `yaml:"-"`
	Description string   `yaml:"description"`
	Compose     []string `yaml:"compose_profiles"`
	Requires    Requires `yaml:"requires"`
}

// Requires is what a profile needs of the machine.
type Requires struct {
	Runtime string   `yaml:"runtime"` // a container runtime the Engine must offer, e.g. nvidia
	Devices []string `yaml:"devices"` // device files that must exist, e.g. /dev/kfd
}

// maxStackFile bounds a profile or stages file startsvc reads.
const maxStackFile = 4 << 20

// Open resolves the stack in dir for environment. With files, those are the
// project (relative paths resolve against dir); otherwise the convention
// decides: compose/docker-compose.yml plus its override for the environment, or
// else a plain compose project's file. Problems are usage errors.
func Open(dir string, files []string, environment string) (*Layout, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, exitcode.Usagef("stack directory %s: %w", dir, err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return nil, exitcode.Usagef("stack directory %s does not exist or is not a directory", dir)
	}
	l := &Layout{Dir: abs, Profiles: map[string]Profile{}}
	override := ""
	switch {
	case len(files) > 0:
		for _, f := range files {
			p := f
			if !filepath.IsAbs(p) {
				p = filepath.Join(abs, p)
			}
			if _, err := os.Stat(p); err != nil {
				return nil, exitcode.Usagef("compose file %s: %w", f, errors.Unwrap(err))
			}
			l.Files = append(l.Files, p)
		}
	case exists(filepath.Join(abs, BaseFile)):
		l.Conventional = true
		l.Files = []string{filepath.Join(abs, BaseFile)}
		override = filepath.Join(abs, fmt.Sprintf(overrideFmt, environment))
	default:
		for _, n := range plainNames {
			if p := filepath.Join(abs, n); exists(p) {
				l.Files = []string{p}
				ext := filepath.Ext(n)
				if o := filepath.Join(abs, strings.TrimSuffix(n, ext)+".override"+ext); exists(o) {
					l.Files = append(l.Files, o)
				}
				override = filepath.Join(abs, fmt.Sprintf(plainOverride, environment))
				break
			}
		}
		if len(l.Files) == 0 {
			return nil, exitcode.Usagef("no compose file in %s: expected %s (a startsvc stack) or one of %s",
				abs, BaseFile, strings.Join(plainNames, ", "))
		}
	}
	if override != "" {
		if exists(override) {
			l.Files = append(l.Files, override)
		} else if environment != "private" && environment != "public" {
			return nil, exitcode.Usagef("unknown environment %q: there is no %s", environment, rel(abs, override))
		}
	}
	// compose reads these files itself; one that is a named pipe would hold
	// it (and startsvc) in open() for ever.
	for _, f := range l.Files {
		if st, err := os.Stat(f); err == nil && !st.Mode().IsRegular() {
			return nil, exitcode.Usagef("compose file %s is not a regular file", rel(abs, f))
		}
	}
	if err := l.loadProfiles(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Layout) loadProfiles() error {
	dir := filepath.Join(l.Dir, ProfilesDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return exitcode.Usagef("read %s: %w", dir, err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".yml")
		if !ok || e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := secrets.ReadFile(path, maxStackFile)
		if err != nil {
			return exitcode.Usagef("read profile: %w", err)
		}
		var p Profile
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
			return exitcode.Usagef("profile %s: %w", rel(l.Dir, path), err)
		}
		p.Name = name
		l.Profiles[name] = p
	}
	return nil
}

// Names lists every profile a user may pick: the startsvc profiles of profiles/,
// the compose profiles the files define, none and auto; sorted, without repeats.
func (l *Layout) Names(defined []string) []string {
	set := map[string]bool{ProfileNone: true}
	for n := range l.Profiles {
		set[n] = true
	}
	for _, d := range defined {
		set[d] = true
	}
	if l.autoable(defined) {
		set[ProfileAuto] = true
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// autoable reports whether "auto" has something to fall back on: a cpu profile.
func (l *Layout) autoable(defined []string) bool {
	_, ok := l.Profiles[ProfileCPU]
	return ok || contains(defined, ProfileCPU)
}

// DefaultProfile is cpu when the stack knows it, none otherwise: a plain compose
// project without profiles must run without naming one.
func (l *Layout) DefaultProfile(defined []string) string {
	if l.autoable(defined) {
		return ProfileCPU
	}
	return ProfileNone
}

// Resolve turns a profile name into what it activates: profiles/<name>.yml when
// it exists; else, for "none", no compose profile at all (even when a compose
// file declares one of that name); else the compose profile of that name. Any
// other name is a usage error listing the defined ones. defined are the compose
// profiles the files declare. "auto" must be resolved by the caller first.
func (l *Layout) Resolve(name string, defined []string) (Profile, error) {
	if p, ok := l.Profiles[name]; ok {
		for _, c := range p.Compose {
			if c != "*" && !contains(defined, c) {
				return Profile{}, exitcode.Usagef("profile %s (%s) activates compose profile %q, which no service in the compose files declares",
					name, rel(l.Dir, filepath.Join(l.Dir, ProfilesDir, name+".yml")), c)
			}
		}
		return p, nil
	}
	switch {
	case name == ProfileNone:
		return Profile{Name: ProfileNone}, nil
	case contains(defined, name):
		return Profile{Name: name, Compose: []string{name}}, nil
	}
	return Profile{}, exitcode.Usagef("unknown profile %q; defined profiles: %s", name, strings.Join(l.Names(defined), ", "))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// rel shows path relative to dir when it lies below it.
func rel(dir, path string) string {
	if r, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
