package cli_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// swarmStack is a startsvc stack of three services for the swarm: db takes
// DB_PASSWORD as a file and has a healthcheck, app waits for it (stage 2) and
// takes API_TOKEN in its environment, worker has no healthcheck.
func swarmStack(t *testing.T, img string) string {
	t.Helper()
	hc := "    healthcheck:\n      test: [\"CMD\", \"/fixture\", \"health\"]\n      interval: 1s\n      retries: 120\n"
	stack := writeStack(t, "services:\n"+
		"  db:\n    image: "+img+"\n    environment:\n      SERVICE_NAME: db\n      DB_PASSWORD: ${DB_PASSWORD:?}\n"+hc+
		"  app:\n    image: "+img+"\n    depends_on:\n      db:\n        condition: service_healthy\n"+
		"    environment:\n      SERVICE_NAME: app\n      API_TOKEN: ${API_TOKEN}\n      PLAIN: ${PLAIN}\n"+hc+
		"  worker:\n    image: "+img+"\n    container_name: the-worker\n    environment:\n      SERVICE_NAME: worker\n")
	writeFiles(t, stack, map[string]string{
		"file-secrets.yml": "services:\n  db: [DB_PASSWORD]\n",
		"stages.yml":       "stages:\n  - name: databases\n    services: [db]\n  - name: apps\n    services: [\"*\"]\n",
		".env":             "PLAIN=plain-setting\n",
	})
	return stack
}

// docker runs the docker CLI and returns its standard output, trimmed.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("docker", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// runningTask is the ID of the one running task of a swarm service.
func runningTask(t *testing.T, service string) string {
	t.Helper()
	ids := strings.Fields(docker(t, "service", "ps", service, "--quiet", "--no-trunc", "--filter", "desired-state=running"))
	if len(ids) != 1 {
		t.Fatalf("service %s has %d tasks desired running, want 1", service, len(ids))
	}
	return ids[0]
}

// secretInTask describes /run/secrets/<key> inside the running task of
// service as the fixture does: "<sha256> <mode> <uid>:<gid> <path>", never
// its content.
func secretInTask(t *testing.T, service, key string) string {
	t.Helper()
	ctr := docker(t, "inspect", "--format", "{{.Status.ContainerStatus.ContainerID}}", runningTask(t, service))
	out, err := exec.Command("docker", "exec", ctr, "/fixture", "sha256", "/run/secrets/"+key).Output()
	if err != nil {
		t.Fatalf("read /run/secrets/%s in %s: %v", key, service, err)
	}
	return strings.TrimSpace(string(out))
}

// fileLine is what secretInTask says of a file with content value, mode 0444, owned by root.
func fileLine(key, value string) string {
	return fmt.Sprintf("%x 0444 0:0 /run/secrets/%s", sha256.Sum256([]byte(value)), key)
}

func stackSecrets(t *testing.T, stack string) []string {
	t.Helper()
	names := strings.Fields(docker(t, "secret", "ls", "--format", "{{.Name}}", "--filter", "label=com.docker.stack.namespace="+stack))
	slices.Sort(names)
	return names
}
