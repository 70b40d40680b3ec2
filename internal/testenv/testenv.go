// Package testenv is what startsvc's tests share: whether Docker is there (a test
// that needs it skips locally without it but fails when CI is set), the fixture
// image built from our own program, and unique compose projects that clean up
// after themselves.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FixtureImage is the tag of the test image: our fixture program, FROM scratch.
const FixtureImage = "startsvc-fixture:test"

var (
	dockerOnce sync.Once
	dockerErr  error
)

// RequireDocker skips t when no Docker Engine with compose v2 answers, unless
// the CI environment variable is set: then it fails, because CI must run these.
func RequireDocker(t testing.TB) {
	t.Helper()
	dockerOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
			dockerErr = fmt.Errorf("docker info: %v: %s", err, bytes.TrimSpace(out))
			return
		}
		if out, err := exec.CommandContext(ctx, "docker", "compose", "version", "--short").CombinedOutput(); err != nil {
			dockerErr = fmt.Errorf("docker compose version: %v: %s", err, bytes.TrimSpace(out))
		}
	})
	if dockerErr == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("this test needs a Docker Engine and compose v2, and CI is set: %v", dockerErr)
	}
	t.Skipf("no Docker Engine with compose v2 (%v); set CI=1 to make this a failure", dockerErr)
}

var (
	imageOnce sync.Once
	imageTag  string
	imageErr  error
)

// BuildFixtureImage builds FixtureImage once per test binary: the fixture program
// compiled statically into a FROM scratch image, so that nothing is pulled.
// It returns a second tag of the same image named after the fixture's source
// (startsvc-fixture:src-HASH): a test binary of another checkout on the same
// Engine may retag FixtureImage with its own fixture at any moment, but never
// that one. Tests that need a subcommand newer than other checkouts' use it.
func BuildFixtureImage(t testing.TB) string {
	t.Helper()
	RequireDocker(t)
	imageOnce.Do(func() { imageTag, imageErr = buildFixture() })
	if imageErr != nil {
		t.Fatalf("build fixture image: %v", imageErr)
	}
	return imageTag
}

// fixtureLabel carries a hash of the fixture's source on the image, so that a
// test binary reuses an image another one built from the same source instead
// of building it again: a rebuild gives the tag a new image ID, and startsvc
// rightly recreates the containers of a project whose image changed — which
// would upset another package's tests running meanwhile.
const fixtureLabel = "startsvc.fixture.source"

// buildFixture makes sure FixtureImage and the source-named tag it returns
// hold the fixture of this source, building it only when no image does.
func buildFixture() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	src, err := os.ReadFile(filepath.Join(sourceDir(), "fixture", "main.go"))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append(src, runtime.Version()...))
	hash := hex.EncodeToString(sum[:12])
	tag := strings.Split(FixtureImage, ":")[0] + ":src-" + hash
	// One build at a time across the test binaries of this machine.
	lf, err := os.OpenFile(filepath.Join(os.TempDir(), "startsvc-fixture.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", err
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	docker := func(args ...string) error { return exec.CommandContext(ctx, "docker", args...).Run() }
	out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", `{{index .Config.Labels "`+fixtureLabel+`"}}`, FixtureImage).Output()
	if err == nil && strings.TrimSpace(string(out)) == hash {
		return tag, docker("tag", FixtureImage, tag)
	}
	if docker("image", "inspect", tag) == nil {
		return tag, docker("tag", tag, FixtureImage)
	}
	return tag, buildFixtureImage(ctx, hash, tag)
}

func buildFixtureImage(ctx context.Context, hash, tag string) error {
	dir, err := os.MkdirTemp("", "startsvc-fixture-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "fixture"), "./fixture")
	build.Dir = sourceDir()
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build fixture: %v\n%s", err, out)
	}
	dockerfile := "FROM scratch\nCOPY fixture /fixture\nENTRYPOINT [\"/fixture\"]\nCMD [\"serve\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	// The legacy builder needs nothing from a registry for FROM scratch.
	img := exec.CommandContext(ctx, "docker", "build", "--quiet", "--label", fixtureLabel+"="+hash, "--tag", FixtureImage, "--tag", tag, dir)
	img.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := img.CombinedOutput(); err != nil {
		return fmt.Errorf("docker build: %v\n%s", err, out)
	}
	return nil
}

// sourceDir is this package's directory, where ./fixture lives.
func sourceDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// ProjectName returns a compose project name no other test uses and removes
// the project, volumes included, when t ends.
func ProjectName(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "sst-" + hex.EncodeToString(b)
	t.Cleanup(func() { RemoveProject(name) })
	return name
}

// RemoveProject removes every container, network and volume of a project.
func RemoveProject(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "compose", "--project-name", name, "down", "--remove-orphans", "--volumes", "--timeout", "2")
	cmd.Dir = os.TempDir()
	_ = cmd.Run()
}

// Services returns the services of project that have a container, sorted;
// with all false only those whose container is running.
func Services(project string, all bool) ([]string, error) {
	args := []string{"ps", "--filter", "label=com.docker.compose.project=" + project,
		"--format", `{{.Label "com.docker.compose.service"}}`}
	if all {
		args = append(args, "--all")
	}
	out, err := exec.Command("docker", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("docker ps: %w", err)
	}
	names := strings.Fields(string(out))
	sort.Strings(names)
	return names, nil
}

// ContainerEnv returns the environment of the first container of service in
// project, exactly as the Engine stores it.
func ContainerEnv(project, service string) (map[string]string, error) {
	id, err := exec.Command("docker", "ps", "--all", "--quiet", "--filter", "label=com.docker.compose.project="+project,
		"--filter", "label=com.docker.compose.service="+service).Output()
	if err != nil {
		return nil, fmt.Errorf("docker ps: %w", err)
	}
	if len(bytes.Fields(id)) == 0 {
		return nil, fmt.Errorf("no container for service %s of project %s", service, project)
	}
	out, err := exec.Command("docker", "inspect", "--format", `{{json .Config.Env}}`, string(bytes.Fields(id)[0])).Output()
	if err != nil {
		return nil, fmt.Errorf("docker inspect: %w", err)
	}
	var list []string
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, fmt.Errorf("decode docker inspect: %w", err)
	}
	env := map[string]string{}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env, nil
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// StartsvcBinary builds cmd/startsvc once per test binary and returns its path,
// for tests that need a real process: signals, exit codes, timing.
func StartsvcBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "startsvc-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "startsvc")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", binPath, "./cmd/startsvc")
		cmd.Dir = filepath.Join(sourceDir(), "..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build startsvc: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}
