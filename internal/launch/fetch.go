package launch

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/secrets"
)

// fetchRemote applies the Infisical policy: skipped or not configured means
// the env file alone (said once); unreachable means a warning naming the cause
// and the env file; a configuration error (bad credentials, no access, unknown
// project, environment or path) is exit 4, as is every fallback under
// --require-infisical. The whole phase is bounded by --infisical-timeout.
func (s *Stack) fetchRemote(ctx context.Context) (map[string]string, error) {
	l, o := s.l, &s.l.Options
	envName := filepath.Base(s.envFile)
	if o.SkipInfisical {
		l.Report.Info("Infisical skipped (--skip-infisical): variables come from %s", envName)
		return nil, nil
	}
	src, vals, err := s.fetch(ctx)
	if cause := context.Cause(ctx); cause != nil {
		return nil, cause
	}
	settings := s.settings
	if err == nil {
		l.Redactor.Add(slices.Collect(maps.Values(vals))...)
		l.Report.Info("%s from %s", Plural(len(vals), "secret"), src.Name())
		return vals, nil
	}
	kind := infisical.KindOf(err)
	switch {
	case o.RequireInfisical:
		return nil, exitcode.With(exitcode.Infisical, fmt.Errorf("%w (--require-infisical: no fallback to %s)", err, envName))
	case kind == infisical.NotConfigured:
		how := settings.Hint()
		if settings.Configured() || src != nil {
			how = err.Error() // the Infisical CLI is there but not logged in: it says what to do
		}
		l.Report.Info("Infisical is not configured, so variables come from %s only. To use Infisical: %s", envName, how)
		return nil, nil
	case kind.Fallback() && s.strict:
		return nil, err
	case kind.Fallback():
		l.Report.Warn("Infisical is unreachable, falling back to %s: %s", envName, err)
		return nil, nil
	}
	return nil, exitcode.With(exitcode.Infisical, fmt.Errorf("%w\nnothing was started: fix the Infisical settings, or run with --skip-infisical to use %s alone", err, envName))
}

// fetch reads the secrets from the Stack's source, bounded by
// --infisical-timeout. The source is made once and kept: a poller reuses its
// login and its conditional listing. src is nil when no source could be made.
func (s *Stack) fetch(ctx context.Context) (src secrets.Source, vals map[string]string, err error) {
	l, o := s.l, &s.l.Options
	if s.src == nil {
		if err := s.resolveSettings(); err != nil {
			return nil, nil, err
		}
		s.src, err = infisical.NewSource(s.settings, infisical.Deps{
			LookPath: l.Env.LookPath, Command: l.Env.Command, Environ: l.Env.Environ, Dir: s.Layout.Dir,
			HTTP:   infisical.Options{Timeout: o.InfisicalTimeout, MaxRetryWait: o.InfisicalTimeout / 2, Conditional: s.strict},
			Notify: func(msg string) { l.Report.Warn("%s", msg) },
		})
		if err != nil {
			s.src = nil
			return nil, nil, err
		}
	}
	fctx, cancel := context.WithTimeout(ctx, o.InfisicalTimeout)
	defer cancel()
	vals, err = s.src.Fetch(fctx)
	return s.src, vals, err
}
