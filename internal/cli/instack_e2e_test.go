package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

// TestInfisicalInsideTheStack: when startsvc fetches from an Infisical on this
// machine and stages.yml has a stage for it, that stage starts first with .env
// alone, secrets are fetched once its URL answers, and the later stages get
// them — including a required variable only Infisical supplies, which must not
// stop the preflight.
func TestInfisicalInsideTheStack(t *testing.T) {
	testenv.BuildFixtureImage(t)
	srv := fakeInfisical(t, infisicaltest.V4)
	srv.SetSecret("proj-1", "dev", "/", "APP_SECRET", "app-secret-from-infisical")
	stack := writeStack(t, `services:
  infisical:
    image: `+testenv.FixtureImage+`
    environment:
      BOOTSTRAP: ${INFISICAL_BOOTSTRAP:?the in-stack Infisical needs it from .env}
    healthcheck:
      test: ["CMD", "/fixture", "health"]
      interval: 1s
      start_period: 60s
  app:
    image: `+testenv.FixtureImage+`
    environment:
      APP_SECRET: ${APP_SECRET:?set by Infisical}
      OVERRIDE: ${OVERRIDE}
`)
	if err := os.WriteFile(filepath.Join(stack, "stages.yml"), []byte(inStackStages(srv.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stack, ".env"), []byte("INFISICAL_BOOTSTRAP=bootstrap-value\nOVERRIDE=override-from-dotenv\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	project := testenv.ProjectName(t)
	// The fake server listens on 127.0.0.1: startsvc takes it for the stack's own.
	r := startsvc(t, infisicalEnv(srv, "client-secret-value-1"), "up", "-C", stack, "-p", project, "-v")
	if r.code != 0 {
		t.Fatalf("up exited %d:\n%s", r.code, r.out)
	}
	first := strings.Index(r.out, "stage 1/2 secrets")
	fetched := strings.Index(r.out, "secrets from Infisical")
	second := strings.Index(r.out, "stage 2/2 apps")
	if first < 0 || fetched < first || second < fetched {
		t.Errorf("want the secrets stage, then the fetch, then the apps stage:\n%s", r.out)
	}
	app, err := testenv.ContainerEnv(project, "app")
	if err != nil {
		t.Fatal(err)
	}
	if app["APP_SECRET"] != "app-secret-from-infisical" || app["OVERRIDE"] != "override-from-infisical" {
		t.Errorf("the later stage did not get Infisical's values (APP_SECRET %d bytes, OVERRIDE %q)", len(app["APP_SECRET"]), app["OVERRIDE"])
	}
	infisical, err := testenv.ContainerEnv(project, "infisical")
	if err != nil {
		t.Fatal(err)
	}
	if infisical["BOOTSTRAP"] != "bootstrap-value" {
		t.Errorf("the Infisical stage did not get its bootstrap value from .env")
	}
	if _, err := os.Stat(filepath.Join(stack, secrets.FileName)); !os.IsNotExist(err) {
		t.Errorf("%s left behind", secrets.FileName)
	}
	assertNoValues(t, r.out, map[string]string{"APP": "app-secret-from-infisical", "OVERRIDE": "override-from-infisical"})
	if strings.Contains(r.out, "startsvc-pending-infisical") {
		t.Errorf("the stand-in for a pending variable reached the output")
	}
}

// TestInStackStageCannotNeedInfisicalValues: a service that starts before the
// fetch cannot use a variable only Infisical supplies; startsvc says so and
// starts nothing.
func TestInStackStageCannotNeedInfisicalValues(t *testing.T) {
	testenv.BuildFixtureImage(t)
	srv := fakeInfisical(t, infisicaltest.V4)
	stack := writeStack(t, `services:
  infisical:
    image: `+testenv.FixtureImage+`
    environment:
      NEEDS: ${ONLY_IN_INFISICAL:?}
  app:
    image: `+testenv.FixtureImage+`
`)
	stages := "stages:\n  - name: secrets\n    when: infisical-in-stack\n    services: [infisical]\n    fetch_secrets: true\n"
	if err := os.WriteFile(filepath.Join(stack, "stages.yml"), []byte(stages), 0o644); err != nil {
		t.Fatal(err)
	}
	project := testenv.ProjectName(t)
	r := startsvc(t, infisicalEnv(srv, "client-secret-value-1"), "up", "-C", stack, "-p", project)
	if r.code != 2 || !strings.Contains(r.out, "service infisical starts in stage \"secrets\"") || !strings.Contains(r.out, "ONLY_IN_INFISICAL") {
		t.Fatalf("exit %d, want 2 naming the service and the variable:\n%s", r.code, r.out)
	}
	if left, _ := testenv.Services(project, true); len(left) != 0 {
		t.Errorf("containers were created: %v", left)
	}
}
