package doctor_test

import (
	"context"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/doctor"
	"github.com/startsvc/startsvc/internal/exitcode"
)

// file-secrets.yml is checked as up reads it: doctor fails where up would,
// with up's exit code and message, and passes where up would deliver.
func TestFileSecretsCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		decl    string // file-secrets.yml; "" for none
		env     string // replaces app's environment: section when set
		status  doctor.Status
		code    int
		message string
	}{
		{name: "no file", status: doctor.OK, message: "declares none"},
		{name: "a key of app", decl: "services:\n  app: [TOKEN]\n", status: doctor.OK, message: "1 key of 1 service delivered as files"},
		{name: "two keys, env_only beside", decl: "services:\n  app: [TOKEN, URL]\nenv_only:\n  app: [OPTIONAL]\n", status: doctor.OK, message: "2 keys of 1 service"},
		{name: "unknown service", decl: "services:\n  nosuch: [TOKEN]\n", status: doctor.Error, code: exitcode.Usage,
			message: "names nosuch, which the compose files do not define"},
		{name: "env_only of an unknown service", decl: "env_only:\n  ghost: [TOKEN]\n", status: doctor.Error, code: exitcode.Usage,
			message: "names ghost"},
		{name: "key not in the environment section", decl: "services:\n  app: [NOT_THERE]\n", status: doctor.Error, code: exitcode.Usage,
			message: "NOT_THERE is not in the service's environment: section"},
		{name: "file variable set by the service", decl: "services:\n  app: [TOKEN]\n",
			env:    "      TOKEN: ${APP_TOKEN:?}\n      TOKEN_FILE: /elsewhere\n",
			status: doctor.Error, code: exitcode.Usage, message: "the service sets TOKEN_FILE itself"},
		{name: "not a variable name", decl: "services:\n  app: [\"NOT-A-NAME\"]\n", status: doctor.Error, code: exitcode.Usage,
			message: "is not a variable name"},
		{name: "unknown field", decl: "service:\n  app: [TOKEN]\n", status: doctor.Error, code: exitcode.Usage, message: "file-secrets.yml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := appStack
			if tc.decl != "" {
				files = with(files, map[string]string{"file-secrets.yml": tc.decl})
			}
			if tc.env != "" {
				base := files["compose/docker-compose.yml"]
				start := strings.Index(base, "    environment:\n") + len("    environment:\n")
				end := strings.Index(base, "    ports:")
				files = with(files, map[string]string{"compose/docker-compose.yml": base[:start] + tc.env + base[end:]})
			}
			rep := doctor.Run(context.Background(), options(writeStack(t, files)))
			c := check(t, rep, doctor.CheckFileSecrets)
			if c.Status != tc.status || !strings.Contains(c.Message, tc.message) {
				t.Errorf("file-secrets: %s %q, want %s containing %q", c.Status, c.Message, tc.status, tc.message)
			}
			if tc.status == doctor.Error {
				if c.Hint == "" {
					t.Error("an error without a hint")
				}
				if got := rep.ExitCode(); got != tc.code {
					t.Errorf("exit %d, want %d", got, tc.code)
				}
			}
			if others := notOK(rep, doctor.CheckFileSecrets, doctor.CheckInfisicalAuth, doctor.CheckUnset, doctor.CheckExampleMissing, doctor.CheckExampleExtra); len(others) > 0 {
				t.Errorf("other checks changed: %v", others)
			}
			assertNoValues(t, rep, secretValues...)
		})
	}
}

// Keys delivered as files need compose 2.24.4; doctor says so under
// compose-features, exit 3, as up would refuse.
func TestFileSecretsNeedARecentCompose(t *testing.T) {
	dir := writeStack(t, with(appStack, map[string]string{"file-secrets.yml": "services:\n  app: [TOKEN]\n"}))
	o := options(dir)
	rep := doctor.Run(context.Background(), o)
	if c := check(t, rep, doctor.CheckComposeFeatures); c.Status != doctor.OK || !strings.Contains(c.Message, "file-delivered secrets (compose >= 2.24.4)") {
		t.Errorf("compose 2.40.3: %s %q", c.Status, c.Message)
	}
	o.FindCompose = func(context.Context) (compose.CLI, error) {
		return compose.CLI{Argv: []string{"docker", "compose"}, Version: compose.Version{Major: 2, Minor: 23}}, nil
	}
	rep = doctor.Run(context.Background(), o)
	if c := check(t, rep, doctor.CheckComposeFeatures); c.Status != doctor.Error || !strings.Contains(c.Message, "file-delivered secrets") || rep.ExitCode() != exitcode.Unavailable {
		t.Errorf("compose 2.23: %s %q, exit %d", c.Status, c.Message, rep.ExitCode())
	}
	// Without declarations the same compose is enough.
	o.Dir = writeStack(t, appStack)
	o.EnvFile = o.Dir + "/.env"
	rep = doctor.Run(context.Background(), o)
	if c := check(t, rep, doctor.CheckComposeFeatures); c.Status != doctor.OK {
		t.Errorf("compose 2.23 without file-secrets.yml: %s %q", c.Status, c.Message)
	}
}
