package doctor_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/docker"
	"github.com/startsvc/startsvc/internal/doctor"
	"github.com/startsvc/startsvc/internal/envgen"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/secrets"
)

// fakeEngine is a Docker Engine whose answers the test chooses.
type fakeEngine struct {
	ping      func(context.Context) error
	facts     func(context.Context) (docker.Facts, error)
	published func(context.Context) ([]doctor.Published, error)
}

var _ doctor.Engine = (*fakeEngine)(nil)

func (f *fakeEngine) Ping(ctx context.Context) error { return f.ping(ctx) }
func (f *fakeEngine) Facts(ctx context.Context) (docker.Facts, error) {
	return f.facts(ctx)
}
func (f *fakeEngine) Host() string { return "unix:///fake.sock" }
func (f *fakeEngine) Published(ctx context.Context) ([]doctor.Published, error) {
	return f.published(ctx)
}
func (f *fakeEngine) Close() error { return nil }

func healthyEngine(held ...doctor.Published) *fakeEngine {
	return &fakeEngine{
		ping: func(context.Context) error { return nil },
		facts: func(context.Context) (docker.Facts, error) {
			return docker.Facts{Version: "27.0.0", APIVersion: "1.47", Runtimes: []string{"runc"}}, nil
		},
		published: func(context.Context) ([]doctor.Published, error) { return held, nil },
	}
}

// appStack is a small stack with the shapes of variable doctor tells apart,
// two startsvc profiles, and published ports.
var appStack = map[string]string{
	"compose/docker-compose.yml": `services:
  app:
    image: example/app
    environment:
      TOKEN: ${APP_TOKEN:?set APP_TOKEN in .env}
      URL: postgres://u:${DB_PASSWORD:?}@db/x
      OPTIONAL: ${OPTIONAL_SETTING}
      DEFAULTED: ${DEFAULTED:-d}
      PRESENT: ${PRESENCE?set it, even empty}
    ports:
      - "127.0.0.1:18080:80"
      - "18443:443"
  cpu-worker:
    image: example/cpu
    profiles: [cpu]
    ports: ["127.0.0.1:18081:80"]
  gpu-worker:
    image: example/gpu
    profiles: [gpu-nvidia]
    ports: ["127.0.0.1:18081:80"]
`,
	"profiles/cpu.yml":        "description: On the CPU.\ncompose_profiles: [cpu]\n",
	"profiles/gpu-nvidia.yml": "description: On a GPU.\ncompose_profiles: [gpu-nvidia]\nrequires:\n  runtime: nvidia\n",
	".env.example":            "APP_TOKEN=\nDB_PASSWORD=\nOPTIONAL_SETTING=\nPRESENCE=\nDEFAULTED=\n",
	".env":                    "APP_TOKEN=tok-value-1234\nDB_PASSWORD=db-pass-5678\nOPTIONAL_SETTING=x\nPRESENCE=\nDEFAULTED=\n",
}

// secretValues are the values of appStack that must never be printed.
var secretValues = []string{"tok-value-1234", "db-pass-5678"}

func writeStack(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func with(base map[string]string, changes map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range changes {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// options checks dir with a healthy Engine, compose 2.40.3, every port free,
// no GPU, and Infisical skipped.
func options(dir string) doctor.Options {
	return doctor.Options{
		Dir: dir, Environment: "private", Profile: "cpu", Project: "demo",
		EnvFile: filepath.Join(dir, ".env"), SkipInfisical: true,
		Connect: func() (doctor.Engine, error) { return healthyEngine(), nil },
		FindCompose: func(context.Context) (compose.CLI, error) {
			return compose.CLI{Argv: []string{"docker", "compose"}, Version: compose.Version{Major: 2, Minor: 40, Patch: 3}}, nil
		},
		Bind:      func(string, string) error { return nil },
		HasDevice: func(string) bool { return false },
	}
}

// status returns the status of each check by name.
func status(rep *doctor.Report) map[string]doctor.Status {
	m := map[string]doctor.Status{}
	for _, c := range rep.Checks {
		m[c.Name] = c.Status
	}
	return m
}

// notOK lists the checks that are neither ok nor in allowed.
func notOK(rep *doctor.Report, allowed ...string) []string {
	var out []string
	for _, c := range rep.Checks {
		if c.Status != doctor.OK && !slices.Contains(allowed, c.Name) {
			out = append(out, c.Name+" "+string(c.Status)+": "+c.Message)
		}
	}
	return out
}

func check(t *testing.T, rep *doctor.Report, name string) doctor.Check {
	t.Helper()
	c, ok := rep.Find(name)
	if !ok {
		t.Fatalf("no check %s in the report", name)
	}
	return c
}

// assertNoValues fails when a value appears in the report; the failure
// names the value's position, never the value.
func assertNoValues(t *testing.T, rep *doctor.Report, values ...string) {
	t.Helper()
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range values {
		if len(v) >= secrets.MinMasked && strings.Contains(string(data), v) {
			t.Errorf("secret value #%d appears in the report", i)
		}
	}
}

func TestHealthyStack(t *testing.T) {
	dir := writeStack(t, appStack)
	rep := doctor.Run(context.Background(), options(dir))
	if bad := notOK(rep, doctor.CheckInfisicalAuth); len(bad) > 0 {
		t.Fatalf("a healthy stack has findings:\n%s", strings.Join(bad, "\n"))
	}
	if !rep.OK || rep.ExitCode() != 0 {
		t.Errorf("ok = %v, exit code %d; want true, 0", rep.OK, rep.ExitCode())
	}
	if c := check(t, rep, doctor.CheckPorts); c.Message != "3 host ports are free" {
		t.Errorf("ports: %q", c.Message)
	}
	if c := check(t, rep, doctor.CheckRequirements); !strings.Contains(c.Message, `gpu-nvidia cannot run here: the Docker Engine has no "nvidia" runtime`) {
		t.Errorf("requirements does not say what this machine lacks: %q", c.Message)
	}
	assertNoValues(t, rep, secretValues...)
}

func TestJSONShape(t *testing.T) {
	rep := doctor.Run(context.Background(), options(writeStack(t, appStack)))
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(data, &generic); err != nil {
		t.Fatal(err)
	}
	if len(generic) != 2 || generic["ok"] != true {
		t.Fatalf("top level: %v", generic)
	}
	for _, c := range generic["checks"].([]any) {
		fields := c.(map[string]any)
		var keys []string
		for k := range fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"hint", "message", "name", "status"}) {
			t.Fatalf("check %v has fields %v", fields["name"], keys)
		}
	}
}

func TestRequiredVariables(t *testing.T) {
	cases := []struct {
		name    string
		env     string
		missing string // "" for none
	}{
		{"unset :? variable", "DB_PASSWORD=db-pass-5678\nPRESENCE=\n", "APP_TOKEN"},
		{"empty :? variable", "APP_TOKEN=\nDB_PASSWORD=db-pass-5678\nPRESENCE=\n", "APP_TOKEN"},
		{"empty ? variable is fine", "APP_TOKEN=tok-value-1234\nDB_PASSWORD=db-pass-5678\nPRESENCE=\n", ""},
		{"unset ? variable", "APP_TOKEN=tok-value-1234\nDB_PASSWORD=db-pass-5678\n", "PRESENCE"},
		{"two missing", "PRESENCE=\n", "APP_TOKEN (compose/docker-compose.yml); DB_PASSWORD (compose/docker-compose.yml)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeStack(t, with(appStack, map[string]string{".env": tc.env}))
			rep := doctor.Run(context.Background(), options(dir))
			c := check(t, rep, doctor.CheckRequired)
			if tc.missing == "" {
				if c.Status != doctor.OK {
					t.Fatalf("required-variables: %s %s", c.Status, c.Message)
				}
				return
			}
			if c.Status != doctor.Error || !strings.Contains(c.Message, tc.missing) {
				t.Fatalf("required-variables: %s %q; want an error naming %s", c.Status, c.Message, tc.missing)
			}
			if rep.ExitCode() != exitcode.Usage {
				t.Errorf("exit code %d, want 2", rep.ExitCode())
			}
			// The rest is still checked, with stand-ins.
			if s := status(rep); s[doctor.CheckComposeFiles] != doctor.OK || s[doctor.CheckPorts] != doctor.OK || s[doctor.CheckProfile] != doctor.OK {
				t.Errorf("checks after the missing variable: %v", s)
			}
			assertNoValues(t, rep, secretValues...)
		})
	}
}

func TestEveryCheckRunsAfterAFailure(t *testing.T) {
	dir := writeStack(t, with(appStack, map[string]string{".env": "PRESENCE=\nEXTRA=1\n"}))
	o := options(dir)
	o.Connect = func() (doctor.Engine, error) {
		e := healthyEngine()
		e.ping = func(context.Context) error {
			return exitcode.With(exitcode.Unavailable, errors.New("the Docker Engine at unix:///fake.sock does not answer\n  start Docker"))
		}
		return e, nil
	}
	rep := doctor.Run(context.Background(), o)
	s := status(rep)
	want := map[string]doctor.Status{
		doctor.CheckEngine:         doctor.Error,
		doctor.CheckRequired:       doctor.Error,
		doctor.CheckComposeFiles:   doctor.OK,
		doctor.CheckRequirements:   doctor.OK, // cpu needs nothing of the machine
		doctor.CheckExampleMissing: doctor.Warning,
		doctor.CheckExampleExtra:   doctor.Warning,
	}
	for name, st := range want {
		if s[name] != st {
			t.Errorf("%s: %s, want %s", name, s[name], st)
		}
	}
	// up would stop at the Engine first.
	if rep.ExitCode() != exitcode.Unavailable {
		t.Errorf("exit code %d, want 3", rep.ExitCode())
	}
	if c := check(t, rep, doctor.CheckEngine); c.Message != "the Docker Engine at unix:///fake.sock does not answer" || c.Hint != "start Docker" {
		t.Errorf("engine: %q / %q", c.Message, c.Hint)
	}
	if c := check(t, rep, doctor.CheckExampleExtra); !strings.Contains(c.Message, "EXTRA") {
		t.Errorf("extra keys: %q", c.Message)
	}
	if c := check(t, rep, doctor.CheckExampleMissing); !strings.Contains(c.Message, "APP_TOKEN, DB_PASSWORD, DEFAULTED and OPTIONAL_SETTING") {
		t.Errorf("missing keys: %q", c.Message)
	}
}

func TestComposeUnavailableOrTooOld(t *testing.T) {
	dir := writeStack(t, with(appStack, map[string]string{
		"compose/docker-compose.override.private.yml": "services:\n  app:\n    ports: !override\n      - \"127.0.0.1:18080:80\"\n",
	}))
	o := options(dir)
	o.FindCompose = func(context.Context) (compose.CLI, error) {
		return compose.CLI{Argv: []string{"docker", "compose"}, Version: compose.Version{Major: 2, Minor: 21}}, nil
	}
	rep := doctor.Run(context.Background(), o)
	c := check(t, rep, doctor.CheckComposeFeatures)
	if c.Status != doctor.Error || !strings.Contains(c.Message, "!override") || rep.ExitCode() != exitcode.Unavailable {
		t.Fatalf("features: %s %q, exit %d", c.Status, c.Message, rep.ExitCode())
	}

	o.FindCompose = func(context.Context) (compose.CLI, error) {
		return compose.CLI{}, exitcode.With(exitcode.Unavailable, errors.New("no compose CLI found"))
	}
	rep = doctor.Run(context.Background(), o)
	if s := status(rep); s[doctor.CheckCompose] != doctor.Error || s[doctor.CheckComposeFeatures] != doctor.Skipped || rep.ExitCode() != exitcode.Unavailable {
		t.Fatalf("no compose: %v, exit %d", s, rep.ExitCode())
	}
}

func TestProfiles(t *testing.T) {
	dir := writeStack(t, appStack)
	cases := []struct {
		profile   string
		runtimes  []string
		check     string
		status    doctor.Status
		message   string
		exitCode  int
		portCount string
	}{
		{"gpu-nvidia", []string{"runc"}, doctor.CheckRequirements, doctor.Error, `profile gpu-nvidia cannot run on this machine: the Docker Engine has no "nvidia" runtime`, 2, ""},
		{"gpu-nvidia", []string{"nvidia", "runc"}, doctor.CheckRequirements, doctor.OK, "this machine has what profile gpu-nvidia needs", 0, ""},
		{"auto", []string{"nvidia", "runc"}, doctor.CheckProfile, doctor.OK, "auto picks gpu-nvidia", 0, ""},
		{"auto", []string{"runc"}, doctor.CheckProfile, doctor.OK, "auto picks cpu", 0, ""},
		{"nope", nil, doctor.CheckProfile, doctor.Error, `unknown profile "nope"`, 2, ""},
	}
	for _, tc := range cases {
		t.Run(tc.profile+" "+strings.Join(tc.runtimes, ","), func(t *testing.T) {
			o := options(dir)
			o.Profile, o.ProfileSet = tc.profile, true
			o.Connect = func() (doctor.Engine, error) {
				e := healthyEngine()
				e.facts = func(context.Context) (docker.Facts, error) { return docker.Facts{Runtimes: tc.runtimes}, nil }
				return e, nil
			}
			rep := doctor.Run(context.Background(), o)
			c := check(t, rep, tc.check)
			if c.Status != tc.status || !strings.Contains(c.Message, tc.message) {
				t.Fatalf("%s: %s %q; want %s containing %q", tc.check, c.Status, c.Message, tc.status, tc.message)
			}
			if rep.ExitCode() != tc.exitCode {
				t.Errorf("exit code %d, want %d", rep.ExitCode(), tc.exitCode)
			}
		})
	}
}

func TestPorts(t *testing.T) {
	dir := writeStack(t, appStack)
	cases := []struct {
		name    string
		held    []doctor.Published
		bind    func(network, address string) error
		status  doctor.Status
		message string
	}{
		{
			name:    "in use by a program",
			bind:    failOn("127.0.0.1:18081", syscall.EADDRINUSE),
			status:  doctor.Error,
			message: "127.0.0.1:18081/tcp (cpu-worker) is in use by another program",
		},
		{
			name:    "published by another project",
			held:    []doctor.Published{{Container: "other-web-1", Project: "other", Port: 18443, Proto: "tcp"}},
			status:  doctor.Error,
			message: "0.0.0.0:18443/tcp (app) is published by container other-web-1 of project other",
		},
		{
			name:    "held by this project's own containers",
			held:    []doctor.Published{{Container: "demo-app-1", Project: "demo", IP: "127.0.0.1", Port: 18080, Proto: "tcp"}},
			bind:    failOn("127.0.0.1:18080", syscall.EADDRINUSE),
			status:  doctor.OK,
			message: "2 host ports are free; 1 held by this project's own containers, which up replaces",
		},
		{
			name:    "another address of the same port is no conflict",
			held:    []doctor.Published{{Container: "x-1", Project: "x", IP: "127.0.0.2", Port: 18080, Proto: "tcp"}},
			status:  doctor.OK,
			message: "3 host ports are free",
		},
		{
			name:    "privileged ports cannot be tested",
			bind:    failOn(":18443", syscall.EACCES),
			status:  doctor.OK,
			message: "could not test 18443/tcp",
		},
		{
			name:    "an address this machine lacks",
			bind:    failOn("127.0.0.1:18080", syscall.EADDRNOTAVAIL),
			status:  doctor.Error,
			message: "this machine has no address 127.0.0.1",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := options(dir)
			o.Connect = func() (doctor.Engine, error) { return healthyEngine(tc.held...), nil }
			if tc.bind != nil {
				o.Bind = tc.bind
			}
			rep := doctor.Run(context.Background(), o)
			c := check(t, rep, doctor.CheckPorts)
			if c.Status != tc.status || !strings.Contains(c.Message, tc.message) {
				t.Fatalf("ports: %s %q; want %s containing %q", c.Status, c.Message, tc.status, tc.message)
			}
			if tc.status == doctor.Error && rep.ExitCode() != exitcode.Failure {
				t.Errorf("exit code %d, want 1", rep.ExitCode())
			}
		})
	}
}

func TestPortsReallyBound(t *testing.T) {
	dir := writeStack(t, appStack)
	o := options(dir)
	o.Bind = nil
	rep := doctor.Run(context.Background(), o)
	if c := check(t, rep, doctor.CheckPorts); c.Status != doctor.OK {
		t.Skipf("the test ports are taken on this machine: %s", c.Message)
	}
	l, err := netListen("127.0.0.1:18081")
	if err != nil {
		t.Skipf("cannot listen: %v", err)
	}
	defer l.Close()
	rep = doctor.Run(context.Background(), o)
	if c := check(t, rep, doctor.CheckPorts); c.Status != doctor.Error || !strings.Contains(c.Message, "18081") {
		t.Fatalf("ports with 18081 held: %s %q", c.Status, c.Message)
	}
}

func failOn(address string, errno syscall.Errno) func(string, string) error {
	return func(_, a string) error {
		if a == address {
			return errno
		}
		return nil
	}
}

// supabaseStack references the variables of the known breakages the way
// Supabase's own compose file does: without a guard.
var supabaseStack = map[string]string{
	"compose/docker-compose.yml": `services:
  vector:
    image: example/vector
    volumes:
      - ${DOCKER_SOCKET_LOCATION}:/var/run/docker.sock:ro
    environment:
      LOGFLARE_PUBLIC_ACCESS_TOKEN: ${LOGFLARE_PUBLIC_ACCESS_TOKEN}
      LOGFLARE_PRIVATE_ACCESS_TOKEN: ${LOGFLARE_PRIVATE_ACCESS_TOKEN}
  supavisor:
    image: example/supavisor
    environment:
      POOL: ${POOLER_DB_POOL_SIZE}
      DATABASE_URL: postgres://postgres:${POSTGRES_PASSWORD}@db/postgres
  kong:
    image: example/kong
    environment:
      DASHBOARD_PASSWORD: ${DASHBOARD_PASSWORD}
      ANON: ${ANON_KEY}
      SERVICE: ${SERVICE_ROLE_KEY}
      JWT: ${JWT_SECRET}
`,
}

func supabaseEnv(t *testing.T, changes map[string]string) (string, []string) {
	t.Helper()
	secret := "0123456789abcdef0123456789abcdef-jwt"
	now := time.Now()
	anon, err := envgen.SignHS256(envgen.Claims{Role: "anon", IssuedAt: now.Unix(), Expires: now.Add(time.Hour).Unix()}, secret)
	if err != nil {
		t.Fatal(err)
	}
	service, err := envgen.SignHS256(envgen.Claims{Role: "service_role", IssuedAt: now.Unix(), Expires: now.Add(time.Hour).Unix()}, secret)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := netListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	settings := map[string]string{"DOCKER_SOCKET_LOCATION": sock, "POOLER_DB_POOL_SIZE": "5"}
	vals := map[string]string{
		"LOGFLARE_PUBLIC_ACCESS_TOKEN":  "logflare-public-value",
		"LOGFLARE_PRIVATE_ACCESS_TOKEN": "logflare-private-value",
		"POSTGRES_PASSWORD":             "pg-password-value",
		"DASHBOARD_PASSWORD":            "dash-password-value",
		"JWT_SECRET":                    secret,
		"ANON_KEY":                      anon,
		"SERVICE_ROLE_KEY":              service,
	}
	var values []string
	for _, v := range vals {
		values = append(values, v)
	}
	// The socket's path and the pool size are settings, not secrets: messages may show them.
	for k, v := range settings {
		vals[k] = v
	}
	for k, v := range changes {
		if v == "-" {
			delete(vals, k)
		} else {
			vals[k] = v
		}
	}
	data, err := compose.FormatEnv(vals)
	if err != nil {
		t.Fatal(err)
	}
	return string(data), values
}

func TestKnownBreakages(t *testing.T) {
	otherKey, err := envgen.SignHS256(envgen.Claims{Role: "anon", Expires: time.Now().Add(time.Hour).Unix()}, "another-secret-of-at-least-32-chars!")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		changes map[string]string
		check   string
		status  doctor.Status
		message string
	}{
		// Without a socket, the volume itself is invalid: compose refuses the
		// files, and up would stop there (exit 2).
		{"all fine", nil, doctor.CheckSupabaseKeys, doctor.OK, "signed with JWT_SECRET"},
		{"socket unset", map[string]string{"DOCKER_SOCKET_LOCATION": "-"}, doctor.CheckDockerSocket, doctor.Error, "DOCKER_SOCKET_LOCATION is not set"},
		{"socket relative", map[string]string{"DOCKER_SOCKET_LOCATION": "docker.sock"}, doctor.CheckDockerSocket, doctor.Error, "not an absolute path"},
		{"socket missing", map[string]string{"DOCKER_SOCKET_LOCATION": "/nonexistent/docker.sock"}, doctor.CheckDockerSocket, doctor.Error, "does not exist"},
		{"socket a directory", map[string]string{"DOCKER_SOCKET_LOCATION": "/"}, doctor.CheckDockerSocket, doctor.Error, "not a socket"},
		{"pool size missing", map[string]string{"POOLER_DB_POOL_SIZE": "-"}, doctor.CheckPoolerPoolSize, doctor.Error, "POOLER_DB_POOL_SIZE is not set"},
		{"pool size not a number", map[string]string{"POOLER_DB_POOL_SIZE": "five"}, doctor.CheckPoolerPoolSize, doctor.Error, "not a positive whole number"},
		{"logflare missing", map[string]string{"LOGFLARE_PRIVATE_ACCESS_TOKEN": ""}, doctor.CheckLogflare, doctor.Error, "LOGFLARE_PRIVATE_ACCESS_TOKEN is not set"},
		{"numeric dashboard password", map[string]string{"DASHBOARD_PASSWORD": "20242024"}, doctor.CheckDashboardPass, doctor.Error, "all digits"},
		{"@ in postgres password", map[string]string{"POSTGRES_PASSWORD": "p@ssword-value"}, doctor.CheckPostgresPassword, doctor.Error, "contains @"},
		{"key of another secret", map[string]string{"ANON_KEY": otherKey}, doctor.CheckSupabaseKeys, doctor.Error, "ANON_KEY: signature does not match the secret"},
		{"keys missing", map[string]string{"ANON_KEY": "-", "SERVICE_ROLE_KEY": "-"}, doctor.CheckSupabaseKeys, doctor.Error, "ANON_KEY has no value"},
		{"short jwt secret", map[string]string{"JWT_SECRET": "short-secret"}, doctor.CheckSupabaseKeys, doctor.Error, "shorter than the 32 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, values := supabaseEnv(t, tc.changes)
			dir := writeStack(t, with(supabaseStack, map[string]string{".env": env}))
			rep := doctor.Run(context.Background(), options(dir))
			c := check(t, rep, tc.check)
			if c.Status != tc.status || !strings.Contains(c.Message, tc.message) {
				t.Fatalf("%s: %s %q; want %s containing %q", tc.check, c.Status, c.Message, tc.status, tc.message)
			}
			want := exitcode.Failure
			if c, _ := rep.Find(doctor.CheckComposeFiles); c.Status == doctor.Error {
				want = exitcode.Usage
				if !strings.HasPrefix(tc.name, "socket unset") && !strings.HasPrefix(tc.name, "socket relative") {
					t.Errorf("compose-files: %q", c.Message)
				}
			}
			if tc.status == doctor.Error && rep.ExitCode() != want {
				t.Errorf("exit code %d, want %d", rep.ExitCode(), want)
			}
			if tc.changes == nil {
				if bad := notOK(rep, doctor.CheckInfisicalAuth, doctor.CheckExampleMissing, doctor.CheckExampleExtra); len(bad) > 0 {
					t.Errorf("a sound Supabase setup has findings:\n%s", strings.Join(bad, "\n"))
				}
			}
			assertNoValues(t, rep, append(values, "p@ssword-value", otherKey)...)
		})
	}
}

func TestBreakageChecksOnlyWhereUsed(t *testing.T) {
	rep := doctor.Run(context.Background(), options(writeStack(t, appStack)))
	for _, name := range []string{doctor.CheckDockerSocket, doctor.CheckPoolerPoolSize, doctor.CheckLogflare, doctor.CheckDashboardPass, doctor.CheckSupabaseKeys} {
		if _, ok := rep.Find(name); ok {
			t.Errorf("%s reported for a stack that does not reference its variables", name)
		}
	}
}

func TestEnvFile(t *testing.T) {
	t.Run("syntax error names the line, not the value", func(t *testing.T) {
		dir := writeStack(t, with(appStack, map[string]string{".env": "APP_TOKEN=ok\nBROKEN=\"never closed the-secret-part\n"}))
		rep := doctor.Run(context.Background(), options(dir))
		c := check(t, rep, doctor.CheckEnvFile)
		if c.Status != doctor.Error || !strings.Contains(c.Message, "line 2") || rep.ExitCode() != exitcode.Usage {
			t.Fatalf("env-file: %s %q exit %d", c.Status, c.Message, rep.ExitCode())
		}
		assertNoValues(t, rep, "the-secret-part")
	})
	t.Run("readable by others", func(t *testing.T) {
		dir := writeStack(t, appStack)
		if err := os.Chmod(filepath.Join(dir, ".env"), 0o644); err != nil {
			t.Fatal(err)
		}
		c := check(t, doctor.Run(context.Background(), options(dir)), doctor.CheckEnvFile)
		if c.Status != doctor.Warning || !strings.Contains(c.Hint, "mode 0600") {
			t.Fatalf("env-file: %s %q %q", c.Status, c.Message, c.Hint)
		}
	})
	t.Run("missing default .env", func(t *testing.T) {
		dir := writeStack(t, with(appStack, map[string]string{".env": ""}))
		rep := doctor.Run(context.Background(), options(dir))
		if c := check(t, rep, doctor.CheckEnvFile); c.Status != doctor.Warning || !strings.Contains(c.Hint, "startsvc init") {
			t.Fatalf("env-file: %s %q %q", c.Status, c.Message, c.Hint)
		}
		if s := status(rep); s[doctor.CheckExampleMissing] != doctor.Skipped || s[doctor.CheckRequired] != doctor.Error {
			t.Errorf("statuses: %v", s)
		}
	})
	t.Run("missing named env file", func(t *testing.T) {
		dir := writeStack(t, appStack)
		o := options(dir)
		o.EnvFile, o.EnvFileGiven = filepath.Join(dir, "prod.env"), true
		rep := doctor.Run(context.Background(), o)
		if c := check(t, rep, doctor.CheckEnvFile); c.Status != doctor.Error || rep.ExitCode() != exitcode.Usage {
			t.Fatalf("env-file: %s %q", c.Status, c.Message)
		}
	})
	t.Run("a shell value counts as provided", func(t *testing.T) {
		dir := writeStack(t, with(appStack, map[string]string{".env": "DB_PASSWORD=db-pass-5678\nPRESENCE=\nOPTIONAL_SETTING=\nDEFAULTED=\n"}))
		o := options(dir)
		o.Environ = []string{"APP_TOKEN=tok-value-1234"}
		rep := doctor.Run(context.Background(), o)
		if bad := notOK(rep, doctor.CheckInfisicalAuth, doctor.CheckExampleMissing); len(bad) > 0 {
			t.Fatalf("findings: %v", bad)
		}
	})
}

func TestUnsetVariables(t *testing.T) {
	dir := writeStack(t, with(appStack, map[string]string{".env": "APP_TOKEN=tok-value-1234\nDB_PASSWORD=db-pass-5678\nPRESENCE=\n"}))
	rep := doctor.Run(context.Background(), options(dir))
	c := check(t, rep, doctor.CheckUnset)
	want := "OPTIONAL_SETTING (compose substitutes an empty string); DEFAULTED (compose uses the file's default)"
	if c.Status != doctor.Warning || !strings.Contains(c.Message, want) {
		t.Fatalf("unset: %s %q", c.Status, c.Message)
	}
	if rep.ExitCode() != 0 {
		t.Errorf("warnings alone exit %d", rep.ExitCode())
	}
}

func TestHandoverFile(t *testing.T) {
	leftover := "# " + secrets.Header()[0] + "\nAPP_TOKEN=\"x\"\n"
	for _, tc := range []struct {
		content string
		status  doctor.Status
		code    int
	}{
		{leftover, doctor.Warning, 0},
		{"MINE=1\n", doctor.Error, exitcode.Usage},
	} {
		dir := writeStack(t, with(appStack, map[string]string{secrets.FileName: tc.content}))
		rep := doctor.Run(context.Background(), options(dir))
		if c := check(t, rep, doctor.CheckHandover); c.Status != tc.status || rep.ExitCode() != tc.code {
			t.Errorf("handover %q: %s exit %d", tc.content[:6], c.Status, rep.ExitCode())
		}
		if _, err := os.Stat(filepath.Join(dir, secrets.FileName)); err != nil {
			t.Errorf("doctor changed the hand-over file: %v", err)
		}
	}
}

func TestStackMissing(t *testing.T) {
	o := options(filepath.Join(t.TempDir(), "nope"))
	rep := doctor.Run(context.Background(), o)
	if c := check(t, rep, doctor.CheckStack); c.Status != doctor.Error || rep.ExitCode() != exitcode.Usage {
		t.Fatalf("stack: %s %q", c.Status, c.Message)
	}
	if s := status(rep); s[doctor.CheckEngine] != doctor.OK || s[doctor.CheckProfile] != doctor.Skipped || s[doctor.CheckPorts] != doctor.Skipped {
		t.Errorf("statuses: %v", s)
	}
}

func TestSupabaseNotClonedYet(t *testing.T) {
	dir := writeStack(t, with(appStack, map[string]string{
		"compose/docker-compose.yml": "include:\n  - path: ./supabase/docker/docker-compose.yml\n" + appStack["compose/docker-compose.yml"],
		"supabase/docker/.env":       "POSTGRES_PASSWORD=old-copy-value\n",
	}))
	if err := os.Remove(filepath.Join(dir, "supabase", "docker", ".env")); err != nil {
		t.Fatal(err)
	}
	rep := doctor.Run(context.Background(), options(dir))
	s := status(rep)
	if s[doctor.CheckSupabase] != doctor.Warning || s[doctor.CheckComposeFiles] != doctor.Skipped || rep.ExitCode() != 0 {
		t.Fatalf("statuses %v, exit %d", s, rep.ExitCode())
	}

	// Cloned, with the old script's plaintext copy still there.
	if err := os.WriteFile(filepath.Join(dir, "supabase", "docker", "docker-compose.yml"), []byte("services:\n  db:\n    image: example/db\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "supabase", "docker", ".env"), []byte("POSTGRES_PASSWORD=old-copy-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep = doctor.Run(context.Background(), options(dir))
	s = status(rep)
	if s[doctor.CheckSupabase] != doctor.OK || s[doctor.CheckComposeFiles] != doctor.OK || s[doctor.CheckSupabaseEnvCopy] != doctor.Warning {
		t.Fatalf("statuses %v", s)
	}
	assertNoValues(t, rep, "old-copy-value")
}

func TestInfisical(t *testing.T) {
	srv := infisicaltest.New()
	t.Cleanup(srv.Close)
	srv.AddProject("proj-1", "dev")
	srv.AddIdentity("client-id-1", "client-secret-value-1")
	srv.SetSecret("proj-1", "dev", "/", "APP_TOKEN", "token-from-infisical")
	srv.SetSecret("proj-1", "dev", "/", "UNUSED", "unused-secret-value")
	creds := func(url, secret string) []string {
		return []string{"INFISICAL_API_URL=" + url, "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=client-id-1",
			"INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=" + secret, "INFISICAL_PROJECT_ID=proj-1"}
	}
	// .env lacks APP_TOKEN: Infisical provides it.
	dir := writeStack(t, with(appStack, map[string]string{".env": "DB_PASSWORD=db-pass-5678\nPRESENCE=\nOPTIONAL_SETTING=\nDEFAULTED=\n"}))
	run := func(environ []string, require bool) *doctor.Report {
		o := options(dir)
		o.SkipInfisical, o.RequireInfisical = false, require
		o.Environ = environ
		o.InfisicalTimeout = 30 * time.Second // no case here waits for it
		o.Redactor = secrets.NewRedactor()
		rep := doctor.Run(context.Background(), o)
		assertNoValues(t, rep, "token-from-infisical", "unused-secret-value", "client-secret-value-1", "wrong-secret-value")
		return rep
	}

	t.Run("good credentials", func(t *testing.T) {
		rep := run(creds(srv.URL, "client-secret-value-1"), false)
		if bad := notOK(rep, doctor.CheckExampleMissing); len(bad) > 0 {
			t.Fatalf("findings: %v", bad)
		}
		if c := check(t, rep, doctor.CheckInfisicalAuth); !strings.Contains(c.Message, "2 secrets in project proj-1, environment dev, folder /") {
			t.Errorf("credentials: %q", c.Message)
		}
		if n := srv.Calls(infisicaltest.RouteLogin); n != 1 {
			t.Errorf("%d logins", n)
		}
	})
	t.Run("bad credentials are an error, exit 4", func(t *testing.T) {
		rep := run(creds(srv.URL, "wrong-secret-value"), false)
		c := check(t, rep, doctor.CheckInfisicalAuth)
		if c.Status != doctor.Error || rep.ExitCode() != exitcode.Infisical {
			t.Fatalf("credentials: %s %q exit %d", c.Status, c.Message, rep.ExitCode())
		}
		// Without Infisical's value, APP_TOKEN is missing too.
		if c := check(t, rep, doctor.CheckRequired); c.Status != doctor.Error || !strings.Contains(c.Message, "APP_TOKEN") {
			t.Errorf("required: %s %q", c.Status, c.Message)
		}
	})
	t.Run("unreachable is a warning", func(t *testing.T) {
		gone := infisicaltest.New()
		url := gone.URL
		gone.Close()
		rep := run(creds(url, "client-secret-value-1"), false)
		if c := check(t, rep, doctor.CheckInfisical); c.Status != doctor.Warning || !strings.Contains(c.Message, "fall back") {
			t.Fatalf("infisical: %s %q", c.Status, c.Message)
		}
		if rep.ExitCode() != exitcode.Usage { // APP_TOKEN has no value now
			t.Errorf("exit code %d", rep.ExitCode())
		}
		rep = run(creds(url, "client-secret-value-1"), true)
		if c := check(t, rep, doctor.CheckInfisical); c.Status != doctor.Error || rep.ExitCode() != exitcode.Infisical {
			t.Fatalf("--require-infisical: %s %q exit %d", c.Status, c.Message, rep.ExitCode())
		}
	})
	t.Run("not configured is fine", func(t *testing.T) {
		rep := run(nil, false)
		if c := check(t, rep, doctor.CheckInfisical); c.Status != doctor.OK || c.Hint == "" {
			t.Fatalf("infisical: %s %q %q", c.Status, c.Message, c.Hint)
		}
		rep = run(nil, true)
		if c := check(t, rep, doctor.CheckInfisical); c.Status != doctor.Error || rep.ExitCode() != exitcode.Infisical {
			t.Fatalf("--require-infisical: %s exit %d", c.Status, rep.ExitCode())
		}
	})
}

func netListen(address string) (net.Listener, error) { return net.Listen("tcp", address) }

func netListenUnix(path string) (net.Listener, error) { return net.Listen("unix", path) }
