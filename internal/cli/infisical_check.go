package cli

import (
	"context"
	"fmt"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/secrets"
)

// checkExisting reports whether the settings every command would use already
// read the project. Credentials the server refuses, or a project it does not
// have, are set up again; an unreachable server is an error.
func (s *setupRun) checkExisting(ctx context.Context) (done bool, err error) {
	st, err := s.settings()
	if err != nil || !st.Configured() {
		return false, exitcode.With(exitcode.Usage, err)
	}
	c, err := infisical.NewClient(st, s.opts)
	if err != nil {
		return false, err
	}
	l, err := c.ListSecrets(ctx, st.ListOptions())
	switch infisical.KindOf(err) {
	case 0:
		s.g.ui.Success("already set up: startsvc reads project %s through %s (%s); nothing to create",
			st.ProjectID, st.Origin.Credentials, plural(len(l.Values()), "secret"))
		return true, nil
	case infisical.Auth:
		s.g.ui.Warn("the credentials in %s are refused (%s): setting up a new client secret", st.Origin.Credentials, err)
		return false, nil
	case infisical.NotFound:
		s.g.ui.Warn("project %s (from %s) is not found (%s): setting up project %q", st.ProjectID, st.Origin.Project, err, s.o.projectSlug)
		s.staleProject = true
		return false, nil
	}
	return false, err
}

// verify reads the project through the new identity, as every other command
// will, and says when something in the environment would win over it.
func (s *setupRun) verify(ctx context.Context, projectID, clientID string, secret secrets.Secret) error {
	st, err := s.settings()
	if err != nil {
		return exitcode.With(exitcode.Usage, err)
	}
	if string(st.ClientID) != clientID || st.ProjectID != projectID {
		s.g.ui.Warn("%s and %s, set in the environment or by flag, win over %s: unset them to use the new identity",
			st.Origin.Credentials, st.Origin.Project, s.envName)
	}
	st.ClientID, st.ClientSecret, st.Token, st.ProjectID = secrets.Secret(clientID), secret, "", projectID
	c, err := infisical.NewClient(st, s.opts)
	if err != nil {
		return err
	}
	l, err := c.ListSecrets(ctx, st.ListOptions())
	if err != nil {
		return fmt.Errorf("the new machine identity cannot read the project yet: %w", err)
	}
	s.g.ui.Success("startsvc reads project %s through the new machine identity (%s in %s)",
		projectID, plural(len(l.Values()), "secret"), st.Environment)
	return nil
}
