package launch

import (
	"context"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/doctor"
	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/secrets"
)

// Doctor runs every check of doctor for the Launcher's options and
// surroundings; it changes nothing.
func (l *Launcher) Doctor(ctx context.Context) *doctor.Report {
	return doctor.Run(ctx, l.doctorOptions())
}

// doctorOptions turns the Launcher's options and surroundings into doctor's.
func (l *Launcher) doctorOptions() doctor.Options {
	o := &l.Options
	return doctor.Options{
		Dir:          l.StackDir(),
		Files:        o.Files,
		Environment:  o.Environment,
		Profile:      o.Profile,
		ProfileSet:   o.ProfileSet,
		Project:      o.Project,
		EnvFile:      l.EnvFilePath(),
		EnvFileGiven: o.EnvFile != ".env",
		Environ:      l.Env.Environ,
		Via:          secrets.Via(o.SecretsVia),

		SkipInfisical:    o.SkipInfisical,
		RequireInfisical: o.RequireInfisical,
		Infisical: infisical.FlagValues{
			URL: o.InfisicalURL, ProjectID: o.InfisicalProject, Environment: o.InfisicalEnv,
			SecretPath: o.SecretPath, Recursive: o.Recursive,
		},
		InfisicalTimeout: o.InfisicalTimeout,
		LookPath:         l.Env.LookPath,
		Command:          l.Env.Command,

		FindCompose: func(ctx context.Context) (compose.CLI, error) {
			f := l.Finder(false)
			return f.Find(ctx)
		},
		Redactor: l.Redactor,
	}
}
