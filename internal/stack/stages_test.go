package stack

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/exitcode"
)

var defined = []string{"n8n", "db", "kong", "rest", "infisical", "infisical-db", "ollama-cpu", "ollama-gpu", "qdrant"}

const shipped = `
stages:
  - name: secrets
    when: infisical-in-stack
    services: [infisical, infisical-db]
    ready_url: http://localhost:8010/api/status
    fetch_secrets: true
  - name: databases
    services: [db, qdrant]
  - name: apps
    services: ["*"]
`

func TestParseStagesErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown service", "stages:\n  - name: a\n    services: [n8m]\n", `stages.yml: stage a: unknown service "n8m"; the compose files define db, infisical`},
		{"service in two stages", "stages:\n  - name: a\n    services: [db]\n  - name: b\n    services: [n8n, db]\n", "stages.yml: service db is in two stages, a and b"},
		{"service twice in a stage", "stages:\n  - name: a\n    services: [db, db]\n", "stages.yml: stage a names service db twice"},
		{"no name", "stages:\n  - services: [db]\n", "stages.yml: stage 1 has no name"},
		{"duplicate name", "stages:\n  - name: a\n    services: [db]\n  - name: a\n    services: [n8n]\n", `stages.yml: two stages are named "a"`},
		{"no services", "stages:\n  - name: a\n", "stages.yml: stage a names no services"},
		{"unknown condition", "stages:\n  - name: a\n    when: sunny\n    services: [db]\n", `stages.yml: stage a: unknown condition "sunny" in when; known: infisical-in-stack`},
		{"bad url", "stages:\n  - name: a\n    services: [db]\n    ready_url: localhost:8010\n", `stages.yml: stage a: ready_url "localhost:8010" is not an http or https URL`},
		{"two fetches", "stages:\n  - name: a\n    services: [db]\n    fetch_secrets: true\n  - name: b\n    services: [n8n]\n    fetch_secrets: true\n", "stages.yml: stages a and b both set fetch_secrets"},
		{"wildcard not alone", "stages:\n  - name: a\n    services: [db, \"*\"]\n", `stages.yml: stage a: "*" stands alone`},
		{"two wildcards", "stages:\n  - name: a\n    services: [\"*\"]\n  - name: b\n    services: [\"*\"]\n", `stages.yml: stages a and b both take "*"`},
		{"unknown key", "stages:\n  - name: a\n    service: [db]\n", "stages.yml: "},
		{"not yaml", "stages: [", "stages.yml: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseStages("stages.yml", []byte(tt.yaml), defined)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to start with %q", err, tt.want)
			}
			if code := exitcode.Of(nil, err); code != exitcode.Usage {
				t.Errorf("exit code %d, want %d (usage)", code, exitcode.Usage)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	shippedStages, err := ParseStages("stages.yml", []byte(shipped), defined)
	if err != nil {
		t.Fatal(err)
	}
	inStack := func(c string) bool { return c == WhenInfisicalInStack }
	never := func(string) bool { return false }
	cpu := []string{"n8n", "db", "kong", "rest", "infisical", "infisical-db", "ollama-cpu", "qdrant"}

	tests := []struct {
		name   string
		stages *Stages
		active []string
		holds  func(string) bool
		want   []Step
	}{
		{
			name: "no file: one stage with every active service", stages: &Stages{},
			active: []string{"web", "db"},
			want:   []Step{{Name: "all", Services: []string{"db", "web"}}},
		},
		{
			name: "shipped stack with Infisical inside", stages: shippedStages, active: cpu, holds: inStack,
			want: []Step{
				{Name: "secrets", Services: []string{"infisical", "infisical-db"}, ReadyURL: "http://localhost:8010/api/status", FetchSecrets: true},
				{Name: "databases", Services: []string{"db", "qdrant"}},
				{Name: "apps", Services: []string{"kong", "n8n", "ollama-cpu", "rest"}},
			},
		},
		{
			name: "condition false: the stage is skipped and its services start with the rest", stages: shippedStages, active: cpu, holds: never,
			want: []Step{
				{Name: "databases", Services: []string{"db", "qdrant"}},
				{Name: "apps", Services: []string{"infisical", "infisical-db", "kong", "n8n", "ollama-cpu", "rest"}},
			},
		},
		{
			name: "inactive services are skipped, and a stage left empty", stages: shippedStages,
			active: []string{"n8n", "qdrant"}, holds: inStack,
			want: []Step{
				{Name: "databases", Services: []string{"qdrant"}},
				{Name: "apps", Services: []string{"n8n"}},
			},
		},
		{
			name:   "services no stage names start last when there is no wildcard",
			stages: &Stages{Stages: []Stage{{Name: "first", Services: []string{"qdrant", "db"}}}},
			active: []string{"n8n", "db", "qdrant"},
			want: []Step{
				{Name: "first", Services: []string{"qdrant", "db"}},
				{Name: "rest", Services: []string{"n8n"}},
			},
		},
		{
			name:   "a wildcard stage with nothing left is skipped",
			stages: &Stages{Stages: []Stage{{Name: "first", Services: []string{"db"}}, {Name: "others", Services: []string{Everything}}}},
			active: []string{"db"},
			want:   []Step{{Name: "first", Services: []string{"db"}}},
		},
		{
			name: "nothing active", stages: shippedStages, active: nil, holds: inStack,
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.stages.Plan(tt.active, tt.holds)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Plan:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestLoadStages(t *testing.T) {
	dir := t.TempDir()
	s, err := LoadStages(dir, defined)
	if err != nil {
		t.Fatalf("without a file: %v", err)
	}
	if s.File != "" || len(s.Stages) != 0 {
		t.Errorf("without a file: %+v, want the default", s)
	}

	if err := os.WriteFile(filepath.Join(dir, StagesFile), []byte(shipped), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = LoadStages(dir, defined)
	if err != nil {
		t.Fatal(err)
	}
	if s.File != StagesFile || len(s.Stages) != 3 || s.Stages[0].Name != "secrets" || !s.Stages[0].FetchSecrets {
		t.Errorf("loaded %+v", s)
	}

	// An error names the file as it lies in the stack directory.
	if err := os.WriteFile(filepath.Join(dir, StagesFile), []byte("stages:\n  - name: a\n    services: [nope]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadStages(dir, defined)
	if err == nil || !strings.HasPrefix(err.Error(), "stages.yml: stage a: unknown service \"nope\"") {
		t.Errorf("error %v", err)
	}
	var ee *exitcode.Error
	if !errors.As(err, &ee) || ee.Code != exitcode.Usage {
		t.Errorf("error %v is not a usage error", err)
	}
}

func TestEmptyStagesFileIsTheDefault(t *testing.T) {
	s, err := ParseStages("stages.yml", []byte("# nothing yet\n"), defined)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Plan([]string{"db"}, nil)
	if want := []Step{{Name: "all", Services: []string{"db"}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Plan = %+v, want %+v", got, want)
	}
}
