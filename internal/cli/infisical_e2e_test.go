package cli_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/testenv"
)

// TestSetupMigrateOnTheFixtureStack is issue 16's second promise, on the real
// Docker Engine: a stack that runs on .env alone, then `infisical setup
// --migrate` against a fresh Infisical — afterwards .env holds no secret but
// Infisical's own settings, Infisical holds the secrets, and the container
// receives exactly the values it received before, without a restart: plan
// then finds nothing to do.
func TestSetupMigrateOnTheFixtureStack(t *testing.T) {
	testenv.BuildFixtureImage(t)
	srv := infisicaltest.New()
	t.Cleanup(srv.Close)
	stack := migrateStack(t)
	envPath := filepath.Join(stack, ".env")
	project := testenv.ProjectName(t)

	r := startsvc(t, nil, "up", "-C", stack, "-p", project)
	if r.code != 0 {
		t.Fatalf("up on .env alone exited %d:\n%s", r.code, masked(r.out))
	}
	before, err := testenv.ContainerEnv(project, "app")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range migrateValues {
		if before[k] != v {
			t.Fatalf("before setup, %s does not arrive as .env has it", k)
		}
	}
	started := inspectService(t, project, "app").State.StartedAt

	r = startsvc(t, nil, "infisical", "setup", "--migrate", "-C", stack, "-p", project,
		"--infisical-url", srv.URL, "--admin-email", "admin@example.com")
	if r.code != 0 {
		t.Fatalf("infisical setup --migrate exited %d:\n%s", r.code, masked(r.out))
	}
	kept, err := compose.ReadEnvFile(envPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	projectID := kept["INFISICAL_PROJECT_ID"]
	if projectID == "" || projectID != srv.ProjectIDBySlug(project) {
		t.Fatalf(".env does not name the project setup created")
	}
	stored := srv.Secrets(projectID, "dev", "/")
	for _, k := range append(migrateMoved, "CONFLICT_PASSWORD") {
		if _, ok := kept[k]; ok {
			t.Errorf("%s is still in .env", k)
		}
		if stored[k] != migrateValues[k] {
			t.Errorf("%s is not in Infisical as compose read it", k)
		}
	}
	for _, k := range migrateKept {
		if kept[k] != migrateValues[k] {
			t.Errorf("%s is not kept in .env as it was", k)
		}
	}
	for _, k := range []string{"INFISICAL_API_URL", "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET", "INFISICAL_ADMIN_PASSWORD"} {
		if kept[k] == "" {
			t.Errorf(".env lost %s", k)
		}
		if _, ok := stored[k]; ok {
			t.Errorf("Infisical's own setting %s was moved into Infisical", k)
		}
	}

	after, err := testenv.ContainerEnv(project, "app")
	if err != nil {
		t.Fatal(err)
	}
	for k := range migrateValues {
		if after[k] != before[k] {
			t.Errorf("%s reaches the container differently after setup --migrate (%d bytes, before %d)", k, len(after[k]), len(before[k]))
		}
	}
	// Nothing needed a restart: the container kept running through setup
	// --migrate, and plan finds the project in step.
	if again := inspectService(t, project, "app").State.StartedAt; !again.Equal(started) {
		t.Errorf("setup --migrate restarted the container (started %s, now %s)", started, again)
	}
	plan := startsvc(t, nil, "plan", "-C", stack, "-p", project, "--json")
	if plan.code != 0 || !strings.Contains(plan.out, `"pending": false`) {
		t.Errorf("plan after setup --migrate exited %d, want 0 with nothing pending:\n%s", plan.code, masked(plan.out))
	}

	values := migrateSecrets()
	values["INFISICAL_ADMIN_PASSWORD"] = kept["INFISICAL_ADMIN_PASSWORD"]
	values["INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET"] = kept["INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET"]
	assertNoValues(t, r.out, values)
}
