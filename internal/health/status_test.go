package health

import (
	"github.com/startsvc/startsvc/internal/testenv"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/netip"
	"reflect"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func intp(n int) *int { return &n }

func TestCollect(t *testing.T) {
	w := newWorld()
	w.add(&fakeContainer{id: "n", service: "n8n", name: "localai-n8n-1", state: running(container.Healthy)})
	w.add(&fakeContainer{id: "k", service: "kong", name: "localai-kong-1", state: running("")})
	w.add(&fakeContainer{id: "j", service: "ollama-pull-llama-cpu", name: "localai-ollama-pull-llama-cpu-1", state: exited(0), labels: map[string]string{LabelOneShot: "true"}})
	w.add(&fakeContainer{id: "d", service: "db", name: "supabase-db", state: exited(1)})
	w.add(&fakeContainer{id: "r", service: "n8n", name: "localai-n8n-run-1", oneoff: true, state: running("")})
	bindings := map[string]network.PortMap{
		"n": {network.MustParsePort("5678/tcp"): {
			{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "5678"},
		}},
		"k": {
			network.MustParsePort("8000/tcp"): {
				{HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: "8000"},
				{HostIP: netip.MustParseAddr("::"), HostPort: "8000"},
			},
			network.MustParsePort("8443/tcp"): nil, // exposed, not published
		},
	}
	inspector := w.inspector()
	e := struct {
		Lister
		Inspector
	}{w.lister(), &fakeInspector{inspect: func(ctx context.Context, id string) (client.ContainerInspectResult, error) {
		res, err := inspector.inspect(ctx, id)
		res.Container.NetworkSettings = &container.NetworkSettings{Ports: bindings[id]}
		return res, err
	}}}

	got, err := Collect(context.Background(), e, Scope{Project: "p", Services: []string{"db", "kong", "n8n", "ollama-pull-llama-cpu", "qdrant"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []ServiceStatus{
		{Service: "db", Container: "supabase-db", State: "exited", Health: "none", ExitCode: intp(1), Ports: []Port{}},
		{Service: "kong", Container: "localai-kong-1", State: "running", Health: "none", Ready: true,
			Ports: []Port{{"0.0.0.0", 8000, 8000, "tcp"}, {"::", 8000, 8000, "tcp"}}, URL: "http://localhost:8000"},
		{Service: "n8n", Container: "localai-n8n-1", State: "running", Health: "healthy", Ready: true,
			Ports: []Port{{"127.0.0.1", 5678, 5678, "tcp"}}, URL: "http://localhost:5678"},
		{Service: "ollama-pull-llama-cpu", Container: "localai-ollama-pull-llama-cpu-1", State: "exited", Health: "none",
			ExitCode: intp(0), OneShot: true, Ready: true, Ports: []Port{}},
		{Service: "qdrant", State: "missing", Health: "none", Ports: []Port{}},
	}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", " ")
		wj, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("Collect:\n%s\nwant:\n%s", gj, wj)
	}
	if u := Unready(got); !reflect.DeepEqual(u, []string{"db", "qdrant"}) {
		t.Errorf("Unready = %q", u)
	}

	// The table and the JSON document of the same statuses.
	var table bytes.Buffer
	if err := WriteTable(&table, got, nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "table.golden", table.Bytes())
	var doc bytes.Buffer
	if err := WriteJSON(&doc, "localai", got); err != nil {
		t.Fatal(err)
	}
	golden(t, "status.json.golden", doc.Bytes())

	// Without services named, everything with a container is shown.
	all, err := Collect(context.Background(), e, Scope{Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Errorf("Collect without services: %d statuses, want the 4 containers", len(all))
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, *update, name, got)
}

func TestEmptyReportIsAList(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, "p", nil); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"project\": \"p\",\n  \"ready\": true,\n  \"services\": []\n}\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestCollectListError(t *testing.T) {
	w := newWorld()
	w.listErr = errors.New("connection refused")
	e := struct {
		Lister
		Inspector
	}{w.lister(), w.inspector()}
	if _, err := Collect(context.Background(), e, Scope{Project: "p"}); err == nil || err.Error() != "list containers of project p: connection refused" {
		t.Errorf("error %v", err)
	}
}

func TestTableColours(t *testing.T) {
	st := []ServiceStatus{
		{Service: "a", State: "running", Health: "healthy", Ready: true},
		{Service: "b", State: "running", Health: "unhealthy"},
		{Service: "c", State: "running", Health: "starting"},
	}
	var got []string
	paint := func(name, s string) string {
		got = append(got, name+":"+s)
		return s
	}
	if err := WriteTable(&bytes.Buffer{}, st, paint); err != nil {
		t.Fatal(err)
	}
	want := []string{"green:running", "green:healthy", "faint:-", "red:running", "red:unhealthy", "faint:-", "yellow:running", "yellow:starting", "faint:-"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("painted %q\nwant %q", got, want)
	}
}

func TestURL(t *testing.T) {
	p := func(ip string, host, ctr int) Port {
		return Port{HostIP: ip, HostPort: host, ContainerPort: ctr, Protocol: "tcp"}
	}
	tests := []struct {
		name, service string
		ports         []Port
		want          string
	}{
		{"n8n on loopback", "n8n", []Port{p("127.0.0.1", 5678, 5678)}, "http://localhost:5678"},
		{"searxng's known container port, another host port", "searxng", []Port{p("127.0.0.1", 8081, 8080)}, "http://localhost:8081"},
		{"infisical", "infisical", []Port{p("0.0.0.0", 8010, 8080), p("::", 8010, 8080)}, "http://localhost:8010"},
		{"minio: the console, not the API", "minio", []Port{p("127.0.0.1", 9010, 9000), p("127.0.0.1", 9011, 9001)}, "http://localhost:9011"},
		{"qdrant's dashboard", "qdrant", []Port{p("127.0.0.1", 6333, 6333), p("127.0.0.1", 6334, 6334)}, "http://localhost:6333/dashboard"},
		{"neo4j browser, not bolt", "neo4j", []Port{p("127.0.0.1", 7474, 7474), p("127.0.0.1", 7687, 7687)}, "http://localhost:7474"},
		{"caddy prefers https", "caddy", []Port{p("0.0.0.0", 80, 80), p("0.0.0.0", 443, 443)}, "https://localhost"},
		{"caddy on http only", "caddy", []Port{p("0.0.0.0", 80, 80)}, "http://localhost"},
		{"bound to a specific address", "n8n", []Port{p("192.168.1.20", 5678, 5678)}, "http://192.168.1.20:5678"},
		{"loopback preferred over a specific address", "n8n", []Port{p("10.0.0.5", 5678, 5678), p("127.0.0.1", 15678, 5678)}, "http://localhost:15678"},
		{"IPv6 address", "n8n", []Port{p("fd00::5", 5678, 5678)}, "http://[fd00::5]:5678"},
		{"known service, its port not published", "n8n", []Port{p("127.0.0.1", 9999, 1234)}, ""},
		{"unknown service: lowest web port", "myapp", []Port{p("0.0.0.0", 15432, 5432), p("0.0.0.0", 9090, 9090), p("0.0.0.0", 9091, 9100)}, "http://localhost:9090"},
		{"unknown service: https port", "proxy", []Port{p("0.0.0.0", 8443, 8443)}, "https://localhost:8443"},
		{"unknown service: only a database port", "pg", []Port{p("127.0.0.1", 5433, 5432)}, ""},
		{"udp is not a URL", "dns", []Port{{HostIP: "0.0.0.0", HostPort: 8053, ContainerPort: 8053, Protocol: "udp"}}, ""},
		{"nothing published", "n8n", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := URL(tt.service, tt.ports); got != tt.want {
				t.Errorf("URL(%s) = %q, want %q", tt.service, got, tt.want)
			}
		})
	}
	if App("kong") != "Supabase Studio" || App("myapp") != "" {
		t.Errorf("App: kong %q, myapp %q", App("kong"), App("myapp"))
	}
}

func TestOneShots(t *testing.T) {
	svc := func(name string, labels types.Labels, deps types.DependsOnConfig) types.ServiceConfig {
		s := types.ServiceConfig{Name: name}
		s.Labels, s.DependsOn = labels, deps
		return s
	}
	p := &types.Project{
		Services: types.Services{
			"n8n": svc("n8n", nil, types.DependsOnConfig{
				"n8n-import": {Condition: types.ServiceConditionCompletedSuccessfully},
				"db":         {Condition: types.ServiceConditionHealthy},
			}),
			"n8n-import": svc("n8n-import", nil, nil),
			"db":         svc("db", nil, nil),
			"pull":       svc("pull", types.Labels{LabelOneShot: "true"}, nil),
			"web":        svc("web", types.Labels{LabelOneShot: "false"}, nil),
		},
		DisabledServices: types.Services{
			"pull-gpu": svc("pull-gpu", types.Labels{LabelOneShot: "1"}, nil),
		},
	}
	if got, want := OneShots(p), []string{"n8n-import", "pull", "pull-gpu"}; !reflect.DeepEqual(got, want) {
		t.Errorf("OneShots = %q, want %q", got, want)
	}
}
