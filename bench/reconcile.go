package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// reconcileServices is how many services the stack of (r) has.
const reconcileServices = 6

// reconcileCompose is the stack of (r): six services, each healthy
// readyAfter after it starts.
func reconcileCompose(readyAfter time.Duration) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := 1; i <= reconcileServices; i++ {
		fmt.Fprintf(&b, `  svc%d:
    image: %s
    pull_policy: never
    environment:
      READY_AFTER: %s
      SETTING: "${SETTING_%d}"
    healthcheck:
      test: ["CMD", "/fixture", "health"]
      interval: 500ms
      timeout: 2s
      retries: 100
`, i, fixtureImage, readyAfter, i)
	}
	return b.String()
}

// benchReconcile is (r): a second up of a running six-service project with
// nothing changed, by startsvc and by compose (up -d --wait), each on a
// project of its own brought up once beforehand, alternating. Both must leave
// every container as it was; the bench fails if either recreates one.
func (b *bench) benchReconcile(ctx context.Context) (section, error) {
	o := b.opts
	stack := filepath.Join(b.work, "reconcile")
	file := filepath.Join(stack, "compose", "docker-compose.yml")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return section{}, err
	}
	if err := os.WriteFile(file, []byte(reconcileCompose(2*time.Second)), 0o644); err != nil {
		return section{}, err
	}
	var env strings.Builder
	for i := 1; i <= reconcileServices; i++ {
		fmt.Fprintf(&env, "SETTING_%d=value-%d\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(stack, ".env"), []byte(env.String()), 0o600); err != nil {
		return section{}, err
	}
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	projects := []string{"ssrec-s-" + hex.EncodeToString(id), "ssrec-c-" + hex.EncodeToString(id)}
	defer func() {
		for _, p := range projects {
			_, _ = b.exec(context.Background(), 2*time.Minute, stack, nil,
				"docker", "compose", "--project-name", p, "down", "--remove-orphans", "--volumes", "--timeout", "2")
		}
	}()
	names := []string{"startsvc up (second, nothing changed)", "docker compose up -d --wait (second, nothing changed)"}
	argv := [][]string{
		{b.bin, "up", "-C", stack, "-p", projects[0], "--skip-infisical", "--profile", "none", "--wait-timeout", o.upTimeout.String()},
		{"docker", "compose", "--project-name", projects[1], "--project-directory", stack, "--file", file,
			"--env-file", filepath.Join(stack, ".env"), "up", "--detach", "--wait", "--wait-timeout", strconv.Itoa(int(o.upTimeout.Seconds()))},
	}
	before := make([][]string, len(argv))
	b.logf("(r) bringing up two projects of %d services once each", reconcileServices)
	for i := range argv {
		if _, err := b.exec(ctx, o.upTimeout+30*time.Second, stack, nil, argv[i][0], argv[i][1:]...); err != nil {
			return section{}, err
		}
		ids, err := b.containerIDs(ctx, stack, projects[i])
		if err != nil {
			return section{}, err
		}
		if len(ids) != reconcileServices {
			return section{}, fmt.Errorf("%s: %d containers after the first up, want %d", names[i], len(ids), reconcileServices)
		}
		before[i] = ids
	}
	got := make([]series, len(names))
	b.logf("(r) %d warm-up and %d timed second ups per tool", o.warmup, o.runs)
	err := rounds(o.warmup, o.runs, len(names), func(i int, timed bool) error {
		s, err := b.exec(ctx, o.upTimeout+30*time.Second, stack, nil, argv[i][0], argv[i][1:]...)
		if err != nil {
			return err
		}
		ids, err := b.containerIDs(ctx, stack, projects[i])
		if err != nil {
			return err
		}
		if !slices.Equal(ids, before[i]) {
			return fmt.Errorf("%s recreated containers", names[i])
		}
		if timed {
			got[i] = append(got[i], s)
		}
		return nil
	})
	if err != nil {
		return section{}, err
	}
	r := float64(got[0].medianWall()) / float64(got[1].medianWall())
	t := table{head: []string{"command", "median", "min – max", "runs", "containers recreated"}}
	for i, s := range got {
		t.rows = append(t.rows, []string{names[i], ms(s.medianWall()), spread(s), strconv.Itoa(len(s)), "0"})
	}
	return section{
		title: "(r) a second up with nothing changed: startsvc against docker compose up -d --wait",
		intro: fmt.Sprintf("%d services (the fixture image), each healthy 2 s after it starts, healthcheck every 500 ms, "+
			"one variable from .env each. Each tool has a project of its own, brought up once beforehand; then the two "+
			"commands alternate, the one going first swapped every round, %d untimed warm-up round(s) first. "+
			"After every run the bench checks that no container was recreated (same IDs). startsvc runs with --skip-infisical.",
			reconcileServices, o.warmup),
		tables: []table{t},
		verdict: []string{
			fmt.Sprintf("ratio of medians, startsvc / compose: %.3f", r),
			verdict("acceptance of issue 10", r, 1.5, false, func(f float64) string { return fmt.Sprintf("%.3f", f) }),
		},
	}, nil
}

// containerIDs lists the IDs of a project's containers, sorted.
func (b *bench) containerIDs(ctx context.Context, dir, project string) ([]string, error) {
	s, err := b.exec(ctx, 30*time.Second, dir, nil, "docker", "ps", "--all", "--quiet", "--no-trunc",
		"--filter", "label=com.docker.compose.project="+project)
	if err != nil {
		return nil, err
	}
	ids := strings.Fields(string(s.out))
	slices.Sort(ids)
	return ids, nil
}
