package stack_test

// Tests that keep the shipped files in step with the Supabase release the
// stack pins, through the stand-in that mirrors that release's compose file.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/stack"
)

const standinFile = "testdata/supabase-standin.yml"

// serviceNames lists the services a compose file defines or overrides.
func serviceNames(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var top struct {
		Services map[string]yaml.Node `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &top); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var names []string
	for n := range top.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// The stand-in says which release it mirrors; moving the pin without
// revisiting the stand-in fails here.
func TestStandInMirrorsThePinnedRef(t *testing.T) {
	f, err := os.Open(standinFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	first, _ := bufio.NewReader(f).ReadString('\n')
	ref, ok := strings.CutPrefix(strings.TrimSpace(first), "# mirrors: ")
	if !ok {
		t.Fatalf("%s must start with \"# mirrors: <ref>\", the Supabase release it mirrors", standinFile)
	}
	if ref != stack.DefaultSupabaseRef {
		t.Errorf("the stand-in mirrors %s but the stack pins %s: make the stand-in mirror the pinned release's docker-compose.yml (services, ports, variables) and update its first line",
			ref, stack.DefaultSupabaseRef)
	}
}

// Every service an environment override names must exist in the base file or
// in Supabase's file: compose refuses an override of a service nobody defines
// ("has neither an image nor a build context"), which is how a Supabase
// release that renames or drops a service would break every start.
func TestShippedOverridesNameOnlyDefinedServices(t *testing.T) {
	defined := map[string]string{}
	for _, n := range serviceNames(t, filepath.Join(repoRoot, stack.BaseFile)) {
		defined[n] = stack.BaseFile
	}
	for _, n := range serviceNames(t, standinFile) {
		defined[n] = "Supabase's compose file at " + stack.DefaultSupabaseRef
	}
	overrides, err := filepath.Glob(filepath.Join(repoRoot, "compose", "docker-compose.override.*.yml"))
	if err != nil || len(overrides) == 0 {
		t.Fatalf("no override files found (%v)", err)
	}
	for _, f := range overrides {
		for _, n := range serviceNames(t, f) {
			if defined[n] == "" {
				t.Errorf("%s names service %q, which neither %s nor Supabase's compose file at %s defines",
					filepath.Base(f), n, stack.BaseFile, stack.DefaultSupabaseRef)
			}
		}
	}
}

// The release's service list, as the stand-in records it: what the shipped
// files may rely on. Logflare and Vector are not in it (Supabase moved them
// to an optional file), and the gateway is still called kong.
func TestStandInServices(t *testing.T) {
	got := serviceNames(t, standinFile)
	for _, gone := range []string{"analytics", "vector", "api-gw"} {
		if slices.Contains(got, gone) {
			t.Errorf("the stand-in defines %q, which %s's docker-compose.yml does not", gone, stack.DefaultSupabaseRef)
		}
	}
	for _, needed := range []string{"db", "kong", "supavisor", "studio"} {
		if !slices.Contains(got, needed) {
			t.Errorf("the stand-in lacks %q", needed)
		}
	}
	data, _ := os.ReadFile(standinFile)
	for _, v := range []string{"LOGFLARE_", "DOCKER_SOCKET_LOCATION"} {
		if bytes.Contains(data, []byte("${"+v)) {
			t.Errorf("the stand-in reads %s…, which only Supabase's optional logs file reads", v)
		}
	}
}

// withPortRule sets each service's ports to what the environment's port
// rule makes of them, as the overlay startsvc generates from the rule does.
func withPortRule(t *testing.T, p *compose.Project) {
	t.Helper()
	r, err := stack.PortRuleOf(p.Project)
	if err != nil || r == nil {
		t.Fatalf("port rule %v, err %v; the override file must declare %s", r, err, stack.PortsExtension)
	}
	base := serviceNames(t, filepath.Join(repoRoot, stack.BaseFile))
	for _, e := range r.Except {
		if !slices.Contains(base, e) {
			t.Errorf("the rule excepts %q, which is not a service of %s: a Supabase release could rename it", e, stack.BaseFile)
		}
	}
	for name, ports := range r.Apply(p.Project) {
		if s, ok := p.Services[name]; ok {
			s.Ports = ports
			p.Services[name] = s
		}
	}
}

// ruled loads the shipped stack for an environment with every profile, applies
// its port rule, and lists what each service publishes.
func ruled(t *testing.T, dir, environment string) map[string][]string {
	t.Helper()
	_, p := load(t, dir, environment, initEnv(t, dir), "*")
	withPortRule(t, p)
	out := map[string][]string{}
	for name, s := range p.Services {
		if ps := published(s); len(ps) > 0 {
			out[name] = ps
		}
	}
	return out
}

// portOverlay renders what a port rule changes as a compose file, the way
// startsvc hands it to compose: no secret in it, ports: !override with the
// complete list, or !reset [] for nothing.
func portOverlay(changes map[string][]types.ServicePortConfig) string {
	var b strings.Builder
	b.WriteString("services:\n")
	names := make([]string, 0, len(changes))
	for n := range changes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %q:\n", n)
		if len(changes[n]) == 0 {
			b.WriteString("    ports: !reset []\n")
			continue
		}
		b.WriteString("    ports: !override\n")
		for _, p := range changes[n] {
			fmt.Fprintf(&b, "      - target: %d\n", p.Target)
			for k, v := range map[string]string{"published": p.Published, "host_ip": p.HostIP, "protocol": p.Protocol, "mode": p.Mode} {
				if v != "" {
					fmt.Fprintf(&b, "        %s: %q\n", k, v)
				}
			}
		}
	}
	return b.String()
}

// A Supabase release that renames its gateway (self-hosted 0.8 calls it
// api-gw) still loads with the shipped overrides, and the rule covers the new
// name.
func TestShippedSurvivesAGatewayRename(t *testing.T) {
	dir := copyStack(t)
	path := filepath.Join(dir, filepath.FromSlash(stack.SupabaseCompose))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	renamed := strings.Replace(string(data), "\n  kong:\n    container_name: supabase-kong\n", "\n  api-gw:\n    container_name: supabase-envoy\n", 1)
	renamed = strings.Replace(renamed, "    depends_on:\n      kong:\n", "    depends_on:\n      api-gw:\n", 1)
	if renamed == string(data) || strings.Contains(renamed, "\n  kong:\n") {
		t.Fatal("the stand-in's gateway could not be renamed")
	}
	if err := os.WriteFile(path, []byte(renamed), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := ruled(t, dir, "private")["api-gw"]; !slices.Equal(got, []string{"127.0.0.1:8000->8000", "127.0.0.1:8443->8443"}) {
		t.Errorf("private: api-gw publishes %v", got)
	}
	if got := ruled(t, dir, "public"); len(got) != 1 {
		t.Errorf("public publishes %v, want only caddy's ports", got)
	}
}

func TestShippedPortRulePrivate(t *testing.T) {
	dir := copyStack(t)
	got := ruled(t, dir, "private")
	for name, ports := range got {
		for _, p := range ports {
			if name == "caddy" {
				continue
			}
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %s, not on 127.0.0.1", name, p)
			}
		}
	}
	if c := got["caddy"]; !slices.Equal(c, []string{":443->443", ":80->80"}) {
		t.Errorf("caddy publishes %v, want 80 and 443 on every interface", c)
	}
	for _, name := range []string{"kong", "supavisor", "n8n"} {
		if len(got[name]) == 0 {
			t.Errorf("%s publishes nothing in private", name)
		}
	}
}

func TestShippedPortRulePublic(t *testing.T) {
	dir := copyStack(t)
	got := ruled(t, dir, "public")
	if len(got) != 1 || !slices.Equal(got["caddy"], []string{":443->443", ":80->80"}) {
		t.Errorf("public publishes %v, want only caddy's 80 and 443", got)
	}
}
