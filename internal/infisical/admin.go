package infisical

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/startsvc/startsvc/internal/secrets"
)

// Setting a fresh self-hosted instance up without the browser.
//
// A current server creates its first admin and organisation in one call,
// POST /api/v1/admin/bootstrap, which also returns the token of an
// instance-admin machine identity. One server version refused that token
// (401); the admin's own password login, POST /api/v3/auth/login followed by
// POST /api/v3/auth/select-organization, then works, and Admin falls back to
// it by itself. Servers from 2024 have no bootstrap route: their first admin
// can only sign up in the browser. Older servers keep projects and project
// memberships under /api/v2/workspace rather than /api/v1/projects; Admin
// tries the current route and, when the server says it has no such route,
// the older one.
//
// Calls that create something are not retried after a 5xx answer or a broken
// connection, as for writes: the server may have applied them.

// Admin makes the calls that set an instance up, with the token of its first
// admin. It is not safe for concurrent use.
type Admin struct {
	c        *Client
	orgID    string
	email    string
	password secrets.Secret
	boot     bool // the bearer is the bootstrap identity's token
	legacy   bool // projects live under /api/v2/workspace
}

// Project is a project as setup needs it.
type Project struct {
	ID, Name, Slug string
	Environments   []string // slugs
}

// NewAdmin returns an Admin for the server at siteURL (with or without /api).
// It makes no call.
func NewAdmin(siteURL string, o Options) (*Admin, error) {
	site, err := NormalizeSiteURL(siteURL)
	if err != nil {
		return nil, invalidf("infisical URL: %v", err)
	}
	c, err := newClient(Settings{SiteURL: site}, o)
	if err != nil {
		return nil, err
	}
	return &Admin{c: c}, nil
}

// Host is the server's host (and port), for messages.
func (a *Admin) Host() string { return a.c.host }

// OrganizationID is the organisation the admin token acts in; empty before
// Bootstrap or SignIn.
func (a *Admin) OrganizationID() string { return a.orgID }

// WaitReady asks GET /api/status every interval until the server answers as
// Infisical does, or ctx ends. Only an unreachable server is waited for: any
// other answer (a 404 from something that is not Infisical) ends the wait at
// once. The error is an *Error.
func (a *Admin) WaitReady(ctx context.Context, interval time.Duration) error {
	const op = "wait for Infisical"
	for {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := a.c.Status(actx)
		cancel()
		switch {
		case err == nil:
			return nil
		case errors.Is(ctx.Err(), context.Canceled):
			return contextError(ctx, op, a.c.host, err)
		case ctx.Err() != nil:
			return &Error{Kind: Unreachable, Op: op, Host: a.c.host,
				Message: "GET /api/status did not answer in time; last: " + messageOf(err), Err: errors.Join(ctx.Err(), err)}
		case KindOf(err) != Unreachable:
			return err
		}
		t := time.NewTimer(interval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

func messageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Status != 0 {
			return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
		}
		return e.Message
	}
	return err.Error()
}

// Bootstrap creates the instance's first admin and organisation (one call)
// and keeps the token the answer holds. When that token is later refused,
// Admin signs in with email and password instead. IsRouteMissing(err) means the
// server has no bootstrap route; IsAlreadySetUp(err) that it has an admin.
func (a *Admin) Bootstrap(ctx context.Context, email string, password secrets.Secret, organization string) error {
	const op = "bootstrap the Infisical instance"
	a.remember(string(password))
	body, err := json.Marshal(map[string]string{"email": email, "password": string(password), "organization": organization})
	if err != nil {
		return &Error{Kind: Invalid, Op: op, Host: a.c.host, Message: "cannot encode the request"}
	}
	data, err := a.c.writeAnswer(ctx, request{op: op, method: http.MethodPost, path: "/v1/admin/bootstrap", body: body}, "organization")
	if err != nil {
		return err
	}
	var r struct {
		Organization struct {
			ID string `json:"id"`
		} `json:"organization"`
		Identity struct {
			Credentials struct {
				Token string `json:"token"`
			} `json:"credentials"`
		} `json:"identity"`
	}
	if json.Unmarshal(data, &r) != nil || r.Organization.ID == "" || r.Identity.Credentials.Token == "" {
		return notInfisical(op, a.c.host)
	}
	a.remember(r.Identity.Credentials.Token)
	a.orgID, a.email, a.password, a.boot = r.Organization.ID, email, password, true
	a.c.bearer = secrets.Secret(r.Identity.Credentials.Token)
	return nil
}

// SignIn logs in as the admin with email and password, then chooses the
// organisation: the one Bootstrap created, else the admin's only one, else
// the one named organization (by name or slug).
func (a *Admin) SignIn(ctx context.Context, email string, password secrets.Secret, organization string) error {
	const op = "sign in as the Infisical admin"
	a.remember(string(password))
	body, err := json.Marshal(map[string]string{"email": email, "password": string(password)})
	if err != nil {
		return &Error{Kind: Invalid, Op: op, Host: a.c.host, Message: "cannot encode the request"}
	}
	data, err := a.c.writeAnswer(ctx, request{op: op, method: http.MethodPost, path: "/v3/auth/login", body: body}, "accessToken")
	if err != nil {
		return err
	}
	var r struct {
		AccessToken string `json:"accessToken"`
	}
	if json.Unmarshal(data, &r) != nil || r.AccessToken == "" {
		return notInfisical(op, a.c.host)
	}
	a.remember(r.AccessToken)
	a.c.bearer, a.boot = secrets.Secret(r.AccessToken), false
	if a.orgID == "" {
		if a.orgID, err = a.chooseOrganization(ctx, organization); err != nil {
			return err
		}
	}
	const selOp = "choose the Infisical organization"
	body, _ = json.Marshal(map[string]string{"organizationId": a.orgID})
	data, err = a.c.writeAnswer(ctx, request{op: selOp, method: http.MethodPost, path: "/v3/auth/select-organization", body: body, auth: true}, "token")
	if err != nil {
		return err
	}
	var sel struct {
		Token string `json:"token"`
	}
	if json.Unmarshal(data, &sel) != nil || sel.Token == "" {
		return notInfisical(selOp, a.c.host)
	}
	a.remember(sel.Token)
	a.c.bearer, a.email, a.password = secrets.Secret(sel.Token), email, password
	return nil
}

func (a *Admin) chooseOrganization(ctx context.Context, organization string) (string, error) {
	const op = "list the admin's Infisical organizations"
	data, err := a.c.do(ctx, request{op: op, method: http.MethodGet, path: "/v1/organization", auth: true})
	if err != nil {
		return "", err
	}
	var r struct {
		Organizations []struct{ ID, Name, Slug string } `json:"organizations"`
	}
	if json.Unmarshal(data, &r) != nil {
		return "", notInfisical(op, a.c.host)
	}
	var names []string
	for _, o := range r.Organizations {
		if len(r.Organizations) == 1 || o.Name == organization || o.Slug == organization {
			return o.ID, nil
		}
		names = append(names, o.Name)
	}
	if len(names) == 0 {
		return "", &Error{Kind: NotFound, Op: op, Host: a.c.host, Message: "the admin belongs to no organization"}
	}
	return "", &Error{Kind: Invalid, Op: op, Host: a.c.host,
		Message: fmt.Sprintf("the admin belongs to several organizations (%s): name one with --organization", strings.Join(names, ", "))}
}

// call makes an authenticated admin call. When the bootstrap token is
// refused (401: nothing was done), it signs in with the admin's password
// once and asks again. A write is not retried after a 5xx answer.
func (a *Admin) call(ctx context.Context, r request, field string) ([]byte, error) {
	r.auth = true
	ctx, cancel := a.c.bound(ctx)
	defer cancel()
	send := func() ([]byte, error) {
		if r.method == http.MethodGet {
			return a.c.do(ctx, r)
		}
		return a.c.writeAnswer(ctx, r, field)
	}
	data, err := send()
	var e *Error
	if err != nil && a.boot && a.password != "" && errors.As(err, &e) && e.Status == http.StatusUnauthorized {
		if serr := a.SignIn(ctx, a.email, a.password, ""); serr != nil {
			return nil, fmt.Errorf("%w; signing in with the admin's password instead failed: %w", err, serr)
		}
		data, err = send()
	}
	return data, err
}

// FindProject looks a project of the organisation up by its slug. A server
// without that route (an older one) finds nothing.
func (a *Admin) FindProject(ctx context.Context, slug string) (Project, bool, error) {
	op := fmt.Sprintf("find the Infisical project %q", slug)
	data, err := a.call(ctx, request{op: op, method: http.MethodGet, path: "/v1/projects/slug/" + url.PathEscape(slug)}, "")
	switch {
	case IsRouteMissing(err):
		return Project{}, false, nil
	case KindOf(err) == NotFound:
		return Project{}, false, nil
	case err != nil:
		return Project{}, false, err
	}
	p, ok := decodeProject(data)
	if !ok {
		return Project{}, false, notInfisical(op, a.c.host)
	}
	return p, true, nil
}

// CreateProject creates a project with the server's default environments.
func (a *Admin) CreateProject(ctx context.Context, name, slug string) (Project, error) {
	op := fmt.Sprintf("create the Infisical project %q", slug)
	body, _ := json.Marshal(map[string]any{"projectName": name, "slug": slug, "shouldCreateDefaultEnvs": true})
	r := request{op: op, method: http.MethodPost, path: "/v1/projects", body: body}
	if a.legacy {
		r.path = "/v2/workspace"
	}
	data, err := a.call(ctx, r, "")
	if !a.legacy && IsRouteMissing(err) {
		a.legacy, r.path = true, "/v2/workspace"
		data, err = a.call(ctx, r, "")
	}
	if err != nil {
		return Project{}, err
	}
	var wrap struct {
		Project   json.RawMessage `json:"project"`
		Workspace json.RawMessage `json:"workspace"`
	}
	_ = json.Unmarshal(data, &wrap)
	if wrap.Project == nil {
		wrap.Project = wrap.Workspace
	}
	p, ok := decodeProject(wrap.Project)
	if !ok {
		return Project{}, notInfisical(op, a.c.host)
	}
	return p, nil
}

func decodeProject(data []byte) (Project, bool) {
	var r struct {
		ID, Name, Slug string
		Environments   []struct{ Slug string }
	}
	var raw struct {
		UnderscoreID string `json:"_id"`
	}
	if json.Unmarshal(data, &r) != nil || json.Unmarshal(data, &raw) != nil {
		return Project{}, false
	}
	p := Project{ID: r.ID, Name: r.Name, Slug: r.Slug}
	if p.ID == "" {
		p.ID = raw.UnderscoreID
	}
	for _, e := range r.Environments {
		p.Environments = append(p.Environments, e.Slug)
	}
	return p, p.ID != ""
}

// CreateIdentity creates a machine identity with the organisation role
// member, and returns its id.
func (a *Admin) CreateIdentity(ctx context.Context, name string) (string, error) {
	op := fmt.Sprintf("create the machine identity %q", name)
	body, _ := json.Marshal(map[string]string{"name": name, "organizationId": a.orgID, "role": "member"})
	data, err := a.call(ctx, request{op: op, method: http.MethodPost, path: "/v1/identities", body: body}, "identity")
	if err != nil {
		return "", err
	}
	var r struct {
		Identity struct{ ID string } `json:"identity"`
	}
	if json.Unmarshal(data, &r) != nil || r.Identity.ID == "" {
		return "", notInfisical(op, a.c.host)
	}
	return r.Identity.ID, nil
}

// AttachUniversalAuth gives the identity universal auth and returns its client
// id. An identity that has it already is read instead.
func (a *Admin) AttachUniversalAuth(ctx context.Context, identityID string) (string, error) {
	op := fmt.Sprintf("attach universal auth to the machine identity %s", identityID)
	path := "/v1/auth/universal-auth/identities/" + url.PathEscape(identityID)
	data, err := a.call(ctx, request{op: op, method: http.MethodPost, path: path, body: []byte("{}")}, "identityUniversalAuth")
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Message), "already configured") {
		op = fmt.Sprintf("read the universal auth of the machine identity %s", identityID)
		data, err = a.call(ctx, request{op: op, method: http.MethodGet, path: path}, "")
	}
	if err != nil {
		return "", err
	}
	var r struct {
		UA struct {
			ClientID string `json:"clientId"`
		} `json:"identityUniversalAuth"`
	}
	if json.Unmarshal(data, &r) != nil || r.UA.ClientID == "" {
		return "", notInfisical(op, a.c.host)
	}
	return r.UA.ClientID, nil
}

// CreateClientSecret creates a client secret for the identity's universal
// auth. The server shows it in this answer only.
func (a *Admin) CreateClientSecret(ctx context.Context, identityID, description string) (secrets.Secret, error) {
	op := fmt.Sprintf("create a client secret for the machine identity %s", identityID)
	body, _ := json.Marshal(map[string]string{"description": description})
	path := "/v1/auth/universal-auth/identities/" + url.PathEscape(identityID) + "/client-secrets"
	data, err := a.call(ctx, request{op: op, method: http.MethodPost, path: path, body: body}, "clientSecret")
	if err != nil {
		return "", err
	}
	var r struct {
		ClientSecret string `json:"clientSecret"`
	}
	if json.Unmarshal(data, &r) != nil || r.ClientSecret == "" {
		return "", notInfisical(op, a.c.host)
	}
	a.remember(r.ClientSecret)
	return secrets.Secret(r.ClientSecret), nil
}

// AddToProject makes the identity a member of the project (role member).
// added is false when it was one already.
func (a *Admin) AddToProject(ctx context.Context, projectID, identityID string) (added bool, err error) {
	op := fmt.Sprintf("add the machine identity %s to the project %s", identityID, projectID)
	body := []byte(`{"role":"member"}`)
	tail := "/" + url.PathEscape(projectID) + "/identity-memberships/" + url.PathEscape(identityID)
	r := request{op: op, method: http.MethodPost, path: "/v1/projects" + tail, body: body}
	if a.legacy {
		r.path = "/v2/workspace" + tail
	}
	_, err = a.call(ctx, r, "")
	if !a.legacy && IsRouteMissing(err) {
		a.legacy, r.path = true, "/v2/workspace"+tail
		_, err = a.call(ctx, r, "")
	}
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Message), "already exists in project") {
		return false, nil
	}
	return err == nil, err
}

// remember adds a credential to what the client removes from messages.
func (a *Admin) remember(v string) {
	if v != "" {
		a.c.known = append(a.c.known, v)
	}
}

func notInfisical(op, host string) *Error {
	return &Error{Kind: Unreachable, Op: op, Host: host, Status: http.StatusOK,
		Message: "the answer is not Infisical's: is the URL right?"}
}

// IsRouteMissing reports whether err is a server's answer that it has no such
// route: the call belongs to another version of Infisical.
func IsRouteMissing(err error) bool { return isRouteNotFound(err) }

// IsAlreadySetUp reports whether err is the answer of bootstrap on an instance
// that has its admin already.
func IsAlreadySetUp(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
		return false
	}
	m := strings.ToLower(e.Message)
	return strings.Contains(m, "already been set up") || strings.Contains(m, "already set up") || strings.Contains(m, "user already exists")
}
