package swarm

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/stack"
)

func TestPlanNamesWhatChangedNeverValues(t *testing.T) {
	input := func(pw, token string) *Definition {
		def, err := Build(demoInput(t, map[string]string{"DB_PASSWORD": pw, "TOKEN": token}))
		if err != nil {
			t.Fatal(err)
		}
		return def
	}
	running := input("old-password-value", "old-token-value")
	st := &State{Services: map[string]swarm.Service{}}
	for name, s := range running.Services {
		st.Services[name] = swarm.Service{ID: name, Spec: s.Spec}
	}
	st.Services["gone"] = swarm.Service{ID: "gone", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "demo_gone"}}}

	plan := input("new-password-value", "new-token-value").Plan(st)
	got := map[string]string{}
	for _, c := range plan {
		got[c.Service] = string(c.Action) + ": " + strings.Join(c.Reasons, "; ")
	}
	want := map[string]string{
		"db":   "update: secret POSTGRES_PASSWORD changed",
		"app":  "update: environment changed: DATABASE_PASSWORD, TOKEN",
		"pull": "keep: unchanged",
		"gone": "remove: not in the selected services any more",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	for _, line := range got {
		if strings.Contains(line, "value") {
			t.Errorf("the plan shows a value: %q", line)
		}
	}
	if unchanged := running.Plan(st); unchanged[0].Action != Keep || unchanged[1].Action != Keep || unchanged[2].Action != Keep {
		t.Errorf("the running definition planned against itself: %+v", unchanged)
	}
}

func TestPlanRetriesAStuckUpdate(t *testing.T) {
	def, err := Build(Input{Stack: "demo", Project: load(t, "services:\n  a:\n    image: x\n", nil), FileSecrets: stack.FileSecrets{}})
	if err != nil {
		t.Fatal(err)
	}
	st := &State{Services: map[string]swarm.Service{"a": {ID: "a", Spec: def.Services["a"].Spec,
		UpdateStatus: &swarm.UpdateStatus{State: swarm.UpdateStatePaused}}}}
	if p := def.Plan(st); p[0].Action != Update || !strings.Contains(p[0].Reasons[0], "paused") {
		t.Errorf("plan: %+v, want an update that says the last one paused", p)
	}
}

// fakeStatus lists fixed services and tasks.
type fakeStatus struct {
	services []swarm.Service
	tasks    []swarm.Task
}

func (f fakeStatus) ServiceList(context.Context, client.ServiceListOptions) (client.ServiceListResult, error) {
	return client.ServiceListResult{Items: f.services}, nil
}

func (f fakeStatus) TaskList(context.Context, client.TaskListOptions) (client.TaskListResult, error) {
	return client.TaskListResult{Items: f.tasks}, nil
}

var _ StatusAPI = fakeStatus{}

func TestCollect(t *testing.T) {
	one := uint64(1)
	hc := &container.HealthConfig{Test: []string{"CMD", "check"}}
	svc := func(id, name string, health *container.HealthConfig, mode swarm.ServiceMode) swarm.Service {
		return swarm.Service{ID: id, Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "demo_" + name},
			TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Healthcheck: health}}, Mode: mode}}
	}
	web := svc("w", "web", nil, swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}})
	web.Endpoint.Ports = []swarm.PortConfig{{Protocol: "tcp", TargetPort: 5678, PublishedPort: 15678}}
	tk := func(svc string, slot int, desired, state swarm.TaskState) swarm.Task {
		return swarm.Task{ID: svc + state2(state), ServiceID: svc, Slot: slot, DesiredState: desired,
			Status: swarm.TaskStatus{State: state, Timestamp: time.Now()}}
	}
	f := fakeStatus{
		services: []swarm.Service{web, svc("d", "db", hc, swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}}),
			svc("j", "pull", nil, swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{}}),
			svc("g", "ghost", nil, swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}})},
		tasks: []swarm.Task{
			tk("w", 1, swarm.TaskStateRunning, swarm.TaskStateRunning), tk("w", 1, swarm.TaskStateShutdown, swarm.TaskStateFailed),
			tk("d", 1, swarm.TaskStateRunning, swarm.TaskStateStarting),
			tk("j", 1, swarm.TaskStateComplete, swarm.TaskStateComplete),
		},
	}
	st, err := Collect(context.Background(), f, "demo")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, s := range st {
		rows = append(rows, strings.Join([]string{s.Service, s.Container, s.State, s.Health, boolWord(s.Ready), s.URL}, " "))
	}
	want := []string{
		"db demo_db.1 running starting not-ready ",
		"ghost  missing none not-ready ",
		"pull demo_pull.1 exited none ready ",
		"web demo_web.1 running none ready http://localhost:15678",
	}
	if !slices.Equal(rows, want) {
		t.Errorf("statuses:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
}

func state2(s swarm.TaskState) string { return "-" + string(s) }

func boolWord(b bool) string {
	if b {
		return "ready"
	}
	return "not-ready"
}
