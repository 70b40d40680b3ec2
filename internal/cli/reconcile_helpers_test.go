package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/testenv"
)

// reconcileStack is the six-service fixture of the reconcile issue, plus an
// Ollama in profile cpu: web reads KEY_A from .env, api reads KEY_B from
// Infisical and waits for db to be healthy.
func reconcileStack(t *testing.T) string {
	t.Helper()
	svc := func(name, env string) string {
		return "  " + name + ":\n    image: " + testenv.FixtureImage + "\n" +
			"    environment: {READY_AFTER: 1s, SERVICE_NAME: " + name + env + "}\n" +
			"    healthcheck:\n      test: [\"CMD\", \"/fixture\", \"health\"]\n      interval: 1s\n      start_period: 60s\n"
	}
	file := "services:\n" + svc("base", "") + svc("web", ", KEY_A: \"${KEY_A}\"") +
		svc("api", ", KEY_B: \"${KEY_B}\"") + "    depends_on: {db: {condition: service_healthy}}\n" +
		svc("db", "") + svc("cache", "") + svc("worker", "") +
		svc("ollama-cpu", "") + "    profiles: [cpu]\n"
	dir := writeStack(t, file)
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("KEY_A=first-a-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// containerIDs maps each service of project to its container's ID.
func containerIDs(t *testing.T, project string) map[string]string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "--all", "--filter", "label=com.docker.compose.project="+project,
		"--format", `{{.Label "com.docker.compose.service"}} {{.ID}}`).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	ids := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if svc, id, ok := strings.Cut(line, " "); ok {
			ids[svc] = id
		}
	}
	return ids
}

// changed lists the services whose container ID differs between before and
// after, or that exist in only one of them.
func changed(before, after map[string]string) []string {
	var out []string
	for svc, id := range before {
		if after[svc] != id {
			out = append(out, svc)
		}
	}
	for svc := range after {
		if _, ok := before[svc]; !ok {
			out = append(out, svc)
		}
	}
	slices.Sort(out)
	return out
}

// planLine reports whether the plan output has a line for service with action
// and a reason containing why.
func planLine(out, action, service, why string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == action && f[1] == service && strings.Contains(line, why) {
			return true
		}
	}
	return false
}

// jsonPart is the JSON document in out, which also holds startsvc's messages.
func jsonPart(out string) string {
	start, end := strings.Index(out, "{\n"), strings.LastIndex(out, "}")
	if start < 0 || end < start {
		return ""
	}
	return out[start : end+1]
}
