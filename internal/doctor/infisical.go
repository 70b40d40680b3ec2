package doctor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/stack"
)

// checkInfisical checks that Infisical answers (GET /api/status) and that the
// credentials work (one login and one listing, as up makes them). The values
// listed are kept for the variable checks and given to the redactor; only
// their number is reported. What up would fall back from is a warning, what
// it would refuse (or any fallback under --require-infisical) an error with
// exit code 4.
func (r *run) checkInfisical(ctx context.Context) {
	if r.o.SkipInfisical {
		r.ok(CheckInfisical, "skipped (--skip-infisical): variables come from the env file and the shell", "")
		r.skip(CheckInfisicalAuth, "--skip-infisical")
		return
	}
	dir := r.o.Dir
	if r.layout != nil {
		dir = r.layout.Dir
	}
	settings, err := infisical.ResolveSettings(r.o.Infisical, infisical.EnvFileGetenv(getenvOf(r.o.Environ), r.o.EnvFile), dir)
	if err != nil {
		r.fail(CheckInfisical, exitcode.Usage, err.Error(), "fix the Infisical setting it names")
		r.skip(CheckInfisicalAuth, "the Infisical settings are invalid")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.o.InfisicalTimeout)
	defer cancel()
	src, err := infisical.NewSource(settings, infisical.Deps{
		LookPath: r.o.LookPath, Command: r.o.Command, Environ: r.o.Environ, Dir: dir,
		HTTP: infisical.Options{Timeout: r.o.InfisicalTimeout, MaxRetryWait: r.o.InfisicalTimeout / 2},
	})
	if err != nil {
		r.infisicalFailed(CheckInfisical, settings, err)
		r.skip(CheckInfisicalAuth, "Infisical is not set up")
		return
	}
	if api, ok := src.(*infisical.APISource); ok {
		if err := api.Client.Status(ctx); err != nil {
			r.infisicalLocal = r.inStack(settings.SiteURL)
			r.infisicalFailed(CheckInfisical, settings, err)
			r.skip(CheckInfisicalAuth, "Infisical does not answer")
			return
		}
		r.ok(CheckInfisical, fmt.Sprintf("Infisical at %s answers (GET /api/status)", api.Client.Host()), "")
	} else {
		r.ok(CheckInfisical, "no machine credentials are set: secrets are read through the Infisical CLI, as you are logged in with it", "")
	}

	vals, err := src.Fetch(ctx)
	if err != nil {
		r.infisicalFailed(CheckInfisicalAuth, settings, err)
		return
	}
	r.o.Redactor.Add(slices.Collect(maps.Values(vals))...)
	var bad []string
	for k, v := range vals {
		if compose.CheckValue(k, v) != nil || (r.o.Via == secrets.ViaFile && compose.CheckKey(k) != nil) {
			bad = append(bad, k)
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		r.fail(CheckInfisicalAuth, exitcode.Infisical,
			fmt.Sprintf("%s cannot be handed to compose (a NUL byte, invalid UTF-8, or a name an env file cannot hold)", list(bad)),
			"fix or rename these secrets in Infisical; for names, --secrets-via env also works")
		return
	}
	r.remote = vals
	where := fmt.Sprintf("environment %s, folder %s", orDefault(settings.Environment, infisical.DefaultEnvironment), settings.SecretPath)
	if settings.ProjectID != "" {
		where = "project " + settings.ProjectID + ", " + where
	}
	r.ok(CheckInfisicalAuth, fmt.Sprintf("%s: %d %s in %s (values not shown)", src.Name(), len(vals), plural(len(vals), "secret", "secrets"), where), "")
}

// infisicalFailed reports an Infisical failure the way up's policy treats it.
func (r *run) infisicalFailed(name string, s infisical.Settings, err error) {
	kind := infisical.KindOf(err)
	switch {
	case errors.Is(err, context.Canceled):
		r.fail(name, exitcode.Interrupted, "interrupted", "")
	case kind == infisical.NotConfigured && !r.o.RequireInfisical:
		hint := s.Hint()
		if hint == "" {
			hint = "log in with the Infisical CLI, or set machine credentials"
		}
		r.ok(name, "not configured: variables come from the env file and the shell only", hint)
	case kind.Fallback() && !r.o.RequireInfisical:
		msg := fmt.Sprintf("%s; up would fall back to the env file", err)
		hint := "check the URL and that Infisical runs; --skip-infisical says you mean to use the env file alone"
		if r.infisicalLocal {
			hint = "if Infisical runs inside this stack, up starts it first and reads secrets once it answers; otherwise check that it runs"
		}
		r.warn(name, msg, hint)
	case r.o.RequireInfisical && (kind.Fallback() || kind == 0):
		r.fail(name, exitcode.Infisical, fmt.Sprintf("%s (--require-infisical: no fallback)", err), "make Infisical reachable, or drop --require-infisical")
	default:
		r.fail(name, exitcode.Infisical, err.Error(), "fix the Infisical settings (credentials, project, environment, --secret-path)")
	}
}

// inStack reports whether Infisical may run inside this stack, as up decides
// it: its URL is this machine, and the stack directory follows the convention
// and says in which stages its services start.
func (r *run) inStack(site string) bool { return stack.InfisicalInStack(r.layout, site) }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
