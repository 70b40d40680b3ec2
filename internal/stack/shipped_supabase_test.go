package stack_test

// Tests that keep the shipped files in step with the Supabase release the
// stack pins, through the stand-in that mirrors that release's compose file.

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

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

// ruled loads the shipped stack for an environment with every profile and sets
// each service's ports to what the environment's port rule makes of them, as
// the overlay startsvc generates from the rule does.
func ruled(t *testing.T, dir, environment string) map[string][]string {
	t.Helper()
	_, p := load(t, dir, environment, initEnv(t, dir), "*")
	r, err := stack.PortRuleOf(p.Project)
	if err != nil || r == nil {
		t.Fatalf("%s: port rule %v, err %v; the override file must declare %s", environment, r, err, stack.PortsExtension)
	}
	base := serviceNames(t, filepath.Join(repoRoot, stack.BaseFile))
	for _, e := range r.Except {
		if !slices.Contains(base, e) {
			t.Errorf("%s: the rule excepts %q, which is not a service of %s: a Supabase release could rename it", environment, e, stack.BaseFile)
		}
	}
	changes := r.Apply(p.Project)
	out := map[string][]string{}
	for name, s := range p.Services {
		if ports, ok := changes[name]; ok {
			s.Ports = ports
		}
		if ps := published(s); len(ps) > 0 {
			out[name] = ps
		}
	}
	return out
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
