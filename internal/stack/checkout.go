package stack

import (
	"bytes"
	"os"
	"path/filepath"
)

// Old-layout markers: the files of a local-ai-packaged checkout, the folder
// the old start script ran in.
const (
	OldComposeFile  = "docker-compose.yml"
	OldStartScript  = "start_services.py"
	oldPrivateFile  = "docker-compose.override.private.yml"
	supabaseGitHead = "supabase/.git/HEAD"
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
