package stack_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/stack"
)

// loadYAML loads one compose file with the given profiles active, or every
// profile when none are given.
func loadYAML(t *testing.T, content string, profiles ...string) *types.Project {
	t.Helper()
	dir := t.TempDir()
	f := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if profiles == nil {
		profiles = []string{"*"}
	}
	p, err := compose.Load(context.Background(), compose.Spec{Name: "t", Dir: dir, Files: []string{f}, Profiles: profiles})
	if err != nil {
		t.Fatal(err)
	}
	return p.Project
}

const portServices = `
services:
  proxy:
    image: x
    ports: ["80:80", "443:443"]
  app:
    image: x
    ports: ["8080:80", "127.0.0.1:9090:90"]
  local:
    image: x
    ports: ["127.0.0.1:5432:5432"]
  quiet:
    image: x
  twice:
    image: x
    ports: ["0.0.0.0:7000:7000", "[::]:7000:7000"]
  gpu:
    image: x
    profiles: [gpu]
    ports: ["11434:11434"]
`

// portList renders ports as host_ip:published->target, sorted.
func portList(ports []types.ServicePortConfig) []string {
	out := []string{}
	for _, p := range ports {
		out = append(out, p.HostIP+":"+p.Published+"->"+itoa(p.Target))
	}
	sort.Strings(out)
	return out
}

func itoa(n uint32) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

func TestPortRuleLoopback(t *testing.T) {
	p := loadYAML(t, portServices+`
x-startsvc-ports:
  host_ip: 127.0.0.1
  except: [proxy]
`, "no-such-profile")
	r, err := stack.PortRuleOf(p)
	if err != nil || r == nil {
		t.Fatalf("rule %v, err %v", r, err)
	}
	got := r.Apply(p)
	want := map[string][]string{
		"app":   {"127.0.0.1:8080->80", "127.0.0.1:9090->90"},
		"twice": {"127.0.0.1:7000->7000"},
		// gpu's profile is not active; its ports still follow the rule.
		"gpu": {"127.0.0.1:11434->11434"},
	}
	if len(got) != len(want) {
		t.Errorf("changed services %v, want those of %v", keys(got), want)
	}
	for name, w := range want {
		if g := portList(got[name]); !slices.Equal(g, w) {
			t.Errorf("%s: %v, want %v", name, g, w)
		}
	}
	for _, untouched := range []string{"proxy", "local", "quiet"} {
		if _, ok := got[untouched]; ok {
			t.Errorf("%s changed: %v", untouched, portList(got[untouched]))
		}
	}
	if ports := portList(p.Services["app"].Ports); !slices.Equal(ports, []string{"127.0.0.1:9090->90", ":8080->80"}) {
		t.Errorf("Apply changed the project: app publishes %v", ports)
	}
	if s := r.String(); !strings.Contains(s, "127.0.0.1") || !strings.Contains(s, "proxy") {
		t.Errorf("String() = %q", s)
	}
}

func TestPortRuleNone(t *testing.T) {
	p := loadYAML(t, portServices+`
x-startsvc-ports:
  publish: none
  except: [proxy]
`)
	r, err := stack.PortRuleOf(p)
	if err != nil {
		t.Fatal(err)
	}
	got := r.Apply(p)
	for _, name := range []string{"app", "local", "twice", "gpu"} {
		ports, ok := got[name]
		if !ok || ports == nil || len(ports) != 0 {
			t.Errorf("%s: %v (present %v), want an empty list", name, ports, ok)
		}
	}
	for _, name := range []string{"proxy", "quiet"} {
		if _, ok := got[name]; ok {
			t.Errorf("%s is in the result", name)
		}
	}
}

func TestPortRuleAbsent(t *testing.T) {
	p := loadYAML(t, portServices)
	r, err := stack.PortRuleOf(p)
	if r != nil || err != nil {
		t.Fatalf("rule %v, err %v; want none", r, err)
	}
	if got := r.Apply(p); got != nil {
		t.Errorf("a nil rule changed %v", got)
	}
}

func TestPortRuleErrors(t *testing.T) {
	tests := []struct{ name, rule, want string }{
		{"both", "host_ip: 127.0.0.1\n  publish: none", "not both"},
		{"neither", "except: [proxy]", "give host_ip"},
		{"bad address", "host_ip: localhost", `"localhost" is not an IP address`},
		{"publish all", "publish: all", `publish may only be "none"`},
		{"unknown key", "host_ip: 127.0.0.1\n  hostip: 127.0.0.1", `unknown key "hostip"`},
		{"unknown service", "host_ip: 127.0.0.1\n  except: [kong]", `except names service "kong"`},
		{"except not a list", "host_ip: 127.0.0.1\n  except: proxy", "except must be a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadYAML(t, portServices+"\nx-startsvc-ports:\n  "+tt.rule+"\n")
			_, err := stack.PortRuleOf(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), stack.PortsExtension) {
				t.Errorf("err = %v, want one naming %s and saying %q", err, stack.PortsExtension, tt.want)
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
