// Package secrets resolves the variables a compose project runs with — from the
// shell, the stack's .env and Infisical, in that order of precedence — and hands
// them to compose without leaking a value: through a 0600 env file that lives
// only as long as compose needs it, or through compose's process environment.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/exitcode"
)

// Secret is a string that never prints its value: fmt's %v, %s, %q, %+v and %#v
// all show [redacted]. Use string(s) where the value is really needed.
type Secret string

func (Secret) String() string   { return "[redacted]" }
func (Secret) GoString() string { return "[redacted]" }

// Source supplies variables. Fetch returns them keyed by name.
type Source interface {
	// Name says where the values come from, for messages ("Infisical at https://…").
	Name() string
	Fetch(ctx context.Context) (map[string]string, error)
}

// Origin says which layer a resolved variable came from.
type Origin string

const (
	FromEnvFile Origin = "env-file"
	FromRemote  Origin = "infisical"
)

// Resolved is the set of variables startsvc supplies to compose.
type Resolved struct {
	Values map[string]string
	Origin map[string]Origin
	// Masked holds every value that must never appear in output.
	Masked []string
}

// Keys returns the supplied variable names, sorted.
func (r *Resolved) Keys() []string {
	return sortedKeys(r.Values)
}

// FromRemoteCount is how many variables came from the remote source.
func (r *Resolved) FromRemoteCount() int {
	n := 0
	for _, o := range r.Origin {
		if o == FromRemote {
			n++
		}
	}
	return n
}

// Merge layers the env file's values under the remote ones: the remote source
// wins. Every remote value is masked in output, and so is every env-file value
// that ShouldMask: any of MinMasked bytes or more that is not plainly a setting.
func Merge(envFile, remote map[string]string) *Resolved {
	r := &Resolved{Values: map[string]string{}, Origin: map[string]Origin{}}
	for k, v := range envFile {
		r.Values[k] = v
		r.Origin[k] = FromEnvFile
		if ShouldMask(k, v) {
			r.Masked = append(r.Masked, v)
		}
	}
	for k, v := range remote {
		r.Values[k] = v
		r.Origin[k] = FromRemote
		r.Masked = append(r.Masked, v)
	}
	return r
}

var (
	secretName = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|PASS|SECRET|TOKEN|_KEY|KEY_|APIKEY|_AUTH|AUTH_|SALT|CREDENTIAL|PRIVATE|_PWD|CLIENT_ID)`)
	credURL    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@`)
)

// LooksSecret reports whether a variable is likely a secret, by its name
// (…PASSWORD, …SECRET, …TOKEN, …_KEY, …SALT, …) or by its value (a URL carrying
// a password).
func LooksSecret(key, value string) bool {
	return secretName.MatchString(key) || credURL.MatchString(value)
}

// Reserved reports names that describe the user's session or how to reach
// Docker; startsvc never overrides them in compose's environment.
func Reserved(key string) bool {
	switch key {
	case "PATH", "HOME", "PWD", "OLDPWD", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LANGUAGE",
		"TMPDIR", "HOSTNAME", "SHLVL", "DISPLAY", "TZ",
		"DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "DOCKER_API_VERSION":
		return true
	}
	return strings.HasPrefix(key, "XDG_") || strings.HasPrefix(key, "LC_") || strings.HasPrefix(key, "SSH_")
}

// composeControl are the variables through which compose would pick files,
// profiles and env files by itself; startsvc passes those explicitly.
var composeControl = []string{"COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_ENV_FILES", "COMPOSE_PROJECT_NAME",
	"COMPOSE_PATH_SEPARATOR", "COMPOSE_DISABLE_ENV_FILE"}

// Via is how the supplied variables reach compose.
type Via string

const (
	ViaFile Via = "file" // an env file passed as compose's single --env-file
	ViaEnv  Via = "env"  // compose's process environment; nothing on disk
)

// ComposeEnv builds compose's process environment from the shell's. Supplied
// variables must win over the shell's (compose prefers its own environment to
// --env-file), so with ViaFile their names are removed from it, and with ViaEnv
// their values replace the shell's. Reserved names keep the shell's value; each
// one the sources tried to set is returned in skipped. The COMPOSE_* variables
// that startsvc sets by flag are dropped, and COMPOSE_PROFILES is set empty so
// that no env file can activate a profile behind startsvc's back.
func ComposeEnv(shell []string, supplied map[string]string, via Via) (env []string, skipped []string) {
	drop := map[string]bool{}
	for _, k := range composeControl {
		drop[k] = true
	}
	for k := range supplied {
		if Reserved(k) {
			skipped = append(skipped, k)
			continue
		}
		drop[k] = true
	}
	sort.Strings(skipped)
	for _, kv := range shell {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			env = append(env, kv)
		}
	}
	if via == ViaEnv {
		for _, k := range sortedKeys(supplied) {
			if !Reserved(k) {
				env = append(env, k+"="+supplied[k])
			}
		}
	}
	env = append(env, "COMPOSE_PROFILES=", "COMPOSE_DISABLE_ENV_FILE=1")
	return env, skipped
}

// EnvMap turns a KEY=VALUE list into a map; later entries win.
func EnvMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// ReadEnvFile reads an env file's data the way compose will once startsvc hands
// it over: a ${X} in a value resolves to the remote value of X, else — unless the
// file itself defines X, which compose's environment will then no longer hold —
// to the shell's, else to the file's earlier lines. Reserved names always
// resolve to the shell's. Errors name the file and line, never a value.
func ReadEnvFile(name string, data []byte, shell, remote map[string]string) (map[string]string, error) {
	// First pass: the file's own keys, and its syntax errors.
	own, err := compose.ParseEnv(name, data, nil)
	if err != nil {
		return nil, err
	}
	return compose.ParseEnv(name, data, func(k string) (string, bool) {
		if v, ok := remote[k]; ok && !Reserved(k) {
			return v, true
		}
		if _, mine := own[k]; mine && !Reserved(k) {
			return "", false
		}
		v, ok := shell[k]
		return v, ok
	})
}

// InterpolationEnv is every variable compose sees when it interpolates the
// compose files: its process environment (env, from ComposeEnv) plus what the
// supplied values add.
func InterpolationEnv(env []string, supplied map[string]string) map[string]string {
	m := EnvMap(env)
	for k, v := range supplied {
		if _, set := m[k]; !set {
			m[k] = v
		}
	}
	return m
}

// Source names where a supplied variable's value came from, for messages:
// "Infisical", or envFile (the env file's name as the user knows it).
func (r *Resolved) Source(key, envFile string) string {
	if r.Origin[key] == FromRemote {
		return "Infisical"
	}
	return envFile
}

// MaxEnvEntry is the longest KEY=value string (its terminating NUL included)
// the Linux kernel passes to a new program: MAX_ARG_STRLEN, 32 pages of 4 KiB.
// A longer one makes the program's start fail with "argument list too long".
const MaxEnvEntry = 32 * 4096

// argvReserve is what CheckEnv leaves, of the kernel's limit on a new
// program's arguments and environment together, for the arguments.
const argvReserve = 64 << 10

// CheckEnv reports an environment that a new program could not be started
// with: a variable longer than MaxEnvEntry, or all of them together over the
// kernel's limit for arguments and environment (a quarter of the stack size
// limit). The error names the largest variable, never a value. It is a usage
// error (exit 2): nothing has been started.
func CheckEnv(env []string) error {
	total, largest, largestLen := 0, "", 0
	for _, kv := range env {
		n := len(kv) + 1
		total += n + 8 // the string and its pointer
		if n > largestLen {
			k, _, _ := strings.Cut(kv, "=")
			largest, largestLen = k, n
		}
		if n > MaxEnvEntry {
			k, _, _ := strings.Cut(kv, "=")
			return exitcode.Usagef("variable %s is %s, over the %s the kernel allows one environment variable",
				k, sizeOf(n), sizeOf(MaxEnvEntry))
		}
	}
	if limit := argLimit(); limit > 0 && total+argvReserve > limit {
		return exitcode.Usagef("the environment is %s in all, over the %s the kernel allows a program's arguments and environment "+
			"(the largest variable is %s, %s)", sizeOf(total), sizeOf(limit-argvReserve), largest, sizeOf(largestLen))
	}
	return nil
}

// CheckComposeEnv is CheckEnv for compose's process environment, which holds
// the values only with ViaEnv; its error says to use ViaFile instead.
func CheckComposeEnv(via Via, env []string) error {
	if via != ViaEnv {
		return nil
	}
	if err := CheckEnv(env); err != nil {
		return exitcode.Usagef("--secrets-via env: %w: compose could not be started with it; use --secrets-via file, "+
			"which has no such limit", errors.Unwrap(err))
	}
	return nil
}

// argLimit is the kernel's limit on a new program's arguments and environment
// together: a quarter of the stack size limit, never less than MaxEnvEntry; 0
// when the stack is unlimited or the limit cannot be read.
func argLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_STACK, &rl); err != nil || rl.Cur == ^uint64(0) || rl.Cur > 1<<40 {
		return 0
	}
	return max(int(rl.Cur/4), MaxEnvEntry)
}

func sizeOf(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", (n+1023)>>10)
}
