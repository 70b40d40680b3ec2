package infisicaltest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
)

// The routes that set a fresh instance up without the browser, as a 2026
// server answers them: the first admin and organisation in one call
// (bootstrap), the admin's password login and choice of organisation,
// projects, machine identities with universal auth, their client secrets and
// project memberships. In V3Only mode (a 2024 server) the bootstrap, password
// login and /api/v1/projects routes do not exist; with SetLegacyProjectRoutes
// projects and memberships live under /api/v2/workspace, as on older servers.
//
// A machine identity created through these routes may read and write only the
// projects it is a member of; identities added with AddIdentity may read every
// project, as before.
const (
	RouteBootstrap          = "POST /api/v1/admin/bootstrap"
	RouteAdminLogin         = "POST /api/v3/auth/login"
	RouteSelectOrganization = "POST /api/v3/auth/select-organization"
	RouteOrganizations      = "GET /api/v1/organization"
	RouteCreateProject      = "POST /api/v1/projects"
	RouteProjectBySlug      = "GET /api/v1/projects/slug/{slug}"
	RouteCreateWorkspace    = "POST /api/v2/workspace"
	RouteCreateIdentity     = "POST /api/v1/identities"
	RouteAttachUniversal    = "POST /api/v1/auth/universal-auth/identities/{identityId}"
	RouteGetUniversal       = "GET /api/v1/auth/universal-auth/identities/{identityId}"
	RouteCreateClientSecret = "POST /api/v1/auth/universal-auth/identities/{identityId}/client-secrets"
	RouteAddMembership      = "POST /api/v1/projects/{projectId}/identity-memberships/{identityId}"
	RouteAddWorkspaceMember = "POST /api/v2/workspace/{projectId}/identity-memberships/{identityId}"
)

// adminState is what the admin routes know. It is guarded by Server.mu.
type adminState struct {
	legacyProjects bool // projects under /api/v2/workspace only
	refuseBoot     bool // the bootstrap identity's token is refused, as on one 2026 snapshot

	initialized bool
	users       map[string]*adminUser // by e-mail
	orgs        []adminOrg
	sessions    map[string]string // admin token → organisation id ("" until one is selected)
	bootTokens  map[string]string // bootstrap identity token → organisation id
	projects    map[string]*adminProject
	identities  map[string]*adminIdentity
	owners      map[string]string // access token → id of the admin-created identity that logged in
	afterApply  map[string]int    // route → calls still to apply and then answer 500
	log         []AdminRequest
	secrets     int // client secrets created
	memberships int
}

type adminUser struct{ id, password, org string }

type adminOrg struct{ id, name, slug string }

type adminProject struct {
	id, name, slug, org string
	members             map[string]bool // identity ids
}

type adminIdentity struct {
	id, name, org, clientID string
}

// AdminRequest is one request to an admin route and the status it was answered.
type AdminRequest struct {
	Route  string
	Status int
}

// AdminCounts is what the admin routes have created since the server started.
type AdminCounts struct {
	Initialized                            bool
	Admins, Organizations, Projects        int
	Identities, ClientSecrets, Memberships int
}

// SetLegacyProjectRoutes makes the server answer projects and project
// memberships under /api/v2/workspace only, as servers before /api/v1/projects.
func (s *Server) SetLegacyProjectRoutes(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.admin.legacyProjects = on
}

// SetRefuseBootstrapToken makes every use of the token bootstrap returns
// answer 401, as a 2026 snapshot did ("Identity access token exceeded max
// age"); the admin's password login still works.
func (s *Server) SetRefuseBootstrapToken(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.admin.refuseBoot = on
}

// FailNextAfterApply makes the next call to route do its work and then answer
// 500, as when the answer is lost after the server applied the request.
func (s *Server) FailNextAfterApply(route string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.adminLocked().afterApply[route]++
}

// AdminLog is every request to an admin route so far, in order, faulted ones
// included.
func (s *Server) AdminLog() []AdminRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]AdminRequest(nil), s.admin.log...)
}

// ResetAdminLog empties the admin log.
func (s *Server) ResetAdminLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.admin.log = nil
}

// Created is how many requests to route were answered 200, so far.
func (s *Server) Created(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.admin.log {
		if r.Route == route && r.Status == http.StatusOK {
			n++
		}
	}
	return n
}

// Counts is what exists on the server through the admin routes.
func (s *Server) Counts() AdminCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &s.admin
	c := AdminCounts{Initialized: a.initialized, Admins: len(a.users), Organizations: len(a.orgs),
		Projects: len(a.projects), Identities: len(a.identities), ClientSecrets: a.secrets, Memberships: a.memberships}
	return c
}

// ProjectIDBySlug returns the id of the project created with slug, or "".
func (s *Server) ProjectIDBySlug(slug string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.admin.projects {
		if p.slug == slug {
			return p.id
		}
	}
	return ""
}

// adminLocked makes the admin state's maps on first use.
func (s *Server) adminLocked() *adminState {
	a := &s.admin
	if a.users == nil {
		a.users, a.sessions, a.bootTokens = map[string]*adminUser{}, map[string]string{}, map[string]string{}
		a.projects, a.identities = map[string]*adminProject{}, map[string]*adminIdentity{}
		a.owners, a.afterApply = map[string]string{}, map[string]int{}
	}
	return a
}

// statusRecorder remembers the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// handleAdmin registers the admin routes; each request is counted, may be
// faulted like any other, and is written to the admin log.
func (s *Server) handleAdmin(mux *http.ServeMux) {
	for route, h := range map[string]http.HandlerFunc{
		RouteBootstrap: s.bootstrap, RouteAdminLogin: s.adminLogin, RouteSelectOrganization: s.selectOrganization,
		RouteOrganizations: s.organizations, RouteCreateProject: s.createProject, RouteCreateWorkspace: s.createProject,
		RouteProjectBySlug: s.projectBySlug, RouteCreateIdentity: s.createIdentity, RouteAttachUniversal: s.attachUniversal,
		RouteGetUniversal: s.getUniversal, RouteCreateClientSecret: s.createClientSecret,
		RouteAddMembership: s.addMembership, RouteAddWorkspaceMember: s.addMembership,
	} {
		mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
			rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			if s.begin(rec, r, route) {
				if !s.routeExists(route) {
					s.routeNotFound(rec, r)
				} else if s.takeAfterApply(route) {
					h(httptest.NewRecorder(), r)
					s.writeError(rec, http.StatusInternalServerError, "InternalServerError", "Something went wrong")
				} else {
					h(rec, r)
				}
			}
			s.mu.Lock()
			s.admin.log = append(s.admin.log, AdminRequest{Route: route, Status: rec.status})
			s.mu.Unlock()
		})
	}
}

// routeExists says whether this server version has route.
func (s *Server) routeExists(route string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.mode == V3Only
	switch route {
	case RouteBootstrap, RouteAdminLogin:
		return !old
	case RouteCreateProject, RouteProjectBySlug, RouteAddMembership:
		return !old && !s.admin.legacyProjects
	case RouteCreateWorkspace, RouteAddWorkspaceMember:
		return old || s.admin.legacyProjects
	}
	return true
}

func (s *Server) takeAfterApply(route string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.adminLocked()
	if a.afterApply[route] > 0 {
		a.afterApply[route]--
		return true
	}
	return false
}

// decodeAdmin reads a JSON body and checks that the required fields are
// there, answering the request itself when not.
func (s *Server) decodeAdmin(w http.ResponseWriter, r *http.Request, v any, required ...string) bool {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var fields map[string]any
	if err != nil || json.Unmarshal(data, &fields) != nil || json.Unmarshal(data, v) != nil {
		s.writeError(w, http.StatusBadRequest, "Bad Request", "Body is not valid JSON")
		return false
	}
	for _, f := range required {
		if str, ok := fields[f].(string); !ok || strings.TrimSpace(str) == "" {
			s.validation(w, f, "Required")
			return false
		}
	}
	return true
}

// newID returns a UUID-shaped id, distinct per kind and call.
func (s *Server) newIDLocked(kind int) string {
	s.seq++
	return fmt.Sprintf("%08x-%04x-4000-8000-%012x", s.seq*2654435761%(1<<32), kind, s.seq)
}

func (s *Server) bootstrap(w http.ResponseWriter, r *http.Request) {
	var body struct{ Email, Password, Organization string }
	if !s.decodeAdmin(w, r, &body, "email", "password", "organization") {
		return
	}
	s.mu.Lock()
	a := s.adminLocked()
	if a.initialized {
		s.mu.Unlock()
		s.writeError(w, http.StatusBadRequest, "BadRequest", "Instance has already been set up")
		return
	}
	email := strings.ToLower(strings.TrimSpace(body.Email))
	org := adminOrg{id: s.newIDLocked(1), name: body.Organization, slug: slugOf(body.Organization)}
	user := &adminUser{id: s.newIDLocked(2), password: body.Password, org: org.id}
	a.initialized, a.users[email], a.orgs = true, user, append(a.orgs, org)
	identityID, tok := s.newIDLocked(3), s.issueTokenLocked()
	a.bootTokens[tok] = org.id
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"message":      "Successfully bootstrapped instance",
		"user":         map[string]any{"id": user.id, "email": email, "username": email, "superAdmin": true},
		"organization": map[string]any{"id": org.id, "name": org.name, "slug": org.slug},
		"identity": map[string]any{"id": identityID, "name": "Instance Admin Identity",
			"credentials": map[string]any{"token": tok}},
	})
}

func (s *Server) adminLogin(w http.ResponseWriter, r *http.Request) {
	var body struct{ Email, Password string }
	if !s.decodeAdmin(w, r, &body, "email", "password") {
		return
	}
	s.mu.Lock()
	a := s.adminLocked()
	u, ok := a.users[strings.ToLower(strings.TrimSpace(body.Email))]
	if !ok || u.password != body.Password {
		s.mu.Unlock()
		s.writeError(w, http.StatusBadRequest, "BadRequest", "Invalid credentials")
		return
	}
	tok := s.issueTokenLocked()
	a.sessions[tok] = ""
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"accessToken": tok})
}

// session finds the admin whose token the request carries (before or after
// choosing an organisation), answering the request itself when there is none.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (tok string, u *adminUser, ok bool) {
	tok, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.adminLocked()
	if _, ok := a.sessions[tok]; ok {
		for _, u := range a.users {
			return tok, u, true // one admin: the one who bootstrapped
		}
	}
	s.writeError(w, http.StatusUnauthorized, "UnauthorizedError", "Failed to authenticate")
	return "", nil, false
}

func (s *Server) selectOrganization(w http.ResponseWriter, r *http.Request) {
	_, u, ok := s.session(w, r)
	if !ok {
		return
	}
	var body struct {
		OrganizationID string `json:"organizationId"`
	}
	if !s.decodeAdmin(w, r, &body, "organizationId") {
		return
	}
	if body.OrganizationID != u.org {
		s.writeError(w, http.StatusUnauthorized, "UnauthorizedError", "User does not have access to the organization")
		return
	}
	s.mu.Lock()
	tok := s.issueTokenLocked()
	s.adminLocked().sessions[tok] = u.org
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "isMfaEnabled": false})
}

func (s *Server) organizations(w http.ResponseWriter, r *http.Request) {
	_, u, ok := s.session(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	var out []map[string]any
	for _, o := range s.admin.orgs {
		if o.id == u.org {
			out = append(out, map[string]any{"id": o.id, "name": o.name, "slug": o.slug})
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"organizations": out})
}

// actor checks an organisation-scoped admin token: a session with its
// organisation chosen, or the bootstrap identity's token. It answers the
// request itself when the token is refused.
func (s *Server) actor(w http.ResponseWriter, r *http.Request) (org string, ok bool) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	a := s.adminLocked()
	org, session := a.sessions[tok]
	bootOrg, boot := a.bootTokens[tok]
	refuse := a.refuseBoot
	s.mu.Unlock()
	switch {
	case session && org != "":
		return org, true
	case session:
		s.writeError(w, http.StatusForbidden, "ForbiddenError", "No organization selected for this session")
	case boot && refuse:
		s.writeError(w, http.StatusUnauthorized, "UnauthorizedError", "Identity access token exceeded max age")
	case boot:
		return bootOrg, true
	default:
		s.writeError(w, http.StatusForbidden, "TokenError", "Invalid token")
	}
	return "", false
}

var (
	adminSlug = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	notSlug   = regexp.MustCompile(`[^a-z0-9]+`)
)

func slugOf(name string) string {
	return strings.Trim(notSlug.ReplaceAllString(strings.ToLower(name), "-"), "-")
}

func projectJSON(p *adminProject, envs []string) map[string]any {
	list := []map[string]any{}
	for _, e := range envs {
		list = append(list, map[string]any{"name": e, "slug": e, "id": "env-" + e})
	}
	return map[string]any{"id": p.id, "_id": p.id, "name": p.name, "slug": p.slug, "orgId": p.org, "environments": list}
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request) {
	org, ok := s.actor(w, r)
	if !ok {
		return
	}
	body := struct {
		ProjectName string `json:"projectName"`
		Slug        string `json:"slug"`
		DefaultEnvs *bool  `json:"shouldCreateDefaultEnvs"`
	}{}
	if !s.decodeAdmin(w, r, &body, "projectName") {
		return
	}
	slug := body.Slug
	if slug == "" {
		slug = slugOf(body.ProjectName)
	}
	if len(slug) < 5 || len(slug) > 36 || !adminSlug.MatchString(slug) {
		s.validation(w, "slug", "Invalid slug")
		return
	}
	s.mu.Lock()
	a := s.adminLocked()
	for _, p := range a.projects {
		if p.org == org && p.slug == slug {
			s.mu.Unlock()
			s.writeError(w, http.StatusBadRequest, "BadRequest", "Project with the same slug already exists")
			return
		}
	}
	p := &adminProject{id: s.newIDLocked(4), name: body.ProjectName, slug: slug, org: org, members: map[string]bool{}}
	a.projects[p.id] = p
	var envs []string
	if body.DefaultEnvs == nil || *body.DefaultEnvs {
		envs = []string{"dev", "staging", "prod"}
		for _, e := range envs {
			s.folderLocked(p.id, e, "/", true)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"project": projectJSON(p, envs)})
}

func (s *Server) projectBySlug(w http.ResponseWriter, r *http.Request) {
	org, ok := s.actor(w, r)
	if !ok {
		return
	}
	slug := r.PathValue("slug")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.admin.projects {
		if p.org == org && p.slug == slug {
			var envs []string
			if proj := s.projects[p.id]; proj != nil {
				for e := range proj.envs {
					envs = append(envs, e)
				}
			}
			writeJSON(w, http.StatusOK, projectJSON(p, envs))
			return
		}
	}
	s.writeError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("Project with slug '%s' not found", slug))
}

func (s *Server) createIdentity(w http.ResponseWriter, r *http.Request) {
	org, ok := s.actor(w, r)
	if !ok {
		return
	}
	var body struct{ Name, OrganizationID, Role string }
	if !s.decodeAdmin(w, r, &body, "name", "organizationId") {
		return
	}
	if body.OrganizationID != org {
		s.writeError(w, http.StatusForbidden, "PermissionDenied", "You are not allowed to create identities in this organization")
		return
	}
	s.mu.Lock()
	id := &adminIdentity{id: s.newIDLocked(5), name: body.Name, org: org}
	s.adminLocked().identities[id.id] = id
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"identity": map[string]any{"id": id.id, "name": id.name, "authMethods": []string{}}})
}

// identity finds an identity of the actor's organisation by the path's
// identityId, answering the request itself when there is none.
func (s *Server) identity(w http.ResponseWriter, r *http.Request) (*adminIdentity, bool) {
	org, ok := s.actor(w, r)
	if !ok {
		return nil, false
	}
	id := r.PathValue("identityId")
	s.mu.Lock()
	ident := s.adminLocked().identities[id]
	s.mu.Unlock()
	if ident == nil || ident.org != org {
		s.writeError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("Failed to find identity with ID %s", id))
		return nil, false
	}
	return ident, true
}

func universalJSON(id *adminIdentity) map[string]any {
	return map[string]any{"identityUniversalAuth": map[string]any{"id": "ua-" + id.id, "identityId": id.id,
		"clientId": id.clientID, "accessTokenTTL": 2592000, "accessTokenMaxTTL": 2592000}}
}

func (s *Server) attachUniversal(w http.ResponseWriter, r *http.Request) {
	id, ok := s.identity(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	if id.clientID != "" {
		s.mu.Unlock()
		s.writeError(w, http.StatusBadRequest, "BadRequest", "Failed to add universal auth to already configured identity")
		return
	}
	id.clientID = s.newIDLocked(6)
	body := universalJSON(id)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) getUniversal(w http.ResponseWriter, r *http.Request) {
	id, ok := s.identity(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	configured, body := id.clientID != "", universalJSON(id)
	s.mu.Unlock()
	if !configured {
		s.writeError(w, http.StatusNotFound, "NotFound", "Failed to find universal auth for identity")
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) createClientSecret(w http.ResponseWriter, r *http.Request) {
	id, ok := s.identity(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	if id.clientID == "" {
		s.mu.Unlock()
		s.writeError(w, http.StatusBadRequest, "BadRequest", "The identity does not have universal auth")
		return
	}
	s.seq++
	secret := fmt.Sprintf("%016x%016x%016x", uint64(s.seq)*0x9e3779b97f4a7c15, uint64(s.seq)*0xc2b2ae3d27d4eb4f, s.seq)
	// The fake keeps one secret per client id: the newest.
	s.identities[id.clientID] = secret
	s.admin.secrets++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"clientSecret": secret, "clientSecretData": map[string]any{
		"id": fmt.Sprintf("cs-%d", s.seq), "clientSecretPrefix": secret[:4], "isClientSecretRevoked": false}})
}

func (s *Server) addMembership(w http.ResponseWriter, r *http.Request) {
	id, ok := s.identity(w, r)
	if !ok {
		return
	}
	projectID := r.PathValue("projectId")
	s.mu.Lock()
	p := s.admin.projects[projectID]
	switch {
	case p == nil || p.org != id.org:
		s.mu.Unlock()
		s.writeError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("Project with ID '%s' not found", projectID))
		return
	case p.members[id.id]:
		s.mu.Unlock()
		s.writeError(w, http.StatusBadRequest, "BadRequest",
			fmt.Sprintf("Identity with id %s already exists in project with id %s", id.id, projectID))
		return
	}
	p.members[id.id] = true
	s.admin.memberships++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"identityMembership": map[string]any{
		"id": "m-" + id.id + "-" + projectID, "identityId": id.id, "projectId": projectID, "role": "member"}})
}

// noteLoginLocked remembers which admin-created identity a new access token
// belongs to, so that its requests are held to its project memberships.
func (s *Server) noteLoginLocked(tok, clientID string) {
	for _, id := range s.adminLocked().identities {
		if id.clientID == clientID {
			s.admin.owners[tok] = id.id
		}
	}
}

// admitted refuses a listing or a write by an admin-created identity into a
// project it is not a member of, answering the request itself.
func (s *Server) admitted(w http.ResponseWriter, r *http.Request, route string) bool {
	var project string
	switch route {
	case RouteListV4:
		project = r.URL.Query().Get("projectId")
	case RouteListV3:
		project = r.URL.Query().Get("workspaceId")
	case RouteCreateSecret, RouteUpdateSecret, RouteCreateBatch, RouteUpdateBatch, RouteCreateFolder:
		data, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			return true // the handler answers a broken body
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
		var body struct {
			WorkspaceID string `json:"workspaceId"`
		}
		_ = json.Unmarshal(data, &body)
		project = body.WorkspaceID
	default:
		return true
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	a := s.adminLocked()
	owner, held := a.owners[tok]
	p := a.projects[project]
	allowed := !held || p != nil && p.members[owner]
	s.mu.Unlock()
	if !allowed {
		s.writeError(w, http.StatusForbidden, "PermissionDenied", "You are not allowed to access secrets in this project")
	}
	return allowed
}
