package stack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/secrets"
)

// StagesFile is where a stack directory says in which order its services come up.
//
//	stages:
//	  - name: secrets                 # shown in progress and errors
//	    when: infisical-in-stack      # optional: run only when this condition holds
//	    services: [infisical, infisical-db, infisical-redis]
//	    ready_url: http://localhost:8010/api/status  # optional: must answer 2xx too
//	    fetch_secrets: true           # fetch secrets once this stage is ready
//	  - name: databases
//	    services: [db, postgres, redis, clickhouse, minio]
//	  - name: apps
//	    services: ["*"]               # every active service no other stage names
//
// Each stage is `compose up -d` for its services and a wait until they are
// ready; the next stage starts only then. Services of inactive profiles are
// skipped, and a stage left with none is skipped. A stage whose condition does
// not hold is skipped too, and its services start with the "*" stage. Services
// no stage names start last, in a stage called "rest", unless a stage takes
// them with "*". Without the file, every active service starts in one stage.
const StagesFile = "stages.yml"

// Everything in a stage's services means every active service that no other
// stage names. ("rest" cannot serve: Supabase has a service of that name.)
const Everything = "*"

// Conditions a stage's when may name. The caller decides whether each holds.
const (
	// WhenInfisicalInStack holds when the Infisical server startsvc fetches
	// secrets from runs inside this stack (and secrets are fetched at all).
	WhenInfisicalInStack = "infisical-in-stack"
)

var conditions = []string{WhenInfisicalInStack}

// Stage is one step of the bring-up, as stages.yml declares it.
type Stage struct {
	Name     string   `yaml:"name"`
	Services []string `yaml:"services"`
	// When names a condition (see WhenInfisicalInStack); empty means always.
	When string `yaml:"when"`
	// ReadyURL, when set, must answer a GET with a 2xx status before the stage
	// counts as ready, in addition to its containers.
	ReadyURL string `yaml:"ready_url"`
	// FetchSecrets asks for secrets to be fetched once this stage is ready; the
	// stages up to it run with the env file's values only.
	FetchSecrets bool `yaml:"fetch_secrets"`
}

// Stages is the bring-up order of a stack. The zero value is the default: one
// stage with every active service.
type Stages struct {
	File   string // where they were read from, relative to the stack directory; "" for the default
	Stages []Stage
}

type stagesDoc struct {
	Stages []Stage `yaml:"stages"`
}

// LoadStages reads StagesFile in dir, or returns the default when there is
// none. defined are the services the compose files define under any profile;
// a stage naming another is an error. Every problem is a usage error naming the
// file.
func LoadStages(dir string, defined []string) (*Stages, error) {
	path := filepath.Join(dir, StagesFile)
	data, err := secrets.ReadFile(path, maxStackFile)
	if errors.Is(err, fs.ErrNotExist) {
		return &Stages{}, nil
	}
	if err != nil {
		return nil, exitcode.Usagef("read stages: %w", err)
	}
	return ParseStages(rel(dir, path), data, defined)
}

// ParseStages parses and checks a stages file's content; name is how errors
// refer to the file.
func ParseStages(name string, data []byte, defined []string) (*Stages, error) {
	var doc stagesDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, exitcode.Usagef("%s: %w", name, err)
	}
	s := &Stages{File: name, Stages: doc.Stages}
	if err := s.check(defined); err != nil {
		return nil, exitcode.Usagef("%s: %w", name, err)
	}
	return s, nil
}

func (s *Stages) check(defined []string) error {
	names := map[string]bool{}
	owner := map[string]string{} // service → the stage naming it
	everything, fetch := "", ""
	for i, st := range s.Stages {
		if st.Name == "" {
			return fmt.Errorf("stage %d has no name", i+1)
		}
		if names[st.Name] {
			return fmt.Errorf("two stages are named %q", st.Name)
		}
		names[st.Name] = true
		if len(st.Services) == 0 {
			return fmt.Errorf("stage %s names no services (use %q for every service no other stage names)", st.Name, Everything)
		}
		if st.When != "" && !slices.Contains(conditions, st.When) {
			return fmt.Errorf("stage %s: unknown condition %q in when; known: %s", st.Name, st.When, strings.Join(conditions, ", "))
		}
		if st.ReadyURL != "" {
			u, err := url.Parse(st.ReadyURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("stage %s: ready_url %q is not an http or https URL", st.Name, st.ReadyURL)
			}
		}
		if st.FetchSecrets {
			if fetch != "" {
				return fmt.Errorf("stages %s and %s both set fetch_secrets; secrets are fetched once", fetch, st.Name)
			}
			fetch = st.Name
		}
		for _, svc := range st.Services {
			if svc == Everything {
				if len(st.Services) > 1 {
					return fmt.Errorf("stage %s: %q stands alone in a stage's services", st.Name, Everything)
				}
				if everything != "" {
					return fmt.Errorf("stages %s and %s both take %q", everything, st.Name, Everything)
				}
				everything = st.Name
				continue
			}
			if !slices.Contains(defined, svc) {
				return fmt.Errorf("stage %s: unknown service %q; the compose files define %s", st.Name, svc, strings.Join(sorted(defined), ", "))
			}
			if prev, ok := owner[svc]; ok {
				if prev == st.Name {
					return fmt.Errorf("stage %s names service %s twice", st.Name, svc)
				}
				return fmt.Errorf("service %s is in two stages, %s and %s", svc, prev, st.Name)
			}
			owner[svc] = st.Name
		}
	}
	return nil
}

// Step is one stage to run: compose up -d for Services, then a wait until they
// are ready (and ReadyURL answers, when set).
type Step struct {
	Name         string
	Services     []string
	ReadyURL     string
	FetchSecrets bool
}

// Plan returns the stages to run, in order, for the active services of the
// selected profile. holds tells whether a condition of a stage's when holds.
// Inactive services are left out, and so is a stage left without services.
// When no step has FetchSecrets, secrets (if any) are fetched before the first.
func (s *Stages) Plan(active []string, holds func(condition string) bool) []Step {
	isActive := map[string]bool{}
	for _, a := range active {
		isActive[a] = true
	}
	run := make([]bool, len(s.Stages))
	taken := map[string]bool{} // services a running stage names
	for i, st := range s.Stages {
		run[i] = st.When == "" || (holds != nil && holds(st.When))
		if !run[i] {
			continue
		}
		for _, svc := range st.Services {
			taken[svc] = true
		}
	}
	var rest []string
	for _, a := range sorted(active) {
		if !taken[a] {
			rest = append(rest, a)
		}
	}
	var steps []Step
	placed := false
	for i, st := range s.Stages {
		if !run[i] {
			continue
		}
		step := Step{Name: st.Name, ReadyURL: st.ReadyURL, FetchSecrets: st.FetchSecrets}
		if slices.Equal(st.Services, []string{Everything}) {
			step.Services, placed = rest, true
		} else {
			for _, svc := range st.Services {
				if isActive[svc] {
					step.Services = append(step.Services, svc)
				}
			}
		}
		if len(step.Services) > 0 {
			steps = append(steps, step)
		}
	}
	if !placed && len(rest) > 0 {
		name := "rest"
		if len(steps) == 0 {
			name = "all"
		}
		steps = append(steps, Step{Name: name, Services: rest})
	}
	return steps
}

func sorted(list []string) []string {
	out := slices.Clone(list)
	sort.Strings(out)
	return out
}

// InfisicalInStack reports whether an Infisical at siteURL may run inside the
// stack l: the URL names this machine, and the stack follows the convention and
// has a stages file that can start it first.
func InfisicalInStack(l *Layout, siteURL string) bool {
	u, err := url.Parse(siteURL)
	if err != nil || l == nil || !l.Conventional {
		return false
	}
	switch u.Hostname() {
	case "localhost", "127.0.0.1", "::1":
		_, err := os.Stat(filepath.Join(l.Dir, StagesFile))
		return err == nil
	}
	return false
}
