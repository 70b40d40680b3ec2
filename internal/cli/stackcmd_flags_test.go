package cli

import (
	"bytes"
	"testing"

	"github.com/startsvc/startsvc/internal/stack"
)

func TestStackCommandFlags(t *testing.T) {
	cases := []struct {
		args []string
		cmd  string
		want map[string]string // flag name -> value after parsing
	}{
		{[]string{"init"}, "init", map[string]string{"force": "false", "env-file": ".env"}},
		{[]string{"init", "--force", "--env-file", "prod.env"}, "init", map[string]string{"force": "true", "env-file": "prod.env"}},
		{[]string{"prepare"}, "prepare", map[string]string{"update-supabase": "false",
			"supabase-repo": stack.DefaultSupabaseRepo, "supabase-ref": stack.DefaultSupabaseRef}},
		{[]string{"prepare", "--update-supabase", "--supabase-repo", "file:///srv/supabase", "--supabase-ref", "v1"}, "prepare",
			map[string]string{"update-supabase": "true", "supabase-repo": "file:///srv/supabase", "supabase-ref": "v1"}},
		{[]string{"config"}, "config", map[string]string{"format": "yaml", "profile": "cpu", "environment": "private"}},
		{[]string{"config", "--profile", "gpu-nvidia", "--environment", "public", "--format", "json"}, "config",
			map[string]string{"format": "json", "profile": "gpu-nvidia", "environment": "public"}},
		{[]string{"doctor"}, "doctor", map[string]string{"json": "false"}},
		{[]string{"doctor", "--json", "--profile", "auto"}, "doctor", map[string]string{"json": "true", "profile": "auto"}},
	}
	for _, tc := range cases {
		g := &globalOptions{}
		d := &deps{env: Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}}
		cmd, rest, err := newRoot(d, g).Find(tc.args)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if cmd.Name() != tc.cmd {
			t.Errorf("%v: command %s, want %s", tc.args, cmd.Name(), tc.cmd)
		}
		for name, want := range tc.want {
			f := cmd.Flags().Lookup(name)
			if f == nil {
				t.Errorf("%v: no flag --%s", tc.args, name)
				continue
			}
			if f.Value.String() != want {
				t.Errorf("%v: --%s = %q, want %q", tc.args, name, f.Value.String(), want)
			}
		}
	}
}
