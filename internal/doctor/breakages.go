package doctor

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/startsvc/startsvc/internal/envgen"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/stack"
)

// checkBreakages checks the settings whose absence or shape broke real
// installations of the local AI stack although compose accepted them. Each
// check runs only when the compose files reference its variables, so a stack
// without Supabase is not bothered. Values come from every source, merged as
// up merges them; messages never show one.
func (r *run) checkBreakages() {
	if r.referenced == nil {
		return
	}
	r.checkDockerSocket()
	r.checkPoolSize()
	r.checkLogflare()
	r.checkDashboardPassword()
	r.checkPostgresPassword()
	r.checkAPIKeys()
	r.checkAPIExternalURL()
}

func (r *run) uses(names ...string) bool {
	for _, n := range names {
		if _, ok := r.referenced[n]; !ok {
			return false
		}
	}
	return true
}

// value is a variable's value in every source merged, and whether it has a
// non-empty one.
func (r *run) value(name string) (string, bool) {
	v, ok := r.interp[name]
	return v, ok && v != ""
}

func (r *run) checkDockerSocket() {
	const name = "DOCKER_SOCKET_LOCATION"
	if !r.uses(name) {
		return
	}
	dockerHost := getenvOf(r.o.Environ)("DOCKER_HOST")
	local, hostSocket := "", ""
	switch {
	case dockerHost == "":
		local = "/var/run/docker.sock"
	case strings.HasPrefix(dockerHost, "unix://"):
		local = strings.TrimPrefix(dockerHost, "unix://")
		hostSocket = local
	}
	suggest := local
	if suggest == "" {
		suggest = "/var/run/docker.sock"
	}
	v, ok := r.value(name)
	switch {
	case !ok:
		r.fail(CheckDockerSocket, exitcode.Failure, name+" is not set: Supabase's vector service gets an invalid volume and the stack does not start",
			fmt.Sprintf("set %s=%s in .env", name, suggest))
		return
	case !filepath.IsAbs(v):
		r.fail(CheckDockerSocket, exitcode.Failure, name+" is not an absolute path, which vector's bind mount needs",
			fmt.Sprintf("set %s=%s in .env", name, suggest))
		return
	case local == "":
		r.ok(CheckDockerSocket, fmt.Sprintf("%s is set; the Engine is remote (DOCKER_HOST), so the socket is on its machine and was not checked here", name), "")
		return
	}
	st, err := os.Stat(v)
	switch {
	case err != nil:
		r.fail(CheckDockerSocket, exitcode.Failure, fmt.Sprintf("%s names %s, which does not exist on this machine", name, v),
			fmt.Sprintf("set %s to the Engine's socket (%s)", name, suggest))
	case st.Mode().Type() != fs.ModeSocket:
		r.fail(CheckDockerSocket, exitcode.Failure, fmt.Sprintf("%s names %s, which is not a socket", name, v),
			fmt.Sprintf("set %s to the Engine's socket (%s)", name, suggest))
	case hostSocket != "" && filepath.Clean(hostSocket) != filepath.Clean(v):
		r.warn(CheckDockerSocket, fmt.Sprintf("%s is %s but DOCKER_HOST points at %s: vector would read the logs of another Engine", name, v, hostSocket),
			fmt.Sprintf("set %s=%s in .env", name, hostSocket))
	default:
		r.ok(CheckDockerSocket, fmt.Sprintf("%s is the socket %s", name, v), "")
	}
}

func (r *run) checkPoolSize() {
	const name = "POOLER_DB_POOL_SIZE"
	if !r.uses(name) {
		return
	}
	v, ok := r.value(name)
	if !ok {
		r.fail(CheckPoolerPoolSize, exitcode.Failure, name+" is not set: Supavisor, Supabase's pooler, crashes at start without it",
			"set "+name+"=5 in .env")
		return
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err != nil || n <= 0 {
		r.fail(CheckPoolerPoolSize, exitcode.Failure, name+" is not a positive whole number", "set "+name+"=5 in .env")
		return
	}
	r.ok(CheckPoolerPoolSize, name+" is set", "")
}

func (r *run) checkLogflare() {
	names := []string{"LOGFLARE_PUBLIC_ACCESS_TOKEN", "LOGFLARE_PRIVATE_ACCESS_TOKEN"}
	var used, unset []string
	for _, n := range names {
		if !r.uses(n) {
			continue
		}
		used = append(used, n)
		if _, ok := r.value(n); !ok {
			unset = append(unset, n)
		}
	}
	if len(used) == 0 {
		return
	}
	if len(unset) > 0 {
		r.fail(CheckLogflare, exitcode.Failure,
			fmt.Sprintf("%s %s not set: Supabase's vector turns unhealthy and the logs stay empty", list(unset), plural(len(unset), "is", "are")),
			"set "+plural(len(unset), "it", "them")+" in .env to long random strings, different from each other")
		return
	}
	r.ok(CheckLogflare, list(used)+" "+plural(len(used), "is", "are")+" set", "")
}

func (r *run) checkDashboardPassword() {
	const name = "DASHBOARD_PASSWORD"
	if !r.uses(name) {
		return
	}
	v, ok := r.value(name)
	switch {
	case !ok:
		r.fail(CheckDashboardPass, exitcode.Failure, name+" is empty: Kong refuses every login to Supabase Studio",
			"set it in .env (startsvc init generates one)")
	case allDigits(v):
		r.fail(CheckDashboardPass, exitcode.Failure, name+" is all digits: Kong reads it as a number and the Studio login fails",
			"use a password with at least one letter")
	default:
		r.ok(CheckDashboardPass, name+" is set and not all digits", "")
	}
}

func (r *run) checkPostgresPassword() {
	const name = "POSTGRES_PASSWORD"
	if !r.uses(name) {
		return
	}
	v, ok := r.value(name)
	switch {
	case !ok:
		r.skip(CheckPostgresPassword, name+" has no value")
	case strings.Contains(v, "@"):
		r.fail(CheckPostgresPassword, exitcode.Failure, name+" contains @, which breaks the postgres:// connection URLs built from it (n8n, Langfuse, Supabase's services)",
			"choose a password without @ (startsvc init generates hex ones)")
	default:
		r.ok(CheckPostgresPassword, name+" has no @", "")
	}
}

// checkAPIKeys checks Supabase's API keys against JWT_SECRET: signed with it,
// for the right role, not expired. Keys from another JWT_SECRET are a common
// leftover of regenerating one but not the others.
func (r *run) checkAPIKeys() {
	if !r.uses("JWT_SECRET", "ANON_KEY", "SERVICE_ROLE_KEY") {
		return
	}
	secret, ok := r.value("JWT_SECRET")
	if !ok {
		r.skip(CheckSupabaseKeys, "JWT_SECRET has no value")
		return
	}
	if len(secret) < 32 {
		r.fail(CheckSupabaseKeys, exitcode.Failure, "JWT_SECRET is shorter than the 32 characters Supabase needs",
			"set a longer JWT_SECRET and sign ANON_KEY and SERVICE_ROLE_KEY with it again (startsvc init generates all three)")
		return
	}
	now := r.o.Now().Unix()
	var problems []string
	for _, k := range []struct{ name, role string }{{"ANON_KEY", "anon"}, {"SERVICE_ROLE_KEY", "service_role"}} {
		token, ok := r.value(k.name)
		if !ok {
			problems = append(problems, k.name+" has no value")
			continue
		}
		c, err := envgen.VerifyHS256(token, secret)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: %s", k.name, strings.TrimPrefix(err.Error(), "verify JWT: ")))
		case c.Role != k.role:
			problems = append(problems, fmt.Sprintf("%s is for role %q, not %q", k.name, c.Role, k.role))
		case c.Expires != 0 && c.Expires < now:
			problems = append(problems, k.name+" has expired")
		}
	}
	if len(problems) > 0 {
		r.fail(CheckSupabaseKeys, exitcode.Failure, strings.Join(problems, "; ")+": Supabase's API rejects them",
			"sign ANON_KEY and SERVICE_ROLE_KEY with the current JWT_SECRET (roles anon and service_role)")
		return
	}
	r.ok(CheckSupabaseKeys, "ANON_KEY and SERVICE_ROLE_KEY are signed with JWT_SECRET for their roles", "")
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// checkAPIExternalURL checks the form Supabase's Auth expects of its external
// address. Since self-hosted 0.7 (startsvc pins a 0.7 release) it is Auth's
// own address, ending in /auth/v1; .env files of older releases, and of the
// old start script, have the bare gateway address, and Auth then builds broken
// links (confirmation mails, OAuth callbacks) without any error at start.
func (r *run) checkAPIExternalURL() {
	const name = "API_EXTERNAL_URL"
	if !r.uses(name) {
		return
	}
	v, ok := r.value(name)
	if !ok {
		return // unset-variables reports it
	}
	if strings.HasSuffix(strings.TrimRight(v, "/"), "/auth/v1") {
		r.ok(CheckAPIExternalURL, name+" ends in /auth/v1", "")
		return
	}
	r.warn(CheckAPIExternalURL, name+" does not end in /auth/v1: Supabase self-hosted 0.7 and later ("+stack.DefaultSupabaseRef+
		" is what startsvc checks out) take it as Auth's own address, and build mail links and OAuth callbacks from it",
		"append /auth/v1 to "+name+" in .env (e.g. http://localhost:8000/auth/v1), unless supabase/ holds a release older than 0.7")
}
