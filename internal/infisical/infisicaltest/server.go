// Package infisicaltest is a fake Infisical server for tests, built on
// httptest.Server. It answers the routes startsvc uses the way a real server
// does — the same paths, bodies, status codes and error shapes — and can be
// told to fail in the ways a real deployment fails: 5xx, rate limiting, a
// silent server, a body that stalls, is cut short, is not JSON or is huge. It
// counts calls per route so that tests can check how many calls a client made.
//
// What it models: universal-auth login, access tokens (an expired or unknown
// one is answered 403 TokenError), legacy service tokens (accepted only in
// the st.<id>.<secret> form the client must send), projects with
// environments, folders, shared and personal secrets, imports (of the listed
// folder only) and reference expansion; listing through v4 and v3 or, in
// V3Only mode, through v3 alone (v4 then answers the route-404 of a server
// without that route); the project's environments (GET /v1/workspace/{id})
// and child folders (GET /v1/folders); the v3 write routes and folder
// creation for migrate.
//
// An environment or folder that does not exist is answered as the real
// servers answer it: in V3Only mode (a 2024 server) the listing is 200 with an
// empty list, exactly as for an empty folder; in V4 mode (a 2026 server) it is
// 404 SecretPathNotFound on both listing routes.
// The routes that set a fresh instance up, with a log of their calls (admin.go).
// An identity added with AddIdentity may read every project (one created
// through the admin routes only those it is a member of); a service token only
// its own project and environment, and one added as read-only may not write.
//
// A Server is safe for concurrent use. Close releases requests that hang.
package infisicaltest

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Mode says which listing routes the server has.
type Mode int

const (
	// V4 is a current server (2026): GET /api/v4/secrets and the older v3
	// route; an unknown environment or folder is 404 SecretPathNotFound.
	V4 Mode = iota
	// V3Only is a server from 2024: /api/v4/secrets answers a route-404, and
	// an unknown environment or folder lists 200 with no secrets.
	V3Only
)

// Routes, as the patterns Calls, LastQuery and the fault methods take.
const (
	RouteStatus       = "GET /api/status"
	RouteLogin        = "POST /api/v1/auth/universal-auth/login"
	RouteServiceToken = "GET /api/v2/service-token"
	RouteListV4       = "GET /api/v4/secrets"
	RouteListV3       = "GET /api/v3/secrets/raw"
	RouteCreateSecret = "POST /api/v3/secrets/raw/{name}"
	RouteUpdateSecret = "PATCH /api/v3/secrets/raw/{name}"
	RouteCreateBatch  = "POST /api/v3/secrets/batch/raw"
	RouteUpdateBatch  = "PATCH /api/v3/secrets/batch/raw"
	RouteCreateFolder = "POST /api/v1/folders"
	RouteWorkspace    = "GET /api/v1/workspace/{id}"
	RouteFolders      = "GET /api/v1/folders"
)

// writeRoutes are the routes FailWrite counts.
var writeRoutes = map[string]bool{RouteCreateSecret: true, RouteUpdateSecret: true,
	RouteCreateBatch: true, RouteUpdateBatch: true, RouteCreateFolder: true}

// Fault is a way a request can go wrong, scripted with FailNext or FailAlways.
type Fault struct {
	kind   faultKind
	status int
	wait   string
	size   int64
}

type faultKind int

const (
	faultStatus faultKind = iota + 1
	faultRateLimit
	faultHang
	faultStall
	faultInvalidJSON
	faultTruncated
	faultHuge
	faultRouteMissing
	faultNameless
)

// Status answers with code and Infisical's error body, as the server does on
// an internal error (500) or behind a failing proxy (502, 503).
func Status(code int) Fault { return Fault{kind: faultStatus, status: code} }

// RateLimited answers 429 RateLimitExceeded. wait is what the message names,
// such as "2 seconds" or "1 minute"; "" gives a message that names no wait.
func RateLimited(wait string) Fault { return Fault{kind: faultRateLimit, wait: wait} }

// HangBeforeHeaders accepts the request and never answers.
func HangBeforeHeaders() Fault { return Fault{kind: faultHang} }

// StallBody sends 200 and the start of the body, then nothing more.
func StallBody() Fault { return Fault{kind: faultStall} }

// InvalidJSON answers 200 with a body that is not valid JSON.
func InvalidJSON() Fault { return Fault{kind: faultInvalidJSON} }

// TruncatedBody announces a body longer than it sends, then closes the connection.
func TruncatedBody() Fault { return Fault{kind: faultTruncated} }

// NamelessSecret answers a listing 200 with a well-formed body holding a
// secret whose name is empty: an answer no Infisical gives.
func NamelessSecret() Fault { return Fault{kind: faultNameless} }

// RouteMissing answers as a server without the route does: 404 "Route … not found".
func RouteMissing() Fault { return Fault{kind: faultRouteMissing} }

// HugeBody answers 200 with a JSON body of about n bytes.
func HugeBody(n int64) Fault { return Fault{kind: faultHuge, size: n} }

// Server is the fake. The embedded httptest.Server gives its URL and client.
type Server struct {
	*httptest.Server

	mu             sync.Mutex
	mode           Mode
	oldLoginErrors bool
	legacyNotFound bool
	identities     map[string]string // client id → client secret
	tokens         map[string]bool   // access token → still valid
	service        map[string]serviceToken
	projects       map[string]*project
	next           map[string][]Fault
	always         map[string]Fault
	calls          map[string]int
	queries        map[string]url.Values
	writes         int
	failWrites     map[int]bool
	seq            int
	reqs           atomic.Int64
	notModified    atomic.Int64 // listings answered 304
	admin          adminState   // the routes that set an instance up: admin.go

	hanging   chan string
	done      chan struct{}
	closeOnce sync.Once
}

type serviceToken struct {
	id, project, env, path string
	readOnly               bool
}

type project struct {
	envs map[string]*environment
}

type environment struct {
	folders map[string]*folder
}

type folder struct {
	secrets map[string]*secret // by key; personal overrides under "personal:"+key
	imports []importRef
}

type secret struct {
	key, value, typ string
	version         int
}

type importRef struct {
	env, path string
}

// New starts a fake server over plain HTTP in V4 mode, with no project,
// identity or token. Close it when done.
func New() *Server {
	s := newServer()
	s.Start()
	return s
}

// NewTLS starts a fake server over HTTPS with a self-signed certificate that
// only its Client trusts.
func NewTLS() *Server {
	s := newServer()
	s.StartTLS()
	return s
}

func newServer() *Server {
	s := &Server{
		identities: map[string]string{},
		tokens:     map[string]bool{},
		service:    map[string]serviceToken{},
		projects:   map[string]*project{},
		next:       map[string][]Fault{},
		always:     map[string]Fault{},
		calls:      map[string]int{},
		queries:    map[string]url.Values{},
		failWrites: map[int]bool{},
		hanging:    make(chan string, 64),
		done:       make(chan struct{}),
	}
	mux := http.NewServeMux()
	handle := func(route string, h func(http.ResponseWriter, *http.Request)) {
		mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
			if s.begin(w, r, route) && s.admitted(w, r, route) {
				h(w, r)
			}
		})
	}
	handle(RouteStatus, s.status)
	handle(RouteLogin, s.login)
	handle(RouteServiceToken, s.serviceTokenDetails)
	handle(RouteListV4, s.listV4)
	handle(RouteListV3, s.listV3)
	handle(RouteCreateSecret, s.writeOne)
	handle(RouteUpdateSecret, s.writeOne)
	handle(RouteCreateBatch, s.writeBatch)
	handle(RouteUpdateBatch, s.writeBatch)
	handle(RouteCreateFolder, s.createFolder)
	s.handleAdmin(mux)
	handle(RouteWorkspace, s.workspace)
	handle(RouteFolders, s.folders)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if s.begin(w, r, r.Method+" "+r.URL.Path) {
			s.routeNotFound(w, r)
		}
	})
	s.Server = httptest.NewUnstartedServer(mux)
	// Clients that refuse the test certificate are part of the tests; their
	// handshake failures are not news.
	s.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	return s
}

// Close releases hanging requests, then shuts the server down.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	s.Server.CloseClientConnections()
	s.Server.Close()
}

// APIURL is the server's API base, the site URL plus /api.
func (s *Server) APIURL() string { return s.URL + "/api" }

// SetMode switches between a current server and a v3-only one.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// SetOldLoginErrors makes login answer an unknown client id as older servers
// do: 404 "No identity with specified client ID was found".
func (s *Server) SetOldLoginErrors(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oldLoginErrors = on
}

// SetLegacyNotFound makes a current (V4) server answer an unknown environment
// as servers between 2024 and 2026 did: 404 NotFound "Environment with slug
// … not found", instead of a 2026 server's 404 SecretPathNotFound.
func (s *Server) SetLegacyNotFound(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.legacyNotFound = on
}

// AddIdentity registers a machine identity's universal-auth credentials.
func (s *Server) AddIdentity(clientID, clientSecret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.identities[clientID] = clientSecret
}

// IssueToken returns a new valid access token, as a login would.
func (s *Server) IssueToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueTokenLocked()
}

func (s *Server) issueTokenLocked() string {
	s.seq++
	tok := fmt.Sprintf("eyJhbGciOiJIUzI1NiJ9.eyJ0ZXN0IjoiJ%06d.c2lnbmF0dXJl%06d", s.seq, s.seq)
	s.tokens[tok] = true
	return tok
}

// NotModified is how many listings were answered 304 Not Modified.
func (s *Server) NotModified() int { return int(s.notModified.Load()) }

// ExpireAllTokens makes every access token issued so far expired, as time
// does: each is then answered 403 TokenError, and a new login is needed.
func (s *Server) ExpireAllTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok := range s.tokens {
		s.tokens[tok] = false
	}
}

// ExpireToken makes an access token expired: it is then answered 403 TokenError.
func (s *Server) ExpireToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = false
}

// AddServiceToken registers a legacy service token for project, scoped to env
// and folder, and returns it in its full st.<id>.<secret>.<key> form.
func (s *Server) AddServiceToken(projectID, env, folderPath string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("64b%021d", s.seq)
	bearer := fmt.Sprintf("st.%s.%032x", id, s.seq*7919)
	s.service[bearer] = serviceToken{id: id, project: projectID, env: env, path: cleanPath(folderPath)}
	return bearer + fmt.Sprintf(".%032x", s.seq*104729)
}

// AddReadOnlyServiceToken is AddServiceToken for a token without write
// permission: its writes are answered 403 PermissionDenied.
func (s *Server) AddReadOnlyServiceToken(projectID, env, folderPath string) string {
	full := s.AddServiceToken(projectID, env, folderPath)
	s.mu.Lock()
	defer s.mu.Unlock()
	bearer := full[:strings.LastIndex(full, ".")]
	st := s.service[bearer]
	st.readOnly = true
	s.service[bearer] = st
	return full
}

// AddProject registers a project with environments (dev, staging and prod
// when none are given), each with an empty root folder.
func (s *Server) AddProject(id string, envs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(envs) == 0 {
		envs = []string{"dev", "staging", "prod"}
	}
	for _, e := range envs {
		s.folderLocked(id, e, "/", true)
	}
}

// AddFolder creates a folder and its parents.
func (s *Server) AddFolder(projectID, env, folderPath string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.folderLocked(projectID, env, folderPath, true)
}

// SetSecret sets a shared secret, creating the project, environment and folder
// as needed. The value is stored as given.
func (s *Server) SetSecret(projectID, env, folderPath, key, value string) {
	s.setSecret(projectID, env, folderPath, key, value, "shared")
}

// SetPersonalSecret sets a personal override of a secret.
func (s *Server) SetPersonalSecret(projectID, env, folderPath, key, value string) {
	s.setSecret(projectID, env, folderPath, key, value, "personal")
}

func (s *Server) setSecret(projectID, env, folderPath, key, value, typ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.folderLocked(projectID, env, folderPath, true)
	id := key
	if typ == "personal" {
		id = "personal:" + key
	}
	if old, ok := f.secrets[id]; ok {
		old.value = value
		old.version++
		return
	}
	f.secrets[id] = &secret{key: key, value: value, typ: typ, version: 1}
}

// AddImport makes the folder import the secrets of fromPath in fromEnv.
// Imports are listed in the order they were added.
func (s *Server) AddImport(projectID, env, folderPath, fromEnv, fromPath string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.folderLocked(projectID, env, folderPath, true)
	f.imports = append(f.imports, importRef{env: fromEnv, path: cleanPath(fromPath)})
}

// Secrets returns the shared secrets of a folder by key, for checking writes.
func (s *Server) Secrets(projectID, env, folderPath string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	if f := s.folderLocked(projectID, env, folderPath, false); f != nil {
		for _, sec := range f.secrets {
			if sec.typ == "shared" {
				out[sec.key] = sec.value
			}
		}
	}
	return out
}

// FailNext makes the next calls to route fail with faults, one each, in order.
func (s *Server) FailNext(route string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next[route] = append(s.next[route], faults...)
}

// FailAlways makes every call to route fail with f until ClearFaults.
func (s *Server) FailAlways(route string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.always[route] = f
}

// ClearFaults removes every scripted fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = map[string][]Fault{}
	s.always = map[string]Fault{}
	s.failWrites = map[int]bool{}
}

// FailWrite makes the nth write (counting from 1, over every write route,
// since the server started) answer 500.
func (s *Server) FailWrite(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWrites[n] = true
}

// Calls is how many requests route received, faulted ones included. A route
// the server does not have is counted under "METHOD /path".
func (s *Server) Calls(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[route]
}

// TotalCalls is how many requests the server received.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// LastQuery is the query of the last request to route.
func (s *Server) LastQuery(route string) url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[route]
}

// ResetCalls sets every counter back to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
	s.queries = map[string]url.Values{}
}

// begin counts a request and plays its scripted fault, if any. It reports
// whether the handler should answer normally.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, route string) bool {
	s.mu.Lock()
	s.calls[route]++
	s.queries[route] = r.URL.Query()
	f, faulted := s.always[route]
	if q := s.next[route]; len(q) > 0 {
		f, faulted = q[0], true
		s.next[route] = q[1:]
	}
	if !faulted && writeRoutes[route] {
		s.writes++
		if s.failWrites[s.writes] {
			f, faulted = Status(http.StatusInternalServerError), true
		}
	}
	s.mu.Unlock()
	if !faulted {
		return true
	}
	s.play(w, r, route, f)
	return false
}

func (s *Server) play(w http.ResponseWriter, r *http.Request, route string, f Fault) {
	switch f.kind {
	case faultStatus:
		name, msg := "InternalServerError", "Something went wrong"
		switch f.status {
		case http.StatusBadGateway:
			name, msg = "BadGateway", "Bad Gateway"
		case http.StatusServiceUnavailable:
			name, msg = "ServiceUnavailable", "Service Unavailable"
		case http.StatusGatewayTimeout:
			name, msg = "GatewayTimeout", "Gateway Timeout"
		}
		s.writeError(w, f.status, name, msg)
	case faultRateLimit:
		msg := "Rate limit exceeded"
		if f.wait != "" {
			msg += ". Please try again in " + f.wait
		}
		s.writeError(w, http.StatusTooManyRequests, "RateLimitExceeded", msg)
	case faultHang:
		s.wait(r, route)
	case faultStall:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"secrets":[{"secretKey":"STALLED","secretVal`)
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		s.wait(r, route)
	case faultInvalidJSON:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, `{"secrets":[{"secretKey":"BROKEN", secretValue: nope}]}`)
	case faultTruncated:
		s.truncated(w)
	case faultRouteMissing:
		s.routeNotFound(w, r)
	case faultNameless:
		writeJSON(w, http.StatusOK, map[string]any{"imports": []any{}, "secrets": []map[string]any{
			{"secretKey": "", "secretValue": "nameless-value", "type": "shared", "secretPath": "/", "version": 1}}})
	case faultHuge:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, `{"secrets":[],"imports":[],"padding":"`)
		chunk := strings.Repeat("x", 32<<10)
		for n := int64(0); n < f.size; n += int64(len(chunk)) {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
		io.WriteString(w, `"}`)
	}
}

// Hanging receives a route each time a request to it starts to hang (before
// its headers or in its body), so that a test can act at that moment. It
// holds the last 64; older ones are dropped.
func (s *Server) Hanging() <-chan string { return s.hanging }

// wait blocks until the client goes away or the server closes.
func (s *Server) wait(r *http.Request, route string) {
	select {
	case s.hanging <- route:
	default:
	}
	select {
	case <-r.Context().Done():
	case <-s.done:
	}
}

// truncated sends a response that announces more bytes than it holds and
// closes the connection, as a proxy that dies mid-answer does.
func (s *Server) truncated(w http.ResponseWriter) {
	body := `{"secrets":[{"secretKey":"CUT","secretValue":"cut short`
	hj, ok := w.(http.Hijacker)
	if !ok {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)*4))
		io.WriteString(w, body)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s",
		len(body)*4, body)
	buf.Flush()
}

// writeJSON answers status with v.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers in Infisical's error shape.
func (s *Server) writeError(w http.ResponseWriter, status int, name string, message any) {
	id := fmt.Sprintf("req-%06d", s.reqs.Add(1))
	writeJSON(w, status, map[string]any{"reqId": id, "statusCode": status, "message": message, "error": name})
}

// validation answers 422 with a list of issues, as the server's schema check does.
func (s *Server) validation(w http.ResponseWriter, field, problem string) {
	s.writeError(w, http.StatusUnprocessableEntity, "ValidationFailure", []map[string]any{
		{"code": "invalid_type", "path": []string{field}, "message": problem},
	})
}

// routeNotFound answers as the server's web framework does for a route it lacks.
func (s *Server) routeNotFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, http.StatusNotFound, "Not Found", fmt.Sprintf("Route %s:%s not found", r.Method, r.URL.RequestURI()))
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"date": time.Now().UTC().Format(time.RFC3339), "message": "Ok",
		"emailConfigured": false, "inviteOnlySignup": false, "redisConfigured": true, "secretScanningConfigured": false})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ClientID     *string `json:"clientId"`
		ClientSecret *string `json:"clientSecret"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		s.writeError(w, http.StatusBadRequest, "Bad Request", "Body is not valid JSON")
		return
	}
	if body.ClientID == nil {
		s.validation(w, "clientId", "Required")
		return
	}
	if body.ClientSecret == nil {
		s.validation(w, "clientSecret", "Required")
		return
	}
	s.mu.Lock()
	want, known := s.identities[*body.ClientID]
	old := s.oldLoginErrors
	var tok string
	if known && want == *body.ClientSecret {
		tok = s.issueTokenLocked()
		s.noteLoginLocked(tok, *body.ClientID)
	}
	s.mu.Unlock()
	switch {
	case tok != "":
		writeJSON(w, http.StatusOK, map[string]any{"accessToken": tok, "expiresIn": 7200,
			"accessTokenMaxTTL": 43200, "tokenType": "Bearer"})
	case !known && old:
		s.writeError(w, http.StatusNotFound, "NotFound", "No identity with specified client ID was found")
	default:
		s.writeError(w, http.StatusUnauthorized, "UnauthorizedError", "Invalid credentials")
	}
}

// principal is who a request comes from.
type principal struct {
	service *serviceToken // nil for a machine identity's access token
}

// authenticate checks the bearer token and answers the request itself when it
// is refused.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (principal, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		s.writeError(w, http.StatusUnauthorized, "UnauthorizedError", "Failed to authenticate: missing token")
		return principal{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.HasPrefix(tok, "st.") {
		st, ok := s.service[tok]
		if !ok || strings.Count(tok, ".") != 2 {
			s.writeError(w, http.StatusUnauthorized, "UnauthorizedError", "Invalid service token")
			return principal{}, false
		}
		return principal{service: &st}, true
	}
	valid, known := s.tokens[tok]
	if !known || !valid {
		msg := "Invalid token"
		if known {
			msg = "Your token has expired. Please re-authenticate."
		}
		s.writeError(w, http.StatusForbidden, "TokenError", msg)
		return principal{}, false
	}
	return principal{}, true
}

func (s *Server) serviceTokenDetails(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if p.service == nil {
		s.writeError(w, http.StatusUnauthorized, "UnauthorizedError", "Failed to authenticate: not a service token")
		return
	}
	st := p.service
	writeJSON(w, http.StatusOK, map[string]any{
		"_id": st.id, "name": "startsvc test", "workspace": st.project, "expiresAt": nil,
		"scopes":      []map[string]string{{"environment": st.env, "secretPath": st.path}},
		"permissions": []string{"read"},
	})
}

func (s *Server) listV4(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	mode := s.mode
	s.mu.Unlock()
	if mode == V3Only {
		s.routeNotFound(w, r)
		return
	}
	s.list(w, r, "projectId", "includeImports")
}

func (s *Server) listV3(w http.ResponseWriter, r *http.Request) {
	s.list(w, r, "workspaceId", "include_imports")
}

// list answers a listing. projectParam and importsParam are the names this
// route's version reads; the other spelling is ignored, as the server does.
func (s *Server) list(w http.ResponseWriter, r *http.Request, projectParam, importsParam string) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	projectID, env := q.Get(projectParam), q.Get("environment")
	if projectID == "" {
		s.validation(w, projectParam, "Required")
		return
	}
	if env == "" {
		s.validation(w, "environment", "Required")
		return
	}
	var flags [3]bool
	for i, name := range []string{"recursive", importsParam, "expandSecretReferences"} {
		switch q.Get(name) {
		case "", "false":
		case "true":
			flags[i] = true
		default:
			s.validation(w, name, "Expected boolean, received string")
			return
		}
	}
	recursive, includeImports, expand := flags[0], flags[1], flags[2]
	base := cleanPath(q.Get("secretPath"))

	s.mu.Lock()
	defer s.mu.Unlock()
	proj, ok := s.projects[projectID]
	if !ok {
		s.writeError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("Project with ID '%s' not found", projectID))
		return
	}
	if _, ok := proj.envs[env]; !ok && s.legacyNotFound && s.mode != V3Only {
		s.writeError(w, http.StatusNotFound, "NotFound",
			fmt.Sprintf("Environment with slug '%s' in project with ID '%s' not found", env, projectID))
		return
	}
	if st := p.service; st != nil && (st.project != projectID || st.env != env) {
		s.writeError(w, http.StatusForbidden, "PermissionDenied", "You are not allowed to read secrets in this environment")
		return
	}
	e, ok := proj.envs[env]
	if ok && e.folders[base] == nil {
		ok = false
	}
	if !ok {
		if s.mode == V3Only {
			// A 2024 server: no error, an empty listing.
			writeJSON(w, http.StatusOK, map[string]any{"secrets": []any{}, "imports": []any{}})
			return
		}
		s.writeError(w, http.StatusNotFound, "SecretPathNotFound", fmt.Sprintf(
			"Folder with path '%s' in environment '%s' was not found. Please ensure the environment slug and secret path is correct.", base, env))
		return
	}
	var paths []string
	for fp := range e.folders {
		if fp == base || recursive && (base == "/" || strings.HasPrefix(fp, base+"/")) {
			paths = append(paths, fp)
		}
	}
	// Order is not guaranteed by the real server; answer in reverse so that a
	// client that depends on order shows it.
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	out := []map[string]any{}
	for _, fp := range paths {
		out = append(out, s.secretsJSON(projectID, env, fp, e.folders[fp], expand)...)
	}
	imports := []map[string]any{}
	if f, ok := e.folders[base]; ok && includeImports {
		for i, imp := range f.imports {
			src := s.folderLocked(projectID, imp.env, imp.path, false)
			if src == nil {
				continue
			}
			imports = append(imports, map[string]any{
				"secretPath": imp.path, "environment": imp.env, "folderId": fmt.Sprintf("fld-%d", i),
				"secrets": s.secretsJSON(projectID, imp.env, imp.path, src, expand),
			})
		}
	}
	body := map[string]any{"secrets": out, "imports": imports}
	if projectParam == "workspaceId" && conditional(w, r, body) {
		s.notModified.Add(1)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// conditional gives the v3 listing an ETag, as the real server does, and
// answers 304 with no body when the request's If-None-Match holds it.
func conditional(w http.ResponseWriter, r *http.Request, body any) bool {
	data, err := json.Marshal(body)
	if err != nil {
		return false
	}
	sum := sha256.Sum256(data)
	etag := `W/"` + hex.EncodeToString(sum[:8]) + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	return false
}

// secretsJSON renders a folder's secrets as a listing does, in reverse key order.
func (s *Server) secretsJSON(projectID, env, folderPath string, f *folder, expand bool) []map[string]any {
	ids := make([]string, 0, len(f.secrets))
	for id := range f.secrets {
		ids = append(ids, id)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	out := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		sec := f.secrets[id]
		v := sec.value
		if expand {
			v = s.expandLocked(projectID, env, folderPath, v, 0)
		}
		out = append(out, secretJSON(projectID, env, folderPath, sec, v))
	}
	return out
}

func secretJSON(projectID, env, folderPath string, sec *secret, value string) map[string]any {
	return map[string]any{
		"id": "sec-" + sec.key, "_id": "sec-" + sec.key, "workspace": projectID, "environment": env,
		"version": sec.version, "type": sec.typ, "secretKey": sec.key, "secretValue": value,
		"secretComment": "", "secretPath": folderPath, "skipMultilineEncoding": false, "tags": []any{},
	}
}

var reference = regexp.MustCompile(`\$\{([^}]+)\}`)

// expandLocked replaces ${KEY} (same folder) and ${env.a.b.KEY} (another
// environment and folder) references; one that does not resolve stays as it
// is, as on the real server.
func (s *Server) expandLocked(projectID, env, folderPath, v string, depth int) string {
	if depth > 5 {
		return v
	}
	return reference.ReplaceAllStringFunc(v, func(ref string) string {
		parts := strings.Split(ref[2:len(ref)-1], ".")
		refEnv, refPath, key := env, folderPath, parts[len(parts)-1]
		if len(parts) > 1 {
			refEnv, refPath = parts[0], "/"+strings.Join(parts[1:len(parts)-1], "/")
		}
		f := s.folderLocked(projectID, refEnv, refPath, false)
		if f == nil {
			return ref
		}
		sec, ok := f.secrets[key]
		if !ok {
			return ref
		}
		return s.expandLocked(projectID, refEnv, cleanPath(refPath), sec.value, depth+1)
	})
}

// writeRequest is the body of the v3 write routes.
type writeRequest struct {
	WorkspaceID string  `json:"workspaceId"`
	Environment string  `json:"environment"`
	SecretPath  string  `json:"secretPath"`
	SecretValue *string `json:"secretValue"`
	Type        string  `json:"type"`
	Secrets     []struct {
		SecretKey   string  `json:"secretKey"`
		SecretValue *string `json:"secretValue"`
	} `json:"secrets"`
}

// decodeWrite reads and checks a write body, answering the request itself
// when it is refused; it returns the target folder.
func (s *Server) decodeWrite(w http.ResponseWriter, r *http.Request) (*writeRequest, *folder, bool) {
	if !s.mayWrite(w, r) {
		return nil, nil, false
	}
	var req writeRequest
	if err := json.NewDecoder(bufio.NewReader(io.LimitReader(r.Body, 8<<20))).Decode(&req); err != nil {
		s.writeError(w, http.StatusBadRequest, "Bad Request", "Body is not valid JSON")
		return nil, nil, false
	}
	if req.WorkspaceID == "" {
		s.validation(w, "workspaceId", "Required")
		return nil, nil, false
	}
	if req.Environment == "" {
		s.validation(w, "environment", "Required")
		return nil, nil, false
	}
	s.mu.Lock()
	proj, ok := s.projects[req.WorkspaceID]
	var f *folder
	if ok {
		if e, ok := proj.envs[req.Environment]; ok {
			f = e.folders[cleanPath(req.SecretPath)]
		}
	}
	s.mu.Unlock()
	if !ok {
		s.writeError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("Project with ID '%s' not found", req.WorkspaceID))
		return nil, nil, false
	}
	if f == nil {
		s.writeError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("Folder with path '%s' in environment with slug '%s' not found",
			cleanPath(req.SecretPath), req.Environment))
		return nil, nil, false
	}
	return &req, f, true
}

// trimWritten models how the server stores a value: surrounding whitespace
// is trimmed, but a trailing newline is kept.
func trimWritten(v string) string {
	nl := strings.HasSuffix(v, "\n")
	v = strings.TrimSpace(v)
	if nl {
		v += "\n"
	}
	return v
}

func (s *Server) writeOne(w http.ResponseWriter, r *http.Request) {
	req, f, ok := s.decodeWrite(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	if req.SecretValue == nil {
		s.validation(w, "secretValue", "Required")
		return
	}
	s.mu.Lock()
	sec, exists := f.secrets[name]
	switch {
	case r.Method == http.MethodPost && exists:
		s.mu.Unlock()
		s.writeError(w, http.StatusBadRequest, "BadRequest", "Secret already exist")
		return
	case r.Method == http.MethodPatch && !exists:
		s.mu.Unlock()
		s.writeError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("Secret named '%s' not found", name))
		return
	case exists:
		sec.value = trimWritten(*req.SecretValue)
		sec.version++
	default:
		sec = &secret{key: name, value: trimWritten(*req.SecretValue), typ: "shared", version: 1}
		f.secrets[name] = sec
	}
	body := secretJSON(req.WorkspaceID, req.Environment, cleanPath(req.SecretPath), sec, sec.value)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"secret": body})
}

func (s *Server) writeBatch(w http.ResponseWriter, r *http.Request) {
	req, f, ok := s.decodeWrite(w, r)
	if !ok {
		return
	}
	if len(req.Secrets) == 0 {
		s.validation(w, "secrets", "Array must contain at least 1 element(s)")
		return
	}
	s.mu.Lock()
	for _, in := range req.Secrets {
		_, exists := f.secrets[in.SecretKey]
		var problem string
		switch {
		case in.SecretKey == "" || in.SecretValue == nil:
			problem = "Required"
		case r.Method == http.MethodPost && exists:
			problem = "Secret already exist"
		case r.Method == http.MethodPatch && !exists:
			problem = fmt.Sprintf("Secret named '%s' not found", in.SecretKey)
		}
		if problem != "" {
			s.mu.Unlock()
			switch {
			case problem == "Required":
				s.validation(w, "secrets", problem)
			case r.Method == http.MethodPost:
				s.writeError(w, http.StatusBadRequest, "BadRequest", problem)
			default:
				s.writeError(w, http.StatusNotFound, "NotFound", problem)
			}
			return
		}
	}
	var out []map[string]any
	for _, in := range req.Secrets {
		sec, exists := f.secrets[in.SecretKey]
		if exists {
			sec.value = trimWritten(*in.SecretValue)
			sec.version++
		} else {
			sec = &secret{key: in.SecretKey, value: trimWritten(*in.SecretValue), typ: "shared", version: 1}
			f.secrets[in.SecretKey] = sec
		}
		out = append(out, secretJSON(req.WorkspaceID, req.Environment, cleanPath(req.SecretPath), sec, sec.value))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"secrets": out})
}

// mayWrite authenticates a write and refuses a read-only service token,
// answering the request itself when it is refused.
func (s *Server) mayWrite(w http.ResponseWriter, r *http.Request) bool {
	p, ok := s.authenticate(w, r)
	if !ok {
		return false
	}
	if p.service != nil && p.service.readOnly {
		s.writeError(w, http.StatusForbidden, "PermissionDenied", "You are not allowed to edit secrets in this environment")
		return false
	}
	return true
}

func (s *Server) createFolder(w http.ResponseWriter, r *http.Request) {
	if !s.mayWrite(w, r) {
		return
	}
	var req struct {
		WorkspaceID string `json:"workspaceId"`
		Environment string `json:"environment"`
		Name        string `json:"name"`
		Path        string `json:"path"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		s.writeError(w, http.StatusBadRequest, "Bad Request", "Body is not valid JSON")
		return
	}
	for field, v := range map[string]string{"workspaceId": req.WorkspaceID, "environment": req.Environment, "name": req.Name} {
		if v == "" {
			s.validation(w, field, "Required")
			return
		}
	}
	parent := cleanPath(req.Path)
	full := cleanPath(parent + "/" + req.Name)
	s.mu.Lock()
	proj, ok := s.projects[req.WorkspaceID]
	var e *environment
	if ok {
		e = proj.envs[req.Environment]
	}
	var problem string
	switch {
	case !ok:
		problem = fmt.Sprintf("Project with ID '%s' not found", req.WorkspaceID)
	case e == nil:
		problem = fmt.Sprintf("Environment with slug '%s' not found", req.Environment)
	case e.folders[parent] == nil:
		problem = fmt.Sprintf("Folder with path '%s' not found", parent)
	case e.folders[full] != nil:
		s.mu.Unlock()
		s.writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Folder with name '%s' already exists", req.Name))
		return
	}
	if problem != "" {
		s.mu.Unlock()
		s.writeError(w, http.StatusNotFound, "NotFound", problem)
		return
	}
	e.folders[full] = &folder{secrets: map[string]*secret{}}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"folder": map[string]any{"id": "fld-" + full, "name": req.Name, "path": full}})
}

// workspace answers GET /v1/workspace/{id}: the project and its environments.
func (s *Server) workspace(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	proj, ok := s.projectFor(w, p, id)
	if !ok {
		return
	}
	var slugs []string
	for slug := range proj.envs {
		slugs = append(slugs, slug)
	}
	sort.Strings(slugs)
	envs := []map[string]any{}
	for _, slug := range slugs {
		envs = append(envs, map[string]any{"id": "env-" + slug, "name": slug, "slug": slug})
	}
	writeJSON(w, http.StatusOK, map[string]any{"workspace": map[string]any{
		"id": id, "_id": id, "name": id, "slug": id, "environments": envs, "autoCapitalization": false}})
}

// projectFor is the project id names, when p may read its environments and
// folders; otherwise it answers 404 (no such project) or 403 (a token of
// another project) and reports false. s.mu must be held.
func (s *Server) projectFor(w http.ResponseWriter, p principal, id string) (*project, bool) {
	proj, ok := s.projects[id]
	if !ok {
		s.writeError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("Project with ID '%s' not found", id))
		return nil, false
	}
	if p.service != nil && p.service.project != id {
		s.writeError(w, http.StatusForbidden, "PermissionDenied", "You are not allowed to access this project")
		return nil, false
	}
	return proj, true
}

// folders answers GET /v1/folders: the folders directly below path, and an
// empty list when path itself does not exist, as the 2024 server does.
func (s *Server) folders(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	projectID, env := q.Get("workspaceId"), q.Get("environment")
	if projectID == "" {
		s.validation(w, "workspaceId", "Required")
		return
	}
	if env == "" {
		s.validation(w, "environment", "Required")
		return
	}
	parent := cleanPath(q.Get("path"))
	s.mu.Lock()
	defer s.mu.Unlock()
	proj, ok := s.projectFor(w, p, projectID)
	if !ok {
		return
	}
	e, ok := proj.envs[env]
	if !ok {
		s.writeError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("Environment with slug '%s' not found", env))
		return
	}
	var names []string
	for fp := range e.folders {
		if fp != "/" && path.Dir(fp) == parent {
			names = append(names, path.Base(fp))
		}
	}
	sort.Strings(names)
	out := []map[string]any{}
	for _, n := range names {
		out = append(out, map[string]any{"id": "fld-" + path.Join(parent, n), "name": n, "version": 1})
	}
	writeJSON(w, http.StatusOK, map[string]any{"folders": out})
}

// folderLocked finds a folder; with create it makes the project, the
// environment and the folder with its parents as needed. It returns nil for
// a folder that does not exist when create is false.
func (s *Server) folderLocked(projectID, env, folderPath string, create bool) *folder {
	folderPath = cleanPath(folderPath)
	proj, ok := s.projects[projectID]
	if !ok {
		if !create {
			return nil
		}
		proj = &project{envs: map[string]*environment{}}
		s.projects[projectID] = proj
	}
	e, ok := proj.envs[env]
	if !ok {
		if !create {
			return nil
		}
		e = &environment{folders: map[string]*folder{"/": {secrets: map[string]*secret{}}}}
		proj.envs[env] = e
	}
	if f, ok := e.folders[folderPath]; ok || !create {
		return f
	}
	for p := folderPath; ; p = path.Dir(p) {
		if _, ok := e.folders[p]; !ok {
			e.folders[p] = &folder{secrets: map[string]*secret{}}
		}
		if p == "/" {
			break
		}
	}
	return e.folders[folderPath]
}

func cleanPath(p string) string { return path.Clean("/" + strings.TrimSpace(p)) }
