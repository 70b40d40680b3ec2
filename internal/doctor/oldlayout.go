package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/stack"
)

// addMissingHint is what to run when the env file lacks keys of .env.example.
const addMissingHint = "startsvc init --add-missing adds them to %s (secrets generated, the rest with .env.example's values) and changes no line already there"

// missingFromEnv lists, sorted, the keys of .env.example the env file lacks;
// nil when either file is missing or unreadable.
func (r *run) missingFromEnv() []string {
	if !r.envFound || r.envBroken {
		return nil
	}
	path := filepath.Join(r.dir(), ExampleFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	example, err := compose.ParseEnv(path, data, nil)
	if err != nil {
		return nil
	}
	var missing []string
	for k := range example {
		if _, ok := r.fileVals[k]; !ok {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	return missing
}

// checkOldLayout recognises a folder the old start script ran in (a
// local-ai-packaged checkout) and says how startsvc treats it and what to do:
// without startsvc's stack files, how to add them; with them, which keys the
// old .env lacks and the init step that adds them.
func (r *run) checkOldLayout() {
	if r.layout == nil || !stack.IsOldLayout(r.layout.Dir) {
		return
	}
	if !r.layout.Conventional {
		r.warn(CheckOldLayout, "this folder is a local-ai-packaged checkout without startsvc's stack files: startsvc runs its "+
			stack.OldComposeFile+" as a plain compose project, in one stage and without the stack's own Infisical",
			"to run startsvc's stack here with your data where it is, copy compose/, profiles/, stages.yml, Caddyfile, caddy-addon/ and "+
				".env.example from startsvc into this folder, then run startsvc init --add-missing (docs/STACK.md, \"Coming from local-ai-packaged\")")
		return
	}
	msg := "this folder is a local-ai-packaged checkout with startsvc's stack files: startsvc runs compose/, not " + stack.OldComposeFile +
		" or " + stack.OldStartScript + ", and uses the data in neo4j/, n8n/backup/, shared/ and supabase/docker/volumes/ where it is"
	name := rel(r.dir(), r.o.EnvFile)
	if !r.envFound {
		r.warn(CheckOldLayout, msg+"; there is no "+name, "startsvc init writes it from .env.example")
		return
	}
	missing := r.missingFromEnv()
	if len(missing) == 0 {
		r.ok(CheckOldLayout, msg+"; "+name+" has every key of .env.example", "")
		return
	}
	var required []string
	for _, k := range r.missing {
		if slices.Contains(missing, k) {
			required = append(required, k)
		}
	}
	msg += fmt.Sprintf("; %s lacks %d %s of .env.example", name, len(missing), plural(len(missing), "key", "keys"))
	if len(required) > 0 {
		msg += fmt.Sprintf(", %d of them required: %s", len(required), strings.Join(required, ", "))
	}
	r.warn(CheckOldLayout, msg, fmt.Sprintf(addMissingHint, name))
}
