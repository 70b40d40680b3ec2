package cli_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/testenv"
)

// TestDeployOnSwarm is issue 13's acceptance: a stack of three services with
// one file-delivered secret from Infisical deploys on a single-node swarm;
// the secret arrives byte for byte and is in no service's specification; a
// changed value rolls only the service that mounts it and removes the old
// secret; status shows the stack; deploy --rm removes it; no value is ever
// printed.
func TestDeployOnSwarm(t *testing.T) {
	img := testenv.BuildSwarmFixtureImage(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	marker := "cnry" + hex.EncodeToString(b)
	first := marker + "-first it's \"q\" $HOME ${X} $$ `id` $(id) # x\nline2\r\n\ttäb 🔑 ends with \\"
	second := marker + "-second\n  padded  $ 'a'\"b\" \\n literally\n"
	token := marker + "-api-token"

	srv := emptyInfisical(t, infisicaltest.V4)
	srv.SetSecret("proj-1", "dev", "/", "DB_PASSWORD", first)
	srv.SetSecret("proj-1", "dev", "/", "API_TOKEN", token)
	stack := swarmStack(t, img)
	project := testenv.StackName(t)
	env := infisicalEnv(srv, "client-secret-value-1")
	deploy := func(args ...string) result {
		t.Helper()
		r := startsvc(t, env, append([]string{"deploy", "-C", stack, "-p", project, "--wait-timeout", "5m"}, args...)...)
		if leaks := leakedLines(r.out, marker); len(leaks) > 0 {
			t.Errorf("deploy %s prints a value (shown as <canary>):\n%s", strings.Join(args, " "), strings.Join(leaks, "\n"))
		}
		return r
	}

	// 1. Deploy: every task running and healthy, stage by stage.
	r := deploy()
	if r.code != 0 {
		t.Fatalf("deploy exited %d:\n%s", r.code, hideMarker(r.out, marker))
	}
	for _, svc := range []string{"db", "app", "worker"} {
		if got := docker(t, "service", "ls", "--filter", "name="+project+"_"+svc, "--format", "{{.Replicas}}"); got != "1/1" {
			t.Errorf("service %s: replicas %s, want 1/1", svc, got)
		}
	}
	for _, svc := range []string{"db", "app"} {
		ctr := docker(t, "inspect", "--format", "{{.Status.ContainerStatus.ContainerID}}", runningTask(t, project+"_"+svc))
		if h := docker(t, "inspect", "--format", "{{.State.Health.Status}}", ctr); h != "healthy" {
			t.Errorf("service %s: container health %s, want healthy", svc, h)
		}
	}
	dbUp := docker(t, "inspect", "--format", "{{.Status.Timestamp.UnixNano}}", runningTask(t, project+"_db"))
	appCreated := docker(t, "service", "inspect", "--format", "{{.CreatedAt.UnixNano}}", project+"_app")
	if len(appCreated) < len(dbUp) || (len(appCreated) == len(dbUp) && appCreated < dbUp) {
		t.Errorf("app was created before db was healthy: stages must be deployed in order")
	}
	if !strings.Contains(r.out, "WARNING: worker: Swarm ignores container_name") {
		t.Errorf("deploy does not say that Swarm ignores worker's container_name:\n%s", hideMarker(r.out, marker))
	}

	// The secret, byte for byte in the task; no value in any specification.
	if got, want := secretInTask(t, project+"_db", "DB_PASSWORD"), fileLine("DB_PASSWORD", first); got != want {
		t.Errorf("/run/secrets/DB_PASSWORD in the task is %q, want %q (sha256, mode, owner)", got, want)
	}
	inspect := docker(t, "service", "inspect", project+"_db", project+"_app", project+"_worker")
	if strings.Contains(inspect, marker+"-first") {
		t.Errorf("docker service inspect shows the value of DB_PASSWORD")
	}
	if !strings.Contains(inspect, marker+"-api-token") {
		t.Errorf("API_TOKEN, not file-delivered, is not in app's environment: the check above proves little")
	}
	var specs []struct {
		Spec struct {
			TaskTemplate struct{ ContainerSpec struct{ Env []string } }
		}
	}
	if err := json.Unmarshal([]byte(inspect), &specs); err != nil {
		t.Fatal(err)
	}
	dbEnv := specs[0].Spec.TaskTemplate.ContainerSpec.Env
	if !slices.Contains(dbEnv, "DB_PASSWORD_FILE=/run/secrets/DB_PASSWORD") || slices.ContainsFunc(dbEnv, func(kv string) bool { return strings.HasPrefix(kv, "DB_PASSWORD=") }) {
		t.Errorf("db's environment: want DB_PASSWORD_FILE and no DB_PASSWORD")
	}
	ctr := docker(t, "inspect", "--format", "{{.Status.ContainerStatus.ContainerID}}", runningTask(t, project+"_db"))
	if strings.Contains(docker(t, "inspect", ctr), marker+"-first") {
		t.Errorf("docker inspect of db's container shows the value of DB_PASSWORD")
	}
	secretsBefore := stackSecrets(t, project)
	if len(secretsBefore) != 1 || !strings.HasPrefix(secretsBefore[0], project+"_DB_PASSWORD_") {
		t.Fatalf("the stack's secrets: %v, want one %s_DB_PASSWORD_<hash>", secretsBefore, project)
	}
	t.Logf("deploy: exit 0 in %s; secret %s; the task's file has the value's SHA-256 (%d bytes)", r.duration.Round(time.Second), secretsBefore[0], len(first))

	// 2. Rotate: only db rolls; the old secret goes.
	keep := map[string][2]string{}
	for _, svc := range []string{"app", "worker"} {
		keep[svc] = [2]string{runningTask(t, project+"_"+svc), docker(t, "service", "inspect", "--format", "{{.Version.Index}} {{.UpdatedAt}}", project+"_"+svc)}
	}
	dbTask := runningTask(t, project+"_db")
	srv.SetSecret("proj-1", "dev", "/", "DB_PASSWORD", second)
	r = deploy()
	if r.code != 0 {
		t.Fatalf("deploy after the rotation exited %d:\n%s", r.code, hideMarker(r.out, marker))
	}
	if !strings.Contains(r.out, "update  db: secret DB_PASSWORD changed") || strings.Contains(r.out, "update  app") || strings.Contains(r.out, "update  worker") {
		t.Errorf("deploy does not say that db alone is updated for its secret:\n%s", hideMarker(r.out, marker))
	}
	for svc, before := range keep {
		now := [2]string{runningTask(t, project+"_"+svc), docker(t, "service", "inspect", "--format", "{{.Version.Index}} {{.UpdatedAt}}", project+"_"+svc)}
		if now != before {
			t.Errorf("service %s was touched by the rotation: task and version %v, before %v", svc, now, before)
		}
	}
	if runningTask(t, project+"_db") == dbTask {
		t.Errorf("db still runs the task it ran before the rotation")
	}
	if got, want := secretInTask(t, project+"_db", "DB_PASSWORD"), fileLine("DB_PASSWORD", second); got != want {
		t.Errorf("after the rotation /run/secrets/DB_PASSWORD in the task is %q, want %q (sha256, mode, owner)", got, want)
	}
	secretsAfter := stackSecrets(t, project)
	if len(secretsAfter) != 1 || secretsAfter[0] == secretsBefore[0] || !strings.HasPrefix(secretsAfter[0], project+"_DB_PASSWORD_") {
		t.Errorf("the stack's secrets after the rotation: %v, before %v: want the new one alone", secretsAfter, secretsBefore)
	}
	t.Logf("rotation: exit 0 in %s; db task %.12s → %.12s; app and worker (task, version) kept: %v; secrets %v → %v",
		r.duration.Round(time.Second), dbTask, runningTask(t, project+"_db"), keep, secretsBefore, secretsAfter)

	// status shows the deployed stack.
	r = startsvc(t, env, "status", "-p", project)
	if r.code != 0 || !strings.Contains(r.out, "db") || !strings.Contains(r.out, "healthy") || !strings.Contains(r.out, "worker") {
		t.Errorf("status exited %d:\n%s", r.code, hideMarker(r.out, marker))
	}
	if leaks := leakedLines(r.out, marker); len(leaks) > 0 {
		t.Errorf("status prints a value (shown as <canary>):\n%s", strings.Join(leaks, "\n"))
	}

	// 3. deploy --rm removes the stack and its secrets.
	r = deploy("--rm")
	if r.code != 0 {
		t.Fatalf("deploy --rm exited %d:\n%s", r.code, hideMarker(r.out, marker))
	}
	label := "label=com.docker.stack.namespace=" + project
	for _, args := range [][]string{{"service", "ls", "--quiet"}, {"secret", "ls", "--quiet"}, {"network", "ls", "--quiet"}, {"ps", "--all", "--quiet"}} {
		if left := docker(t, append(args, "--filter", label)...); left != "" {
			t.Errorf("docker %s: the stack left %s", args[0], strings.Join(strings.Fields(left), ", "))
		}
	}
	if !strings.Contains(r.out, "3 services, 1 network, 1 secret") {
		t.Errorf("deploy --rm does not say what it removed:\n%s", r.out)
	}
	assertNoValues(t, r.out, map[string]string{"DB_PASSWORD": first, "DB_PASSWORD (second)": second, "API_TOKEN": token})
}

// TestDeployNamesAFailingService: a service whose tasks keep failing (they
// never turn healthy, so Swarm replaces them) makes deploy exit 1 naming it
// and its task's error, well before the wait's bound.
func TestDeployNamesAFailingService(t *testing.T) {
	img := testenv.BuildSwarmFixtureImage(t)
	stack := writeStack(t, "services:\n  ok:\n    image: "+img+"\n"+
		"  broken:\n    image: "+img+"\n    environment:\n      NEVER_HEALTHY: \"1\"\n"+
		"    healthcheck:\n      test: [\"CMD\", \"/fixture\", \"health\"]\n      interval: 1s\n      retries: 2\n")
	project := testenv.StackName(t)
	start := time.Now()
	r := startsvc(t, nil, "deploy", "-C", stack, "-p", project, "--skip-infisical", "--wait-timeout", "10m")
	if r.code != 1 {
		t.Fatalf("deploy exited %d, want 1:\n%s", r.code, r.out)
	}
	if !strings.Contains(r.out, "broken failed: task exited") || !strings.Contains(r.out, "healthcheck fails") ||
		!strings.Contains(r.out, "configured never to turn healthy") {
		t.Errorf("deploy does not name the failing service, its task's end and its last log lines:\n%s", r.out)
	}
	if strings.Contains(r.out, "ok failed") {
		t.Errorf("deploy blames the healthy service:\n%s", r.out)
	}
	if time.Since(start) > 8*time.Minute {
		t.Errorf("deploy waited out its bound instead of failing when the tasks failed")
	}
}
