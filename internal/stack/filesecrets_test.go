package stack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadFileSecrets(t *testing.T) {
	cases := []struct {
		name, file string
		check      func(FileSecrets) bool
		err        string
	}{
		{name: "no file", check: func(f FileSecrets) bool { return len(f) == 0 }},
		{name: "short and long forms", file: "services:\n  db: [POSTGRES_PASSWORD]\n  app:\n    - TOKEN\n    - {key: KEY, file_env: KEY_PATH, uid: \"1000\", gid: \"1000\", mode: 0440}\n",
			check: func(f FileSecrets) bool {
				db, app := f.For("db"), f.For("app")
				return len(db) == 1 && db[0].Key == "POSTGRES_PASSWORD" && db[0].FileEnv == "POSTGRES_PASSWORD_FILE" &&
					db[0].Path() == "/run/secrets/POSTGRES_PASSWORD" && db[0].Mode == nil &&
					len(app) == 2 && app[0].Key == "TOKEN" && app[1].FileEnv == "KEY_PATH" && app[1].UID == "1000" &&
					app[1].Mode != nil && *app[1].Mode == 0o440 && strings.Join(f.Services(), ",") == "app,db"
			}},
		{name: "not a variable", file: "services:\n  db: [\"A-B\"]\n", err: `line 2: service db: "A-B" is not a variable name`},
		{name: "twice", file: "services:\n  db: [A, A]\n", err: "declares A twice"},
		{name: "bad mode", file: "services:\n  db: [{key: A, mode: 01777}]\n", err: "not a file mode"},
		{name: "unknown field", file: "service:\n  db: [A]\n", err: "file-secrets.yml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.file != "" {
				if err := os.WriteFile(filepath.Join(dir, FileSecretsFile), []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f, err := LoadFileSecrets(dir)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || !tc.check(f) {
				t.Fatalf("got %+v, %v", f, err)
			}
		})
	}
}

func TestFileSecretsCheckNamesUnknownServices(t *testing.T) {
	f := FileSecrets{"db": {{Key: "A"}}, "ghost": {{Key: "B"}}}
	err := f.Check([]string{"db", "app"})
	if err == nil || !strings.Contains(err.Error(), "ghost") || strings.Contains(err.Error(), "db,") {
		t.Fatalf("Check: %v", err)
	}
	if err := f.Check([]string{"db", "ghost"}); err != nil {
		t.Fatal(err)
	}
}

func TestLoadEnvOnly(t *testing.T) {
	cases := []struct {
		name, file string
		err        string
	}{
		{name: "no file"},
		{name: "both sections", file: "services:\n  db: [POSTGRES_PASSWORD]\nenv_only:\n  flowise: [FLOWISE_PASSWORD, OTHER_KEY]\n  db: [DATABASE_URL]\n"},
		{name: "file and env_only", file: "services:\n  db: [A]\nenv_only:\n  db: [A]\n", err: "takes A as a file and keeps it in its environment"},
		{name: "twice", file: "env_only:\n  db: [A, A]\n", err: "names A of service db twice"},
		{name: "not a variable", file: "env_only:\n  db: [\"A B\"]\n", err: `"A B" is not a variable name`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.file != "" {
				if err := os.WriteFile(filepath.Join(dir, FileSecretsFile), []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			e, err := LoadEnvOnly(dir)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.file != "" && (!e.Has("flowise", "OTHER_KEY") || !e.Has("db", "DATABASE_URL") || e.Has("db", "POSTGRES_PASSWORD")) {
				t.Errorf("env_only read as %v", e)
			}
			if f, err := LoadFileSecrets(dir); err != nil || (tc.file != "" && len(f.For("db")) != 1) {
				t.Errorf("the services section beside env_only: %v, %v", f, err)
			}
			if err := e.Check([]string{"db", "flowise"}); err != nil {
				t.Error(err)
			}
			if tc.file != "" {
				if err := e.Check([]string{"db"}); err == nil || !strings.Contains(err.Error(), "flowise") {
					t.Errorf("Check without flowise: %v", err)
				}
			}
		})
	}
}
