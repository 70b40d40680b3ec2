package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	swarmOnce sync.Once
	swarmErr  error
)

// RequireSwarm skips t unless the Docker Engine is a manager of an active
// swarm (scripts/ensure-docker.sh makes it a single-node one); when the CI
// environment variable is set, it fails instead.
func RequireSwarm(t testing.TB) {
	t.Helper()
	RequireDocker(t)
	swarmOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}").CombinedOutput()
		switch {
		case err != nil:
			swarmErr = fmt.Errorf("docker info: %v: %s", err, bytes.TrimSpace(out))
		case strings.TrimSpace(string(out)) != "active true":
			swarmErr = fmt.Errorf("the Engine is not a swarm manager (swarm %s); scripts/ensure-docker.sh makes it one", strings.TrimSpace(string(out)))
		}
	})
	if swarmErr == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("this test needs a swarm manager, and CI is set: %v", swarmErr)
	}
	t.Skipf("no swarm (%v); set CI=1 to make this a failure", swarmErr)
}

// BuildSwarmFixtureImage requires a swarm manager (RequireSwarm) and returns
// the fixture image's source-named tag (BuildFixtureImage): a swarm task
// resolves its image's tag whenever it starts, and that tag is the one no
// other checkout retags.
func BuildSwarmFixtureImage(t testing.TB) string {
	t.Helper()
	RequireSwarm(t)
	return BuildFixtureImage(t)
}

// StackName returns a stack (and project) name no other test uses and
// removes the stack — services, networks, secrets, then its volumes — when t
// ends.
func StackName(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "sss-" + hex.EncodeToString(b)
	t.Cleanup(func() { RemoveStack(name) })
	return name
}

// RemoveStack removes everything of a swarm stack: services, then, once
// their containers are gone, networks, secrets and volumes.
func RemoveStack(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	label := "label=com.docker.stack.namespace=" + name
	_ = exec.CommandContext(ctx, "docker", "stack", "rm", name).Run()
	for ctx.Err() == nil {
		out, err := exec.CommandContext(ctx, "docker", "ps", "--all", "--quiet", "--filter", label).Output()
		if err != nil || len(bytes.TrimSpace(out)) == 0 {
			break
		}
		time.Sleep(time.Second) // the swarm removes the containers on its own
	}
	for _, kind := range []string{"network", "secret", "volume"} {
		out, err := exec.CommandContext(ctx, "docker", kind, "ls", "--quiet", "--filter", label).Output()
		if err != nil {
			continue
		}
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			_ = exec.CommandContext(ctx, "docker", append([]string{kind, "rm"}, ids...)...).Run()
		}
	}
}
