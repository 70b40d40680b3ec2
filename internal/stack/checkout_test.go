package stack

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// What prepare says about a Supabase checkout it leaves alone, for each way
// one comes to be there.
func TestCheckoutAdvice(t *testing.T) {
	u := newUpstream(t)
	ctx := context.Background()
	git := u.git

	// Cloned by startsvc: the ref is recorded, and matches.
	dir := supabaseStack(t)
	if _, _, err := EnsureSupabase(ctx, dir, PrepareOptions{SupabaseRepo: u.url, SupabaseRef: "self-hosted/v1.0.0", Git: git}); err != nil {
		t.Fatal(err)
	}
	o := OriginOf(ctx, dir, git)
	if o.Ref != "self-hosted/v1.0.0" || o.Branch != "" || o.Revision != u.tags["self-hosted/v1.0.0"] {
		t.Fatalf("origin %+v", o)
	}
	if a := o.Advice("self-hosted/v1.0.0"); a != "" {
		t.Errorf("advice for the pinned ref: %q", a)
	}
	res, err := Prepare(ctx, dir, PrepareOptions{SupabaseRepo: u.url, SupabaseRef: "self-hosted/v2.0.0", Git: git})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.SupabaseAdvice, "holds self-hosted/v1.0.0") || !strings.Contains(res.SupabaseAdvice, "--update-supabase moves it to self-hosted/v2.0.0") {
		t.Errorf("advice for another ref: %q", res.SupabaseAdvice)
	}
	// After an update the new ref is recorded.
	if _, _, err := EnsureSupabase(ctx, dir, PrepareOptions{SupabaseRepo: u.url, SupabaseRef: "self-hosted/v2.0.0", UpdateSupabase: true, Git: git}); err != nil {
		t.Fatal(err)
	}
	if o := OriginOf(ctx, dir, git); o.Ref != "self-hosted/v2.0.0" {
		t.Errorf("after the update the recorded ref is %q", o.Ref)
	}

	// Made by the old start script: a checkout that follows a branch.
	old := supabaseStack(t)
	u.run(t, "clone", "--quiet", u.url, filepath.Join(old, SupabaseDir))
	o = OriginOf(ctx, old, git)
	if o.Branch == "" || o.Ref != "" {
		t.Fatalf("origin of a branch checkout %+v", o)
	}
	a := o.Advice(DefaultSupabaseRef)
	for _, want := range []string{"follows branch " + o.Branch, DefaultSupabaseRef, "--update-supabase", SupabaseDataDir, "Postgres 15"} {
		if !strings.Contains(a, want) {
			t.Errorf("advice for the old script's checkout lacks %q: %q", want, a)
		}
	}
	res, err = Prepare(ctx, old, PrepareOptions{Git: git})
	if err != nil || res.Supabase != SupabasePresent || res.SupabaseAdvice == "" {
		t.Errorf("prepare of the old checkout: state %q, advice %q, err %v", res.Supabase, res.SupabaseAdvice, err)
	}

	// Detached at a commit startsvc did not record.
	u.run(t, "-C", filepath.Join(old, SupabaseDir), "checkout", "--quiet", "--detach", u.tags["self-hosted/v1.0.0"])
	if a := OriginOf(ctx, old, git).Advice(DefaultSupabaseRef); !strings.Contains(a, "did not check out") {
		t.Errorf("advice for an unknown commit: %q", a)
	}

	// Not a git checkout: the user's own copy, nothing to say.
	plain := supabaseStack(t)
	writeFile(t, filepath.Join(plain, filepath.FromSlash(SupabaseCompose)), "services: {}\n")
	if a := OriginOf(ctx, plain, git).Advice(DefaultSupabaseRef); a != "" {
		t.Errorf("advice for a plain folder: %q", a)
	}
}
