package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/testenv"
)

// TestConcurrentUpWaits starts two ups of one project: the second waits for
// the first, says so, and both succeed.
func TestConcurrentUpWaits(t *testing.T) {
	testenv.BuildFixtureImage(t)
	stack := writeStack(t, "services:\n  app:\n    image: "+testenv.FixtureImage+"\n    environment: {READY_AFTER: 3s}\n"+
		"    healthcheck:\n      test: [\"CMD\", \"/fixture\", \"health\"]\n      interval: 1s\n      start_period: 60s\n")
	project := testenv.ProjectName(t)
	// Both are the same user's: they share the folder locks live in (each
	// run of a test gets a state folder of its own otherwise).
	shared := []string{"XDG_RUNTIME_DIR=" + t.TempDir()}
	_, out1, wait1 := startWatched(t, shared, "up", "-C", stack, "-p", project)
	until(t, 60*time.Second, "the first up to start compose", func() bool { return strings.Contains(out1.String(), "starting project") })
	_, out2, wait2 := startWatched(t, shared, "up", "-C", stack, "-p", project)
	code1, code2 := wait1(), wait2()
	if code1 != 0 || code2 != 0 {
		t.Fatalf("exits %d and %d, want 0 and 0:\n--- first\n%s\n--- second\n%s", code1, code2, out1.String(), out2.String())
	}
	if !strings.Contains(out2.String(), "is working on project "+project+"; waiting") {
		t.Errorf("the second up does not say it waits:\n%s", out2.String())
	}
	if running, _ := testenv.Services(project, false); len(running) != 1 {
		t.Errorf("running services: %v", running)
	}
}
