package stack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Old-layout markers: the files of a local-ai-packaged checkout, the folder
// the old start script ran in.
const (
	OldComposeFile  = "docker-compose.yml"
	OldStartScript  = "start_services.py"
	oldPrivateFile  = "docker-compose.override.private.yml"
	supabaseGitHead = "supabase/.git/HEAD"
	// SupabaseDataDir is where Supabase's Postgres keeps its data, relative to
	// the stack directory.
	SupabaseDataDir = "supabase/docker/volumes/db/data"
)

// IsOldLayout reports whether dir looks like a local-ai-packaged checkout: a
// top-level docker-compose.yml that includes Supabase's file, next to the old
// start script or the old private override. startsvc's own files may be there
// too (then Open picks compose/ and the old files are unused).
func IsOldLayout(dir string) bool {
	inc, err := includesSupabase(filepath.Join(dir, OldComposeFile), OldComposeFile)
	if err != nil || !inc {
		return false
	}
	return exists(filepath.Join(dir, OldStartScript)) || exists(filepath.Join(dir, oldPrivateFile))
}

// SupabaseBranch is the branch the Supabase checkout in dir follows, read from
// its .git/HEAD without running git; "" when it is not on a branch (startsvc
// checks out a fixed commit), or not a git checkout at all. The old start
// script left a checkout of master, pulled on every start.
func SupabaseBranch(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(supabaseGitHead)))
	if err != nil {
		return ""
	}
	ref, ok := bytes.CutPrefix(bytes.TrimSpace(data), []byte("ref: refs/heads/"))
	if !ok {
		return ""
	}
	return string(ref)
}

// refConfigKey is the git configuration key, in the Supabase checkout's own
// .git/config, where startsvc records the ref it checked out there.
const refConfigKey = "startsvc.ref"

// recordRef notes in the checkout at dir which ref startsvc checked out. It is
// best effort: without the note, a later run only cannot tell the ref.
func recordRef(ctx context.Context, git GitRunner, dir, ref string) {
	_, _ = git(ctx, "-C", dir, "config", refConfigKey, ref)
}

// CheckoutOrigin says where an existing Supabase checkout came from.
type CheckoutOrigin struct {
	// Ref is the ref startsvc checked out there, when it recorded one.
	Ref string
	// Branch is the branch the checkout follows, when it is on one: the old
	// start script checked out master and pulled it on every start.
	Branch string
	// Revision is the commit checked out; "" when it is no git checkout.
	Revision string
}

// OriginOf reads where the Supabase checkout of the stack in dir came from,
// changing nothing.
func OriginOf(ctx context.Context, dir string, git GitRunner) CheckoutOrigin {
	target := filepath.Join(dir, SupabaseDir)
	o := CheckoutOrigin{Branch: SupabaseBranch(dir), Revision: revision(ctx, git, target)}
	if o.Revision != "" {
		if out, err := git(ctx, "-C", target, "config", "--get", refConfigKey); err == nil {
			o.Ref = strings.TrimSpace(string(out))
		}
	}
	return o
}

// Advice says, for a checkout startsvc leaves as it is, how it differs from
// want (the ref the stack pins, or the one asked for) and what to do about
// it; "" when it is want, or when it is no git checkout (then it is the
// user's own copy, used as it is).
func (o CheckoutOrigin) Advice(want string) string {
	at := ""
	if len(o.Revision) >= 12 {
		at = " (commit " + o.Revision[:12] + ")"
	}
	move := fmt.Sprintf("startsvc prepare --update-supabase moves it to %s; back up %s first", want, SupabaseDataDir)
	switch {
	case o.Revision == "" || o.Ref == want:
		return ""
	case o.Branch != "":
		return fmt.Sprintf("%s follows branch %s%s, as the old start script checked it out, not %s, the release startsvc pins. "+
			"It is used as it is and no longer pulled. %s: %s runs Postgres 17, and a database folder made by Postgres 15 "+
			"(Supabase's files before mid-2026) does not start under 17 without Supabase's own upgrade (docker/utils/upgrade-pg17.sh in its repository)",
			SupabaseDir, o.Branch, at, want, move, want)
	case o.Ref != "":
		return fmt.Sprintf("%s holds %s%s, not %s; it is used as it is. %s", SupabaseDir, o.Ref, at, want, move)
	default:
		return fmt.Sprintf("%s is at a commit%s that startsvc did not check out, so it cannot tell whether it is %s; it is used as it is. %s",
			SupabaseDir, at, want, move)
	}
}
