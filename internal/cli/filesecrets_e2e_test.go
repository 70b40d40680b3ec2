package cli_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/stack"
	"github.com/startsvc/startsvc/internal/testenv"
)

// fileKeys are the keys the file-secret tests deliver as files: DB_PASSWORD
// and every hostile key, sorted.
func fileKeys() []string {
	keys := []string{"DB_PASSWORD"}
	for k := range testenv.Hostile {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// inspectJSON is `docker inspect` of a container, whole.
func inspectJSON(t *testing.T, id string) []byte {
	t.Helper()
	out, err := exec.Command("docker", "inspect", id).Output()
	if err != nil {
		t.Fatalf("docker inspect: %v", err)
	}
	return out
}

// fileHashes runs the fixture's sha256 inside a container, as the
// container's user, and returns "SHA256 MODE UID:GID" by path.
func fileHashes(t *testing.T, id string, paths ...string) map[string]string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("docker", append([]string{"exec", id, "/fixture", "sha256"}, paths...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fixture sha256 in the container: %v\n%s", err, stderr.String())
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 {
			got[f[3]] = f[0] + " " + f[1] + " " + f[2]
		}
	}
	return got
}

func sum(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:])
}

// TestFileSecretsReachNonRootContainersExactly: issue 12, acceptance 1. A
// service running as user 1000:1000 takes DB_PASSWORD and the 25 hostile
// values (from Infisical) as files: through the hand-over file and through
// compose's environment, docker inspect of its container holds none of the
// values, each file holds its value byte for byte, the service reads every
// file as uid 1000 before it turns healthy, and startsvc prints no value. A
// second service, running as root, takes DB_PASSWORD with the owner and mode
// file-secrets.yml gives.
func TestFileSecretsReachNonRootContainersExactly(t *testing.T) {
	image := testenv.BuildFixtureImage(t)
	keys := fileKeys()
	values := map[string]string{"DB_PASSWORD": `db-pa$$word "with" \ quotes`}
	for k, v := range testenv.Hostile {
		values[k] = v
	}
	var b strings.Builder
	b.WriteString("services:\n  app:\n    image: " + image + "\n    user: \"1000:1000\"\n    environment:\n      SERVICE_NAME: app\n      READY_AFTER: 1s\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "      %s: ${%s}\n", k, k)
	}
	b.WriteString("    healthcheck:\n      test: [\"CMD\", \"/fixture\", \"health\"]\n      interval: 1s\n      start_period: 60s\n")
	b.WriteString("  owned:\n    image: " + image + "\n    environment:\n      DB_PASSWORD: ${DB_PASSWORD}\n")
	declared := "services:\n  app: [" + strings.Join(keys, ", ") + "]\n" +
		"  owned: [{key: DB_PASSWORD, uid: \"1000\", gid: \"1000\", mode: 0400}]\n"

	for _, via := range []string{"file", "env"} {
		t.Run(via, func(t *testing.T) {
			srv := emptyInfisical(t, infisicaltest.V4)
			for k, v := range values {
				srv.SetSecret("proj-1", "dev", "/", k, v)
			}
			dir := writeStack(t, b.String())
			writeFiles(t, dir, map[string]string{stack.FileSecretsFile: declared})
			project := testenv.ProjectName(t)
			r := startsvc(t, infisicalEnv(srv, "client-secret-value-1"), "up", "-C", dir, "-p", project, "--secrets-via", via, "-v")
			if r.code != 0 {
				t.Fatalf("up exited %d:\n%s", r.code, r.out)
			}
			assertNoValues(t, r.out, values)

			app := containerOf(t, project, "app")
			raw := inspectJSON(t, app.id)
			looked := 0
			for k, v := range values {
				escaped, _ := json.Marshal(v)
				for _, form := range []string{v, strings.Trim(string(escaped), `"`)} {
					if len(form) >= 4 {
						looked++
						if bytes.Contains(raw, []byte(form)) {
							t.Errorf("docker inspect of app holds the value of %s", k)
						}
					}
				}
			}
			env, err := testenv.ContainerEnv(project, "app")
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range values {
				if _, ok := env[k]; ok {
					t.Errorf("%s is in app's Config.Env", k)
				}
				for ek, ev := range env {
					if ev == v {
						t.Errorf("app's %s holds the value of %s", ek, k)
					}
				}
				if env[k+"_FILE"] != "/run/secrets/"+k {
					t.Errorf("%s_FILE is %q", k, env[k+"_FILE"])
				}
			}

			paths := make([]string, 0, len(keys))
			for _, k := range keys {
				paths = append(paths, "/run/secrets/"+k)
			}
			got := fileHashes(t, app.id, paths...)
			exact := 0
			for _, k := range keys {
				if want := sum(values[k]) + " 0444 0:0"; got["/run/secrets/"+k] != want {
					t.Errorf("/run/secrets/%s: hash, mode or owner differ (%d bytes expected)", k, len(values[k]))
				} else {
					exact++
				}
			}
			logs, err := exec.Command("docker", "logs", app.id).CombinedOutput()
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("read %d files named by *_FILE variables as uid 1000", len(keys)); !strings.Contains(string(logs), want) {
				t.Errorf("app's log lacks %q:\n%s", want, logs)
			}
			owned := containerOf(t, project, "owned")
			if got := fileHashes(t, owned.id, "/run/secrets/DB_PASSWORD")["/run/secrets/DB_PASSWORD"]; got != sum(values["DB_PASSWORD"])+" 0400 1000:1000" {
				t.Errorf("owned's DB_PASSWORD file: %q, want its hash, mode 0400, owner 1000:1000", strings.Join(strings.Fields(got)[1:], " "))
			}
			t.Logf("via %s: %d/%d files byte-exact, read as uid 1000; %d value forms absent from docker inspect", via, exact, len(keys), looked)
		})
	}
}

// TestFileSecretChangeRecreatesThatService: a changed value that a service
// takes as a file leaves compose's configuration hash as it was; plan names
// the service and the key, and up recreates that service alone, which then
// holds the new value.
func TestFileSecretChangeRecreatesThatService(t *testing.T) {
	image := testenv.BuildFixtureImage(t)
	svc := func(name, key string) string {
		s := "  " + name + ":\n    image: " + image + "\n    user: \"1000:1000\"\n    environment:\n      SERVICE_NAME: " + name + "\n"
		if key != "" {
			s += "      " + key + ": ${" + key + "}\n"
		}
		return s
	}
	dir := writeStack(t, "services:\n"+svc("first", "KEY_A")+svc("second", "KEY_B")+svc("third", ""))
	writeFiles(t, dir, map[string]string{
		stack.FileSecretsFile: "services:\n  first: [KEY_A]\n  second: [KEY_B]\n",
		".env":                "KEY_A=first-a-value\nKEY_B=first-b-value\n",
	})
	project := testenv.ProjectName(t)
	values := map[string]string{"A": "first-a-value", "B": "first-b-value", "B2": `second "b" value`}
	run := func(args ...string) result {
		t.Helper()
		r := startsvc(t, nil, append([]string{args[0], "-C", dir, "-p", project, "--skip-infisical"}, args[1:]...)...)
		assertNoValues(t, r.out, values)
		return r
	}
	if r := run("up"); r.code != 0 {
		t.Fatalf("up exited %d:\n%s", r.code, r.out)
	}
	before := containerIDs(t, project)
	hash := func(service string) string {
		out, err := exec.Command("docker", "inspect", "--format", `{{index .Config.Labels "startsvc.config-hash"}}`, containerOf(t, project, service).id).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	hashBefore := hash("second")
	if r := run("plan"); r.code != 0 {
		t.Fatalf("plan before any change exited %d:\n%s", r.code, r.out)
	}

	writeFiles(t, dir, map[string]string{".env": "KEY_A=first-a-value\nKEY_B='second \"b\" value'\n"})
	r := run("plan")
	if r.code != 5 || !planLine(r.out, "recreate", "second", "file secret KEY_B changed") || strings.Count(r.out, "\nrecreate ") != 1 {
		t.Errorf("plan after the change exited %d, want 5 and second recreated for KEY_B alone:\n%s", r.code, r.out)
	}
	if r := run("up"); r.code != 0 {
		t.Fatalf("up after the change exited %d:\n%s", r.code, r.out)
	}
	after := containerIDs(t, project)
	if c := changed(before, after); !slices.Equal(c, []string{"second"}) {
		t.Errorf("a changed KEY_B recreated %v, want [second]", c)
	}
	if h := hash("second"); h != hashBefore {
		t.Errorf("the configuration hash changed with a file-delivered value: the recreate was not the file comparison's")
	}
	got := fileHashes(t, after["second"], "/run/secrets/KEY_B")["/run/secrets/KEY_B"]
	if !strings.HasPrefix(got, sum(`second "b" value`)+" ") {
		t.Errorf("second's KEY_B file does not hold the new value")
	}
	if r := run("plan"); r.code != 0 {
		t.Errorf("plan after up exited %d, want 0:\n%s", r.code, r.out)
	}
}
