package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// fixtureImage is the tag startsvc's tests use for the fixture program; the
// bench builds the same image so that nothing is pulled.
const fixtureImage = "startsvc-fixture:test"

// prepareStack builds the fixture image, writes the fixture stack and picks a
// project name no one else uses. The caller removes the project at the end.
func (b *bench) prepareStack(ctx context.Context) error {
	b.logf("building the fixture image %s", fixtureImage)
	dir := filepath.Join(b.work, "fixture")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if _, err := b.exec(ctx, 5*time.Minute, b.root, append([]string{"CGO_ENABLED=0", "GOOS=linux"}, b.goBuild...),
		"go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "fixture"), "./internal/testenv/fixture"); err != nil {
		return fmt.Errorf("build the fixture program: %w", err)
	}
	dockerfile := "FROM scratch\nCOPY fixture /fixture\nENTRYPOINT [\"/fixture\"]\nCMD [\"serve\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	// The classic builder needs nothing from a registry for FROM scratch.
	if _, err := b.exec(ctx, 5*time.Minute, dir, []string{"DOCKER_BUILDKIT=0"},
		"docker", "build", "--quiet", "--tag", fixtureImage, dir); err != nil {
		return fmt.Errorf("build the fixture image: %w", err)
	}

	b.stack = filepath.Join(b.work, "stack")
	if err := os.MkdirAll(filepath.Join(b.stack, "compose"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(b.composeFile(), []byte(fixtureCompose(b.opts.readyAfter)), 0o644); err != nil {
		return err
	}
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	b.project = "ssbench-" + hex.EncodeToString(id)
	return b.down(ctx)
}

func (b *bench) composeFile() string { return filepath.Join(b.stack, "compose", "docker-compose.yml") }

// fixtureCompose is the stack of (a) and (b): one service that turns healthy
// after readyAfter. The healthcheck runs every 500 ms, so both tools can see
// the change within half a second of it.
func fixtureCompose(readyAfter time.Duration) string {
	return `services:
  app:
    image: ` + fixtureImage + `
    pull_policy: never
    command: ["serve"]
    environment:
      READY_AFTER: ` + readyAfter.String() + `
    healthcheck:
      test: ["CMD", "/fixture", "health"]
      interval: 500ms
      timeout: 2s
      retries: 100
`
}

// down removes the project's containers and network; it is never timed.
func (b *bench) down(ctx context.Context) error {
	_, err := b.exec(ctx, 2*time.Minute, b.stack, nil,
		"docker", "compose", "--project-name", b.project, "down", "--remove-orphans", "--volumes", "--timeout", "2")
	return err
}

// removeProject is down on the way out: it runs even after Ctrl-C.
func (b *bench) removeProject() {
	if b.project == "" {
		return
	}
	if err := b.down(context.Background()); err != nil {
		b.logf("could not remove compose project %s: %v", b.project, err)
	}
}

// checkHealthy makes sure a bring-up that returned left the service healthy:
// a tool that returned early would otherwise look fast.
func (b *bench) checkHealthy(ctx context.Context) error {
	s, err := b.exec(ctx, 30*time.Second, b.stack, nil, "docker", "ps", "--quiet",
		"--filter", "label=com.docker.compose.project="+b.project, "--filter", "health=healthy")
	if err != nil {
		return err
	}
	if len(strings.Fields(string(s.out))) != 1 {
		return errors.New("the command returned before the service was healthy")
	}
	return nil
}

// rounds calls do for the warm-up rounds (timed false), then for the timed
// ones, with the order of the tools swapped every round so that a drift of
// the machine over time weighs on both equally.
func rounds(warmup, runs, tools int, do func(tool int, timed bool) error) error {
	for r := 0; r < warmup+runs; r++ {
		for k := 0; k < tools; k++ {
			i := k
			if r%2 == 1 {
				i = tools - 1 - k
			}
			if err := do(i, r >= warmup); err != nil {
				return err
			}
		}
	}
	return nil
}

// benchUp is (a): the same stack brought up by startsvc and by compose alone,
// alternating, each run from a removed project.
func (b *bench) benchUp(ctx context.Context) (section, error) {
	o := b.opts
	names := []string{"startsvc up", "docker compose up -d --wait"}
	argv := [][]string{
		{b.bin, "up", "-C", b.stack, "-p", b.project, "--skip-infisical", "--wait-timeout", o.upTimeout.String()},
		{"docker", "compose", "--project-name", b.project, "--project-directory", b.stack, "--file", b.composeFile(),
			"up", "--detach", "--wait", "--wait-timeout", strconv.Itoa(int(o.upTimeout.Seconds()))},
	}
	got := make([]series, len(names))
	b.logf("(a) %d warm-up and %d timed bring-ups per tool, %s each at least", o.warmup, o.runs, o.readyAfter)
	err := rounds(o.warmup, o.runs, len(names), func(i int, timed bool) error {
		if err := b.down(ctx); err != nil {
			return err
		}
		s, err := b.exec(ctx, o.upTimeout+30*time.Second, b.stack, nil, argv[i][0], argv[i][1:]...)
		if err != nil {
			return err
		}
		if err := b.checkHealthy(ctx); err != nil {
			return fmt.Errorf("%s: %w", names[i], err)
		}
		if timed {
			got[i] = append(got[i], s)
		}
		return nil
	})
	if err != nil {
		return section{}, err
	}
	if err := b.down(ctx); err != nil {
		return section{}, err
	}

	sv, cp := got[0], got[1]
	perRound := make([]float64, len(sv))
	for i := range sv {
		perRound[i] = float64(sv[i].wall) / float64(cp[i].wall)
	}
	r := float64(sv.medianWall()) / float64(cp.medianWall())
	t := table{head: []string{"command", "median", "min – max", "runs"}}
	for i, s := range got {
		t.rows = append(t.rows, []string{names[i], ms(s.medianWall()), spread(s), strconv.Itoa(len(s))})
	}
	three := func(f float64) string { return fmt.Sprintf("%.3f", f) }
	return section{
		title: "(a) startsvc up against docker compose up -d --wait",
		intro: fmt.Sprintf("One service (the fixture image) that turns healthy %s after it starts, healthcheck every 500 ms. "+
			"The two commands alternate, the one going first swapped every round, each run from a removed project; "+
			"%d untimed warm-up round(s) first. startsvc runs with --skip-infisical.", o.readyAfter, o.warmup),
		tables: []table{t},
		verdict: []string{
			fmt.Sprintf("ratio of medians, startsvc / compose: %.3f (median of the per-round ratios: %.3f); "+
				"startsvc's median is %+.0f ms from compose's", r, median(perRound),
				float64(sv.medianWall()-cp.medianWall())/float64(time.Millisecond)),
			verdict("goal of issue 7", r, 1.10, false, three),
			verdict("acceptance of issue 4", r, 1.25, false, three),
		},
	}, nil
}

// benchDryRun is (b): what startsvc costs before compose does anything, next
// to what compose takes to read the same stack.
func (b *bench) benchDryRun(ctx context.Context) (section, error) {
	o := b.opts
	names := []string{"startsvc up --dry-run", "docker compose config --quiet (reference)"}
	argv := [][]string{
		{b.bin, "up", "--dry-run", "-C", b.stack, "-p", b.project, "--skip-infisical"},
		{"docker", "compose", "--project-name", b.project, "--project-directory", b.stack, "--file", b.composeFile(),
			"config", "--quiet"},
	}
	// At least one warm-up: the first run reads compose's version and caches it.
	warmup := max(o.warmup, 1)
	got := make([]series, len(names))
	b.logf("(b) %d warm-up and %d timed dry runs", warmup, o.runs)
	err := rounds(warmup, o.runs, len(names), func(i int, timed bool) error {
		s, err := b.exec(ctx, time.Minute, b.stack, nil, argv[i][0], argv[i][1:]...)
		if err == nil && timed {
			got[i] = append(got[i], s)
		}
		return err
	})
	if err != nil {
		return section{}, err
	}
	sv := got[0]
	t := table{head: []string{"command", "median", "min – max", "peak RSS (median)", "peak RSS (max)"}}
	for i, s := range got {
		t.rows = append(t.rows, []string{names[i], ms(s.medianWall()), spread(s), mib(s.medianRSS()), mib(s.maxRSS())})
	}
	msf := func(f float64) string { return ms(time.Duration(f)) }
	mibf := func(f float64) string { return mib(int64(f)) }
	v := []string{
		verdict("median wall time", float64(sv.medianWall()), float64(50*time.Millisecond), true, msf),
		fmt.Sprintf("startsvc's dry run takes %s the time compose takes to read and validate the same files",
			ratio(float64(sv.medianWall()), float64(got[1].medianWall()))),
	}
	if sv.maxRSS() >= 0 {
		v = append(v, verdict("largest peak RSS", float64(sv.maxRSS()), 30<<20, true, mibf))
	}
	return section{
		title: "(b) startsvc's own overhead: up --dry-run",
		intro: "The whole preflight (Engine ping, compose version from the cache, compose files loaded and checked, " +
			"stages planned) and the printed plan, without running compose. Peak RSS is the process's ru_maxrss, " +
			"which also counts any child it waited for; with the compose version cached the dry run starts none. " +
			"Alternated with `docker compose config --quiet` on the same files as a reference.",
		tables:  []table{t},
		verdict: v,
	}, nil
}
