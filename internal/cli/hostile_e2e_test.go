package cli_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

// hostileToken is a secret in the hostile stack's .env: no failing run may print it.
const hostileToken = "hostile-api-token-Rk83vN"

// hostileFiles is a conventional stack of one service; cases override files of it.
func hostileFiles() map[string]string {
	return map[string]string{
		"compose/docker-compose.yml": "services:\n  base:\n    image: " + testenv.FixtureImage + "\n    environment:\n" +
			"      GREETING: ${GREETING:?set GREETING in .env}\n      API_TOKEN: ${API_TOKEN}\n",
		".env": "GREETING=hi\nAPI_TOKEN=" + hostileToken + "\n",
	}
}

// writeFiles writes files (relative path → content) below dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshot describes every entry below dir — kind, mode, size, modification
// time and a digest of its content — so that two snapshots differ when
// anything was created, removed or touched.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d %d", info.Mode(), info.Size(), info.ModTime().UnixNano())
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			desc += " " + hex.EncodeToString(sum[:])
		}
		rel, _ := filepath.Rel(dir, path)
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// diffSnapshots lists the entries that were added, removed or changed.
func diffSnapshots(before, after map[string]string) []string {
	var diff []string
	for k, v := range before {
		if w, ok := after[k]; !ok {
			diff = append(diff, "removed "+k)
		} else if w != v {
			diff = append(diff, "changed "+k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			diff = append(diff, "added "+k)
		}
	}
	slices.Sort(diff)
	return diff
}

// container is what identifies one run of a service's container.
type container struct{ id, status, started string }

// containerOf returns the container of service in project; it fails t when
// there is not exactly one.
func containerOf(t *testing.T, project, service string) container {
	t.Helper()
	ids, err := exec.Command("docker", "ps", "--all", "--quiet", "--no-trunc",
		"--filter", "label=com.docker.compose.project="+project, "--filter", "label=com.docker.compose.service="+service).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	if n := len(strings.Fields(string(ids))); n != 1 {
		t.Fatalf("%d containers for service %s of project %s, want 1", n, service, project)
	}
	id := strings.Fields(string(ids))[0]
	out, err := exec.Command("docker", "inspect", "--format", "{{.State.Status}} {{.State.StartedAt}}", id).Output()
	if err != nil {
		t.Fatalf("docker inspect: %v", err)
	}
	status, started, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	return container{id: id, status: status, started: started}
}

// TestHostileInputChangesNothing brings a project up, then throws hostile
// input at it — a malformed .env or compose file, unknown flags, an unknown
// profile, a missing compose binary, a stopped Engine, a .env.infisical that
// startsvc did not write — and checks that each gives its documented exit
// code and a message naming the file, line or flag; that no file in its stack
// directory was created, removed or touched; and, at the end, that the
// project's container is the very one that was running before, still running.
func TestHostileInputChangesNothing(t *testing.T) {
	testenv.BuildFixtureImage(t)
	project := testenv.ProjectName(t)
	first := t.TempDir()
	writeFiles(t, first, hostileFiles())
	if r := startsvc(t, nil, "up", "-C", first, "-p", project, "--skip-infisical"); r.code != 0 {
		t.Fatalf("the first up exited %d:\n%s", r.code, r.out)
	}
	before := containerOf(t, project, "base")
	if before.status != "running" {
		t.Fatalf("the first up left base %s", before.status)
	}

	const brokenYAML = "services:\n  base:\n    image: x\n    environment: [\n"
	cases := []struct {
		name    string
		files   map[string]string              // replace or add files of the stack
		prepare func(t *testing.T, dir string) // for what files cannot say
		env     func(t *testing.T) []string
		args    []string // the command and its flags; -C and -p are added
		code    int
		say     string // a pattern the output must match
	}{
		{name: ".env key with a space", files: map[string]string{".env": "GREETING=hi\nBAD KEY=1\nAPI_TOKEN=" + hostileToken + "\n"},
			args: []string{"up"}, code: 2, say: `\.env: line 2: key cannot contain a space`},
		{name: ".env key with a character compose refuses", files: map[string]string{".env": "GREETING=hi\nK€Y=1\n"},
			args: []string{"up"}, code: 2, say: `\.env: line 2: unexpected character "€"`},
		{name: ".env quote never closed", files: map[string]string{".env": "GREETING=hi\n# a comment\nAPI_TOKEN=\"" + hostileToken + "\nOTHER=1\n"},
			args: []string{"up"}, code: 2, say: `\.env: line 3: quoted value is never closed`},
		{name: "compose file: malformed YAML", files: map[string]string{"compose/docker-compose.yml": brokenYAML},
			args: []string{"up"}, code: 2, say: `compose/docker-compose\.yml: yaml: .*line 4`},
		{name: "compose file: tab indentation", files: map[string]string{"compose/docker-compose.yml": "services:\n  base:\n\timage: x\n"},
			args: []string{"up"}, code: 2, say: `compose/docker-compose\.yml: yaml: .*line 3`},
		{name: "compose file: not the compose schema", files: map[string]string{"compose/docker-compose.yml": "servces:\n  base:\n    image: x\n"},
			args: []string{"up"}, code: 2, say: `compose/docker-compose\.yml: .*'servces' not allowed`},
		{name: "compose file named by -f is missing", args: []string{"up", "-f", "nope.yml"}, code: 2, say: `compose file nope\.yml`},
		{name: "env file named by --env-file is missing", args: []string{"up", "--env-file", "nope.env"}, code: 2, say: `nope\.env: no such file`},
		{name: "unknown flag", args: []string{"up", "--no-such-flag"}, code: 2, say: `unknown flag: --no-such-flag`},
		{name: "unknown flag of down", args: []string{"down", "--bogus"}, code: 2, say: `unknown flag: --bogus(.|\n)*startsvc down --help`},
		{name: "malformed flag value", args: []string{"up", "--infisical-timeout", "soon"}, code: 2, say: `invalid argument "soon" for "--infisical-timeout"`},
		{name: "contradicting flags", args: []string{"up", "--skip-infisical", "--require-infisical"}, code: 2, say: `--skip-infisical and --require-infisical`},
		{name: "unknown command", args: []string{"upp"}, code: 2, say: `unknown command "upp"`},
		{name: "unknown profile", args: []string{"up", "--profile", "gpu-ultra"}, code: 2, say: `unknown profile "gpu-ultra"; defined profiles: `},
		{name: "missing compose binary", code: 3,
			env: func(t *testing.T) []string {
				return []string{"STARTSVC_COMPOSE=" + filepath.Join(t.TempDir(), "no-such-compose")}
			},
			args: []string{"up"}, say: `no working compose CLI: \S*no-such-compose`},
		{name: "missing compose binary named by --compose", args: []string{"up", "--compose", "/nonexistent/compose"}, code: 3,
			say: `no working compose CLI: /nonexistent/compose`},
		{name: "stopped Engine", code: 3,
			env: func(t *testing.T) []string {
				return []string{"DOCKER_HOST=unix://" + filepath.Join(t.TempDir(), "no-engine.sock")}
			},
			args: []string{"up"}, say: `the Docker Engine at unix://\S*no-engine\.sock does not answer`},
		{name: ".env.infisical is a directory", prepare: func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, secrets.FileName), 0o755); err != nil {
				t.Fatal(err)
			}
		}, args: []string{"up"}, code: 2, say: regexp.QuoteMeta(secrets.FileName) + ` exists and was not written by startsvc`},
		{name: ".env.infisical is the user's file", files: map[string]string{secrets.FileName: "# mine\nKEEP=me\n"},
			args: []string{"up"}, code: 2, say: regexp.QuoteMeta(secrets.FileName) + ` exists and was not written by startsvc`},
	}
	t.Run("inputs", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				files := hostileFiles()
				for k, v := range c.files {
					files[k] = v
				}
				writeFiles(t, dir, files)
				if c.prepare != nil {
					c.prepare(t, dir)
				}
				var env []string
				if c.env != nil {
					env = c.env(t)
				}
				before := snapshot(t, dir)
				args := append(slices.Clone(c.args), "-C", dir, "-p", project, "--skip-infisical")
				r := startsvc(t, env, args...)
				if r.code != c.code {
					t.Errorf("exit %d, want %d:\n%s", r.code, c.code, r.out)
				}
				if !regexp.MustCompile(c.say).MatchString(r.out) {
					t.Errorf("the output does not match %q:\n%s", c.say, r.out)
				}
				if strings.Contains(r.out, hostileToken) {
					t.Errorf("the output shows the value of API_TOKEN")
				}
				if diff := diffSnapshots(before, snapshot(t, dir)); len(diff) > 0 {
					t.Errorf("the stack directory changed: %s", strings.Join(diff, "; "))
				}
			})
		}
	})

	if after := containerOf(t, project, "base"); after != before {
		t.Errorf("the project's container changed: before %+v, after %+v", before, after)
	}
	if got, err := testenv.Services(project, true); err != nil || !slices.Equal(got, []string{"base"}) {
		t.Errorf("the project's containers are %v (%v), want only base", got, err)
	}
}
