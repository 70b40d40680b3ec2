package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/migrate"
	"github.com/startsvc/startsvc/internal/secrets"
)

// The env-file keys setup reads and writes. All are Infisical's own settings:
// migrate never moves them.
const (
	keyAPIURL        = "INFISICAL_API_URL"
	keyProjectID     = "INFISICAL_PROJECT_ID"
	keyClientID      = "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID"
	keyClientSecret  = "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET"
	keyAdminEmail    = "INFISICAL_ADMIN_EMAIL"
	keyAdminPassword = "INFISICAL_ADMIN_PASSWORD"
	keyIdentityID    = "INFISICAL_IDENTITY_ID"
	keySiteURL       = "INFISICAL_SITE_URL" // the in-stack server's own address
	inStackURL       = "http://localhost:8010"
)

// setupRun is one run of infisical setup: the env file it records each
// finished step in, and the server.
type setupRun struct {
	d       *deps
	g       *globalOptions
	o       *setupOptions
	dir     string
	envPath string
	envName string
	env     *migrate.EnvFile
	site    string
	admin   *infisical.Admin
	opts    infisical.Options
	// staleProject: the project id startsvc has is not found on the server.
	staleProject bool
}

func newSetupRun(d *deps, o *setupOptions) (*setupRun, error) {
	g := o.global
	s := &setupRun{d: d, g: g, o: o, dir: absDir(d, g), envPath: g.EnvFile,
		opts: infisical.Options{Timeout: g.InfisicalTimeout, MaxRetryWait: g.InfisicalTimeout / 2}}
	if !filepath.IsAbs(s.envPath) {
		s.envPath = filepath.Join(s.dir, s.envPath)
	}
	s.envName = filepath.Base(s.envPath)
	var err error
	if s.env, err = migrate.OpenEnvFile(s.envPath); err != nil {
		return nil, exitcode.Usagef("env file: %w", err)
	}
	vals, err := s.env.Values(s.lookup)
	if err != nil {
		return nil, exitcode.Usagef("env file: %w", err)
	}
	g.redactor.Add(vals[keyAdminPassword], vals[keyClientSecret], s.d.env.Getenv(keyAdminPassword), s.d.env.Getenv(keyClientSecret))
	st, err := s.settings()
	if err != nil {
		return nil, exitcode.With(exitcode.Usage, err)
	}
	s.site = st.SiteURL
	if st.Origin.URL == infisical.OriginDefault {
		s.site = inStackURL
		if v := vals[keySiteURL]; v != "" {
			s.site = v
		}
	}
	if s.admin, err = infisical.NewAdmin(s.site, s.opts); err != nil {
		return nil, exitcode.With(exitcode.Usage, err)
	}
	return s, nil
}

func (s *setupRun) lookup(k string) (string, bool) {
	v := s.d.env.Getenv(k)
	return v, v != ""
}

// settings are the Infisical settings every other command would use now.
func (s *setupRun) settings() (infisical.Settings, error) {
	g := s.g
	return infisical.ResolveSettings(infisical.FlagValues{
		URL: g.InfisicalURL, ProjectID: g.InfisicalProject, Environment: g.InfisicalEnv, SecretPath: g.SecretPath,
	}, infisical.EnvFileGetenv(s.d.env.Getenv, s.envPath), s.dir)
}

// get reads a key from the process environment, then from the env file.
func (s *setupRun) get(key string) string {
	if v := s.d.env.Getenv(key); v != "" {
		return v
	}
	vals, _ := s.env.Values(s.lookup)
	return vals[key]
}

// record writes the assignments to the env file in one atomic step, with the
// server's URL when the file does not name it yet.
func (s *setupRun) record(list ...migrate.Assignment) error {
	if vals, _ := s.env.Values(s.lookup); vals[keyAPIURL] != s.site {
		list = append(list, migrate.Assignment{Key: keyAPIURL, Value: secrets.Secret(s.site)})
	}
	return exitcode.With(exitcode.Failure, s.env.Set(list...))
}

// backupNote says where the env file as it was is kept, once it was changed.
func (s *setupRun) backupNote() string {
	if s.env.Backup() == "" {
		return ""
	}
	return fmt.Sprintf("%s as it was is kept as %s (mode 0600)", s.envName, displayPath(s.d, s.env.Backup()))
}

// run takes every step that is not done yet.
func (s *setupRun) run(ctx context.Context) error {
	g := s.g
	g.ui.Step("waiting for Infisical at %s (at most %s)", s.admin.Host(), g.WaitTimeout)
	wctx, cancel := context.WithTimeout(ctx, g.WaitTimeout)
	err := s.admin.WaitReady(wctx, time.Second)
	cancel()
	if err != nil {
		return err
	}
	if done, err := s.checkExisting(ctx); done || err != nil {
		return err
	}
	if err := s.signIn(ctx); err != nil {
		return err
	}
	projectID, err := s.project(ctx)
	if err != nil {
		return err
	}
	identityID, fromFile, err := s.identity(ctx)
	if err != nil {
		return err
	}
	clientID, err := s.admin.AttachUniversalAuth(ctx, identityID)
	if err != nil {
		if fromFile && infisical.KindOf(err) == infisical.NotFound {
			return fmt.Errorf("%w (the id is %s in %s: remove that line to create a new machine identity)", err, keyIdentityID, s.envName)
		}
		return err
	}
	g.redactor.Add(clientID)
	added, err := s.admin.AddToProject(ctx, projectID, identityID)
	if err != nil {
		if infisical.KindOf(err) == infisical.NotFound && !infisical.IsRouteMissing(err) {
			return fmt.Errorf("%w (the project id is %s: correct it, or remove it to create project %q)", err, keyProjectID, s.o.projectSlug)
		}
		return err
	}
	if added {
		g.ui.Success("added the machine identity to the project (role member)")
	}
	secret, err := s.admin.CreateClientSecret(ctx, identityID, "startsvc infisical setup")
	if err != nil {
		return err
	}
	g.redactor.Add(string(secret))
	if err := s.record(migrate.Assignment{Key: keyProjectID, Value: secrets.Secret(projectID)},
		migrate.Assignment{Key: keyClientID, Value: secrets.Secret(clientID)},
		migrate.Assignment{Key: keyClientSecret, Value: secret}); err != nil {
		return err
	}
	g.ui.Success("created a client secret and wrote %s, %s, %s and %s to %s (mode 0600)",
		keyAPIURL, keyProjectID, keyClientID, keyClientSecret, s.envName)
	return s.verify(ctx, projectID, clientID, secret)
}

// project finds the project: the id the settings hold, else the one with the
// slug, else a new one. Its id is recorded at once.
func (s *setupRun) project(ctx context.Context) (string, error) {
	st, err := s.settings()
	if err != nil {
		return "", exitcode.With(exitcode.Usage, err)
	}
	if st.ProjectID != "" && !s.staleProject {
		s.g.ui.Info("project %s (from %s)", st.ProjectID, st.Origin.Project)
		if vals, _ := s.env.Values(s.lookup); vals[keyProjectID] == st.ProjectID {
			return st.ProjectID, nil
		}
		return st.ProjectID, s.record(migrate.Assignment{Key: keyProjectID, Value: secrets.Secret(st.ProjectID)})
	}
	slug := s.o.projectSlug
	p, found, err := s.admin.FindProject(ctx, slug)
	if err != nil {
		return "", err
	}
	if found {
		s.g.ui.Info("found project %s (%s)", slug, p.ID)
	} else {
		if p, err = s.admin.CreateProject(ctx, slug, slug); err != nil {
			return "", err
		}
		s.g.ui.Success("created project %s (%s) with its default environments", slug, p.ID)
	}
	return p.ID, s.record(migrate.Assignment{Key: keyProjectID, Value: secrets.Secret(p.ID)})
}

// identity returns the machine identity recorded in the env file, or creates
// one and records its id at once.
func (s *setupRun) identity(ctx context.Context) (id string, fromFile bool, err error) {
	if id := s.get(keyIdentityID); id != "" {
		s.g.ui.Info("machine identity %s (from %s)", id, keyIdentityID)
		return id, true, nil
	}
	if id, err = s.admin.CreateIdentity(ctx, s.o.identityName); err != nil {
		return "", false, err
	}
	s.g.ui.Success("created machine identity %s (%s)", s.o.identityName, id)
	return id, false, s.record(migrate.Assignment{Key: keyIdentityID, Value: secrets.Secret(id)})
}

// failed gives an error its exit code and says what the env file holds.
func (s *setupRun) failed(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		return fmt.Errorf("%w: %w", cause, err)
	}
	note := s.envName + " is unchanged"
	if s.env.Changed() {
		note = s.envName + " holds what is done so far: run 'startsvc infisical setup' again to continue"
		if b := s.backupNote(); b != "" {
			note += "; " + b
		}
	}
	code := exitcode.Failure
	var coded *exitcode.Error
	switch {
	case errors.As(err, &coded):
		code = coded.Code
	case infisical.KindOf(err) != 0:
		code = exitcode.Infisical
	}
	return exitcode.With(code, fmt.Errorf("%w\n%s", err, note))
}
