package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/migrate"
	"github.com/startsvc/startsvc/internal/secrets"
)

// signIn gets an admin token. With admin credentials (the environment, then
// the env file) it signs in; a sign-in that is refused on an instance whose
// bootstrap never happened (an earlier run failed at that step) bootstraps
// with them. Without a password it bootstraps a fresh instance: the password
// is generated and recorded in the env file before the call, so that an
// answer lost on the way cannot lose the only admin's password; when the
// server says it has an admin already, or has no bootstrap route, the env file
// is put back as it was and the error says what to do in the web page.
func (s *setupRun) signIn(ctx context.Context) error {
	g, a := s.g, s.admin
	email := s.o.adminEmail
	if email == "" {
		email = s.get(keyAdminEmail)
	}
	password := secrets.Secret(s.get(keyAdminPassword))
	if password != "" {
		if email == "" {
			return exitcode.Usagef("%s is set but %s is not: setup needs both to sign in as Infisical's admin", keyAdminPassword, keyAdminEmail)
		}
		err := a.SignIn(ctx, email, password, s.o.organization)
		if err == nil {
			g.ui.Info("signed in as the admin %s", email)
			return nil
		}
		if !refused(err) && !infisical.IsRouteMissing(err) {
			return err
		}
		berr := a.Bootstrap(ctx, email, password, s.o.organization)
		switch {
		case berr == nil:
			g.ui.Success("created the first admin (%s) and the organization %q with the password in %s", email, s.o.organization, s.envName)
			return nil
		case infisical.IsRouteMissing(berr) && infisical.IsRouteMissing(err):
			return s.guide(versionGap(a.Host()))
		case infisical.IsAlreadySetUp(berr):
			return exitcode.With(exitcode.Infisical, fmt.Errorf("%w\n(%s and %s are those of the admin of this Infisical, or remove them to be told what to do in its web page)",
				err, keyAdminEmail, keyAdminPassword))
		}
		return berr
	}
	if email == "" {
		return exitcode.With(exitcode.Usage, s.guideText(fmt.Sprintf("startsvc has no admin credentials for Infisical at %s. "+
			"For a fresh instance, give its first admin's e-mail (--admin-email, or %s in %s) and setup creates everything; "+
			"for one that has an admin, put %s and %s in %s and run setup again, or:", a.Host(), keyAdminEmail, s.envName,
			keyAdminEmail, keyAdminPassword, s.envName)))
	}
	generated, err := newPassword()
	if err != nil {
		return err
	}
	g.redactor.Add(string(generated))
	if err := s.record(migrate.Assignment{Key: keyAdminEmail, Value: secrets.Secret(email)},
		migrate.Assignment{Key: keyAdminPassword, Value: generated}); err != nil {
		return err
	}
	err = a.Bootstrap(ctx, email, generated, s.o.organization)
	switch {
	case err == nil:
		g.ui.Success("created the first admin (%s) and the organization %q; the admin's password is in %s as %s (mode 0600, never printed)",
			email, s.o.organization, s.envName, keyAdminPassword)
		return nil
	case infisical.IsRouteMissing(err):
		return s.revertAnd(s.guide(versionGap(a.Host())))
	case infisical.IsAlreadySetUp(err):
		return s.revertAnd(s.guide(fmt.Sprintf("Infisical at %s has an admin already, and startsvc has no credentials for it: "+
			"put %s and %s in %s and run setup again, or:", a.Host(), keyAdminEmail, keyAdminPassword, s.envName)))
	}
	return err
}

// refused reports a sign-in the server turned down (not one it could not answer).
func refused(err error) bool {
	k := infisical.KindOf(err)
	return !infisical.IsRouteMissing(err) && (k == infisical.Auth || k == infisical.Invalid || k == infisical.NotFound)
}

// newPassword is a strong password for the first admin: 32 characters from
// 192 random bits, no white space (the server trims it) and no quote.
func newPassword() (secrets.Secret, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate the admin password: %w", err)
	}
	return secrets.Secret(base64.RawURLEncoding.EncodeToString(b)), nil
}

// revertAnd puts the env file back as it was found, then returns err.
func (s *setupRun) revertAnd(err error) error {
	if rerr := s.env.Revert(); rerr != nil {
		return fmt.Errorf("%w\n(and putting %s back failed: %w)", err, s.envName, rerr)
	}
	return err
}

func versionGap(host string) string {
	return fmt.Sprintf("Infisical at %s cannot be set up over its API: it has no bootstrap route (POST /api/v1/admin/bootstrap "+
		"answers that the route does not exist). Servers of that age, such as those of 2024, create their first admin only in "+
		"the browser, which computes the keys the admin signs up with. Upgrade its image (infisical/infisical) and run setup "+
		"again, or:", host)
}

// guide is the error that tells what to create in the web page (exit 4).
func (s *setupRun) guide(reason string) error {
	return exitcode.With(exitcode.Infisical, s.guideText(reason))
}

func (s *setupRun) guideText(reason string) error {
	return fmt.Errorf(`%s
  in Infisical's web page (%s):
  1. sign in as its admin (on a fresh instance: create the admin and the organization)
  2. create a project, for example %q
  3. Organization > Access Control > Identities: create a machine identity (role Member) with Universal Auth
  4. create a client secret for it; note its client id and the secret
  5. in the project, Access Control > Machine Identities: add the identity (role Developer)
  6. put into %s:
       %s=%s
       %s=<the project's id, in its settings>
       %s=<the client id>
       %s=<the client secret>
  then 'startsvc infisical setup' checks them, and 'startsvc migrate' moves the secrets`,
		reason, s.site, s.o.projectSlug, s.envName, keyAPIURL, s.site, keyProjectID, keyClientID, keyClientSecret)
}
