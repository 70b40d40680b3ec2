package doctor

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/stack"
)

// checkFileSecrets checks the stack's file-secrets.yml as up reads it: it
// parses, it names only services the compose files define, and every key it
// delivers as a file is one up can take out of its service's environment.
// The compose version the delivery needs is compose-features' concern.
func (r *run) checkFileSecrets(ctx context.Context) {
	if r.layout == nil {
		r.skip(CheckFileSecrets, "the stack directory could not be opened")
		return
	}
	hint := "fix " + stack.FileSecretsFile + " (docs/STACK.md, \"Secrets as files\", says what it holds)"
	files, err := stack.LoadFileSecrets(r.layout.Dir)
	var envOnly stack.EnvOnly
	if err == nil {
		envOnly, err = stack.LoadEnvOnly(r.layout.Dir)
	}
	if err != nil {
		r.failErr(CheckFileSecrets, exitcode.Usage, err, hint)
		return
	}
	if len(files) == 0 && len(envOnly) == 0 {
		r.ok(CheckFileSecrets, "no secret is delivered as a file: "+stack.FileSecretsFile+" declares none", "")
		return
	}
	if r.all == nil {
		r.skip(CheckFileSecrets, "the compose files could not be loaded")
		return
	}
	services := r.all.AllServices()
	names := slices.Sorted(maps.Keys(services))
	if err := files.Check(names); err != nil {
		r.failErr(CheckFileSecrets, exitcode.Usage, err, hint)
		return
	}
	if err := envOnly.Check(names); err != nil {
		r.failErr(CheckFileSecrets, exitcode.Usage, err, hint)
		return
	}
	environment, err := compose.EnvironmentVariables(ctx, compose.Spec{Name: r.o.Project, Dir: r.layout.Dir, Files: r.layout.Files, Profiles: []string{"*"}})
	if err == nil {
		err = files.CheckKeys(environment, func(service, variable string) bool {
			_, set := services[service].Environment[variable]
			return set
		})
	}
	if err != nil {
		r.failErr(CheckFileSecrets, exitcode.Usage, err, hint)
		return
	}
	keys := 0
	for _, s := range files.Services() {
		keys += len(files.For(s))
	}
	r.ok(CheckFileSecrets, fmt.Sprintf("%d %s of %d %s delivered as files, out of their environment",
		keys, plural(keys, "key", "keys"), len(files), plural(len(files), "service", "services")), "")
}
