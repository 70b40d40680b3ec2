package doctor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/envgen"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/stack"
)

// ExampleFile is the file an env file is compared with for drift.
const ExampleFile = ".env.example"

// checkEnvFile reads the env file as compose will (its ${…} references
// resolving through Infisical's values, then the shell) and works out the
// variables compose interpolates the files with: the shell's environment
// without the keys the sources supply, then .env merged under Infisical.
func (r *run) checkEnvFile() {
	shell := secrets.EnvMap(r.o.Environ)
	name := rel(r.dir(), r.o.EnvFile)
	data, err := secrets.ReadFile(r.o.EnvFile, secrets.MaxEnvFile)
	var problems, notes []string
	var hint string
	switch {
	case errors.Is(err, fs.ErrNotExist) && !r.o.EnvFileGiven:
		if _, serr := os.Stat(filepath.Join(r.dir(), ExampleFile)); serr == nil {
			r.warn(CheckEnvFile, fmt.Sprintf("there is no %s: variables come from the shell and Infisical only", name),
				"startsvc init writes it from .env.example, with new secrets")
		} else {
			r.ok(CheckEnvFile, fmt.Sprintf("there is no %s: variables come from the shell and Infisical only", name), "")
		}
	case err != nil:
		r.envBroken = true
		r.fail(CheckEnvFile, exitcode.Usage, fmt.Sprintf("env file: %v", err), "")
	default:
		r.envFound = true
		var perr error
		r.fileVals, perr = secrets.ReadEnvFile(r.o.EnvFile, data, shell, r.remote)
		if perr != nil {
			r.envBroken = true
			r.fail(CheckEnvFile, exitcode.Usage, perr.Error(), "fix the line it names; inside double quotes write a literal $ as $$")
			break
		}
		if st, serr := os.Stat(r.o.EnvFile); serr == nil && st.Mode().Perm()&0o077 != 0 {
			problems = append(problems, fmt.Sprintf("it is readable by other users (mode %04o)", st.Mode().Perm()))
			hint = "make " + name + " readable by you only (mode 0600)"
		}
		var reserved []string
		for k := range r.fileVals {
			if secrets.Reserved(k) {
				reserved = append(reserved, k)
			}
		}
		sort.Strings(reserved)
		if len(reserved) > 0 {
			problems = append(problems, fmt.Sprintf("it sets %s, which startsvc never overrides in compose's environment", list(reserved)))
			if hint != "" {
				hint += "; "
			}
			hint += "remove " + list(reserved) + " from " + name
		}
		notes = append(notes, fmt.Sprintf("%s: %d %s", name, len(r.fileVals), plural(len(r.fileVals), "variable", "variables")))
	}
	resolved := secrets.Merge(r.fileVals, r.remote)
	r.o.Redactor.Add(resolved.Masked...)
	// init generates these as secrets although not every name says so.
	var generated []string
	for _, k := range envgen.Keys() {
		if v, ok := resolved.Values[k]; ok {
			generated = append(generated, v)
		}
	}
	r.o.Redactor.Add(generated...)
	env, _ := secrets.ComposeEnv(r.o.Environ, resolved.Values, r.o.Via)
	r.interp = secrets.InterpolationEnv(env, resolved.Values)
	if !r.envFound || r.envBroken {
		return
	}
	if len(r.remote) > 0 {
		notes = append(notes, fmt.Sprintf("%d from Infisical", len(r.remote)))
	}
	if len(problems) > 0 {
		r.warn(CheckEnvFile, strings.Join(notes, "; ")+"; but "+strings.Join(problems, "; "), hint)
		return
	}
	r.ok(CheckEnvFile, strings.Join(notes, "; "), "")
}

// checkDrift compares the env file's keys with .env.example's, both ways.
func (r *run) checkDrift() {
	if r.envBroken {
		r.skip(CheckExampleMissing, "the env file could not be read")
		r.skip(CheckExampleExtra, "the env file could not be read")
		return
	}
	path := filepath.Join(r.dir(), ExampleFile)
	data, err := secrets.ReadFile(path, secrets.MaxEnvFile)
	if errors.Is(err, fs.ErrNotExist) {
		r.ok(CheckExampleMissing, "there is no .env.example to compare with", "")
		r.ok(CheckExampleExtra, "there is no .env.example to compare with", "")
		return
	}
	var example map[string]string
	if err == nil {
		example, err = compose.ParseEnv(path, data, nil)
	}
	if err != nil {
		r.warn(CheckExampleMissing, fmt.Sprintf("cannot read .env.example: %v", err), "")
		r.skip(CheckExampleExtra, "cannot read .env.example")
		return
	}
	if !r.envFound {
		r.skip(CheckExampleMissing, "there is no env file")
		r.skip(CheckExampleExtra, "there is no env file")
		return
	}
	name := rel(r.dir(), r.o.EnvFile)
	var missing, extra []string
	for k := range example {
		if _, ok := r.fileVals[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range r.fileVals {
		if _, ok := example[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		msg := fmt.Sprintf("%d %s of .env.example %s not in %s: %s", len(missing), plural(len(missing), "key", "keys"),
			plural(len(missing), "is", "are"), name, list(missing))
		r.warn(CheckExampleMissing, msg, fmt.Sprintf(addMissingHint, name))
	} else {
		r.ok(CheckExampleMissing, fmt.Sprintf("%s has every key of .env.example", name), "")
	}
	if len(extra) > 0 {
		msg := fmt.Sprintf("%d %s of %s %s not in .env.example: %s", len(extra), plural(len(extra), "key", "keys"), name,
			plural(len(extra), "is", "are"), list(extra))
		hint := "a misspelt name, or a setting the stack no longer reads? Compose ignores keys no compose file references"
		r.warn(CheckExampleExtra, msg, hint)
	} else {
		r.ok(CheckExampleExtra, fmt.Sprintf("every key of %s is in .env.example", name), "")
	}
}

// checkSupabaseCheckout reports a stack that includes Supabase's compose file
// before it was cloned: up (or startsvc prepare) clones it, and the compose
// files cannot be loaded until then.
func (r *run) checkSupabaseCheckout() {
	if r.layout == nil || !r.layout.Conventional {
		return
	}
	used, err := stack.UsesSupabase(r.layout.Dir)
	if err != nil || !used {
		return
	}
	if fileExists(filepath.Join(r.layout.Dir, filepath.FromSlash(stack.SupabaseCompose))) {
		if branch := stack.SupabaseBranch(r.layout.Dir); branch != "" {
			r.warn(CheckSupabase, fmt.Sprintf("%s is there, from a checkout that follows branch %s (as the old start script made it), not the release startsvc pins (%s)",
				stack.SupabaseCompose, branch, stack.DefaultSupabaseRef),
				"it is used as it is; startsvc prepare says what moving it to the pinned release involves (docs/STACK.md, \"Coming from local-ai-packaged\")")
			return
		}
		r.ok(CheckSupabase, fmt.Sprintf("%s is there", stack.SupabaseCompose), "")
		return
	}
	r.warn(CheckSupabase, fmt.Sprintf("%s is not there yet, so the compose files cannot be loaded", stack.SupabaseCompose),
		"startsvc prepare clones Supabase's docker folder (up does too); then run doctor again")
}

// supabaseMissing reports whether the stack waits for its Supabase checkout.
func (r *run) supabaseMissing() bool {
	c, ok := r.rep.Find(CheckSupabase)
	return ok && c.Status != OK
}

func (r *run) checkSupabaseEnvCopy() {
	if r.layout == nil {
		return
	}
	p := filepath.Join(r.layout.Dir, filepath.FromSlash(stack.SupabaseEnvCopy))
	if !fileExists(p) {
		return
	}
	r.warn(CheckSupabaseEnvCopy, fmt.Sprintf("%s is a plaintext copy of secrets that the old start script made; the stack never reads it", stack.SupabaseEnvCopy),
		"delete "+stack.SupabaseEnvCopy)
}

// dir is the stack directory, as resolved when the layout opened.
func (r *run) dir() string {
	if r.layout != nil {
		return r.layout.Dir
	}
	return r.o.Dir
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// firstLine reads the first line of path; exists is false when there is no file.
func firstLine(path string) (line string, exists bool, err error) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	// Never an open that waits: a named pipe there is an error, not a hang.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return "", true, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return "", true, fmt.Errorf("%s is not a regular file", path)
	}
	line, _ = bufio.NewReader(io.LimitReader(f, 512)).ReadString('\n')
	return line, true, nil
}

// rel shows path relative to dir when it lies below it.
func rel(dir, path string) string {
	if r, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return path
}
