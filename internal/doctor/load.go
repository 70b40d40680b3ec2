package doctor

import (
	"context"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/stack"
)

// standIn is the value a required variable without one is loaded with, so
// that the rest of the compose files can still be checked. "0" is valid
// wherever compose expects a value: a port (an ephemeral one, which the port
// check skips), a number, a name, a duration.
const standIn = "0"

// maxLoads bounds the loads that find, one at a time, the required variables
// that are set but empty.
const maxLoads = 200

var requiredMissing = regexp.MustCompile(`required variable (\S+) is missing a value`)

// checkLoad finds the variables the compose files reference, which required
// ones have no value, and whether the files load and validate - with a stand-in
// for each missing required variable, so one missing value does not hide every
// other problem. It also checks that the compose CLI is new enough for the
// features the files use.
func (r *run) checkLoad(ctx context.Context) {
	checks := []string{CheckRequired, CheckComposeFiles, CheckComposeFeatures}
	switch {
	case r.layout == nil:
		r.skipAll(checks, "the stack directory could not be opened")
		return
	case r.supabaseMissing():
		r.skipAll(checks, "Supabase's compose file is not there yet")
		return
	case r.envBroken:
		r.skipAll(checks, "the env file could not be read")
		return
	}
	spec := compose.Spec{Name: r.o.Project, Dir: r.layout.Dir, Files: r.layout.Files, Profiles: []string{"*"}}
	vars, err := compose.Variables(ctx, spec)
	if err != nil {
		r.skip(CheckRequired, "the compose files do not parse")
		r.failErr(CheckComposeFiles, exitcode.Usage, err, "fix the file and line it names")
		r.skip(CheckComposeFeatures, "the compose files do not parse")
		return
	}
	r.referenced = map[string]compose.Variable{}
	env := maps.Clone(r.interp)
	missing := map[string]bool{}
	for _, v := range vars {
		r.referenced[v.Name] = v
		if _, set := env[v.Name]; v.Required && !set {
			missing[v.Name] = true
			env[v.Name] = standIn
		}
	}
	// A required variable that is set but empty fails only with ${X:?}, not
	// with ${X?}: let compose-go decide, one variable per load.
	var loadErr error
	for range maxLoads {
		spec.Env = env
		r.all, loadErr = compose.Load(ctx, spec)
		if loadErr == nil {
			break
		}
		m := requiredMissing.FindStringSubmatch(loadErr.Error())
		if m == nil || missing[m[1]] {
			break
		}
		missing[m[1]] = true
		env[m[1]] = standIn
	}
	r.missing = slices.Sorted(maps.Keys(missing))

	files := r.layout.Files
	if r.all != nil {
		files = append(slices.Clone(files), r.all.ComposeFiles...)
	}
	r.reportRequired(files)
	if loadErr != nil {
		r.all = nil
		r.failErr(CheckComposeFiles, exitcode.Usage, loadErr, "fix the file and key it names")
	} else {
		n := len(r.all.AllServices())
		msg := fmt.Sprintf("%d %s of every profile load and validate", n, plural(n, "service", "services"))
		if len(r.missing) > 0 {
			msg += fmt.Sprintf(" (with stand-ins for the %d missing required %s)", len(r.missing), plural(len(r.missing), "variable", "variables"))
		}
		r.ok(CheckComposeFiles, msg, "")
	}
	r.checkFeatures(files)
}

func (r *run) reportRequired(files []string) {
	if len(r.missing) == 0 {
		n := 0
		for _, v := range r.referenced {
			if v.Required {
				n++
			}
		}
		r.ok(CheckRequired, fmt.Sprintf("all %d required %s have a value", n, plural(n, "variable", "variables")), "")
		return
	}
	parts := make([]string, len(r.missing))
	for i, name := range r.missing {
		parts[i] = name
		if where := requiredBy(name, r.layout.Dir, files); len(where) > 0 {
			parts[i] += " (" + strings.Join(where, ", ") + ")"
		}
	}
	msg := fmt.Sprintf("required by the compose files but empty or unset in every source: %s", strings.Join(parts, "; "))
	hint := "set " + plural(len(r.missing), "it", "them") + " in .env or Infisical; startsvc init generates the stack's secrets"
	var addable []string
	absent := r.missingFromEnv()
	for _, k := range r.missing {
		if slices.Contains(absent, k) {
			addable = append(addable, k)
		}
	}
	if len(addable) > 0 {
		name := rel(r.dir(), r.o.EnvFile)
		hint = fmt.Sprintf("%s %s not in %s at all: startsvc init --add-missing adds %s (secrets generated) and changes no line already there",
			list(addable), plural(len(addable), "is", "are"), name, plural(len(addable), "it", "them"))
		if len(addable) < len(r.missing) {
			hint += "; set the others in .env or Infisical"
		}
	}
	if r.infisicalLocal {
		r.warn(CheckRequired, msg+"; Infisical, which did not answer, may provide "+plural(len(r.missing), "it", "them")+" once up starts it", hint)
		return
	}
	r.fail(CheckRequired, exitcode.Usage, msg, hint)
}

// requiredBy names the files (relative to dir) that require name with ${name:?…} or ${name?…}.
func requiredBy(name, dir string, files []string) []string {
	var out []string
	for _, f := range uniq(files) {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(data)
		if strings.Contains(s, "${"+name+":?") || strings.Contains(s, "${"+name+"?") {
			out = append(out, rel(dir, f))
		}
	}
	return out
}

func (r *run) checkFeatures(files []string) {
	if r.cli == nil {
		r.skip(CheckComposeFeatures, "no compose CLI was found")
		return
	}
	needs := compose.Needs(uniq(files))
	if declared, err := stack.LoadFileSecrets(r.layout.Dir); err == nil && len(declared) > 0 {
		needs = append(needs, compose.FeatureFileSecrets)
	}
	if len(needs) == 0 {
		r.ok(CheckComposeFeatures, "the compose files use no feature newer than startsvc's minimum compose", "")
		return
	}
	var have, lack []string
	for _, f := range needs {
		s := fmt.Sprintf("%s (compose >= %s)", f.Name, f.Version)
		if r.cli.Version.AtLeast(f.Version.Major, f.Version.Minor, f.Version.Patch) {
			have = append(have, s)
		} else {
			lack = append(lack, s)
		}
	}
	if len(lack) > 0 {
		r.fail(CheckComposeFeatures, exitcode.Unavailable,
			fmt.Sprintf("the compose files use %s, but %s is %s", list(lack), r.cli.Name(), r.cli.Version),
			"upgrade the Docker Compose plugin (https://docs.docker.com/compose/install/)")
		return
	}
	r.ok(CheckComposeFeatures, fmt.Sprintf("%s %s has what the files use: %s", r.cli.Name(), r.cli.Version, list(have)), "")
}

// checkProfile resolves the profile as up does (auto from the machine) and
// checks its requirements; its message also says which other profiles cannot
// run on this machine, and why.
func (r *run) checkProfile() {
	if r.all == nil {
		why := "the compose files could not be loaded"
		if r.layout == nil {
			why = "the stack directory could not be opened"
		}
		r.skipAll([]string{CheckProfile, CheckRequirements}, why)
		return
	}
	defined := r.all.Defined
	name := r.o.Profile
	if !r.o.ProfileSet || name == "" {
		name = r.layout.DefaultProfile(defined)
	}
	m, known := r.machine()
	auto := false
	if name == stack.ProfileAuto {
		if !known {
			r.fail(CheckProfile, exitcode.Unavailable, "profile auto needs the Docker Engine to say what this machine has", "start Docker")
			r.skip(CheckRequirements, "the profile is not known")
			return
		}
		name, auto = r.layout.Auto(m, defined), true
	}
	prof, err := r.layout.Resolve(name, defined)
	if err != nil {
		r.failErr(CheckProfile, exitcode.Usage, err, "pick one of the profiles it lists")
		r.skip(CheckRequirements, "the profile is not known")
		return
	}
	sel, err := r.all.Select(prof.Compose)
	if err != nil {
		r.failErr(CheckProfile, exitcode.Usage, err, "")
		r.skip(CheckRequirements, "the profile is not known")
		return
	}
	r.selected = sel
	msg := fmt.Sprintf("%s: %d %s", prof.Name, len(sel.Services), plural(len(sel.Services), "service", "services"))
	if auto {
		msg = "auto picks " + msg
	}
	if prof.Description != "" {
		msg += " (" + strings.TrimSuffix(prof.Description, ".") + ")"
	}
	r.ok(CheckProfile, msg, "")

	if !known {
		if needsMachine(prof.Requires) {
			r.skip(CheckRequirements, "the Docker Engine did not say which runtimes it has")
		} else {
			r.ok(CheckRequirements, fmt.Sprintf("profile %s needs nothing of the machine", prof.Name), "")
		}
		return
	}
	var elsewhere []string
	for _, other := range slices.Sorted(maps.Keys(r.layout.Profiles)) {
		p := r.layout.Profiles[other]
		if other == prof.Name || !needsMachine(p.Requires) {
			continue
		}
		if miss := stack.Missing(p.Requires, m); len(miss) > 0 {
			elsewhere = append(elsewhere, fmt.Sprintf("%s cannot run here: %s", other, strings.Join(miss, "; ")))
		}
	}
	if miss := stack.Missing(prof.Requires, m); len(miss) > 0 {
		r.fail(CheckRequirements, exitcode.Usage, fmt.Sprintf("profile %s cannot run on this machine: %s", prof.Name, strings.Join(miss, "; ")),
			"pick a profile this machine supports (--profile cpu, or --profile auto)")
		return
	}
	msg = fmt.Sprintf("this machine has what profile %s needs", prof.Name)
	if !needsMachine(prof.Requires) {
		msg = fmt.Sprintf("profile %s needs nothing of the machine", prof.Name)
	}
	if len(elsewhere) > 0 {
		msg += "; " + strings.Join(elsewhere, "; ")
	}
	r.ok(CheckRequirements, msg, "")
}

func needsMachine(req stack.Requires) bool { return req.Runtime != "" || len(req.Devices) > 0 }

// checkUnset reports the variables the compose files reference that no
// source sets and that compose does not refuse: they become their default,
// or an empty string.
func (r *run) checkUnset() {
	if r.referenced == nil {
		r.skip(CheckUnset, "the compose files could not be read")
		return
	}
	var withDefault, empty []string
	for name, v := range r.referenced {
		if _, set := r.interp[name]; set || v.Required {
			continue
		}
		if v.HasDefault {
			withDefault = append(withDefault, name)
		} else {
			empty = append(empty, name)
		}
	}
	sort.Strings(withDefault)
	sort.Strings(empty)
	if len(withDefault)+len(empty) == 0 {
		r.ok(CheckUnset, fmt.Sprintf("every one of the %d variables the compose files reference is set", len(r.referenced)), "")
		return
	}
	var parts []string
	if len(empty) > 0 {
		parts = append(parts, fmt.Sprintf("%s (compose substitutes an empty string)", list(empty)))
	}
	if len(withDefault) > 0 {
		parts = append(parts, fmt.Sprintf("%s (compose uses the file's default)", list(withDefault)))
	}
	r.warn(CheckUnset, "referenced by the compose files but set by no source: "+strings.Join(parts, "; "),
		"set them in .env (see .env.example) if the default is not what you want")
}

func (r *run) skipAll(names []string, why string) {
	for _, n := range names {
		r.skip(n, why)
	}
}

func uniq(files []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}
