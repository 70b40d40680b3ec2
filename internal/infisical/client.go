package infisical

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/startsvc/startsvc/internal/secrets"
)

// Limits a Client applies unless its Options say otherwise.
const (
	// DefaultMaxBodyBytes is far above a real listing (10,000 secrets with their
	// metadata are a few MB) and low enough that an answer which is not one
	// cannot cost hundreds of MB: anything larger is refused as unreachable.
	DefaultMaxBodyBytes = 16 << 20
	DefaultMaxRetries   = 2
	DefaultRetryBackoff = 250 * time.Millisecond
	// DefaultMaxRetryWait is also the ceiling of MaxRetryWait: a stock
	// server's rate-limit window is a minute, and a caller's long time bound
	// must not turn "try again in 5 minutes" into a 5-minute sleep.
	DefaultMaxRetryWait = time.Minute
	// DefaultTimeout bounds a call whose context has no deadline.
	DefaultTimeout = 30 * time.Second
)

// Options tune a Client. The zero value gives the defaults above.
type Options struct {
	// HTTPClient sends the requests; nil builds one with its own transport.
	HTTPClient *http.Client
	// Proxy picks a proxy for the built client; nil means none. Pass
	// http.ProxyFromEnvironment to honour HTTPS_PROXY and NO_PROXY.
	Proxy func(*http.Request) (*url.URL, error)
	// MaxBodyBytes caps a response body; a larger one is an error.
	MaxBodyBytes int64
	// MaxRetries is how many times a 5xx or 429 answer is retried; negative
	// means never.
	MaxRetries int
	// RetryBackoff is the first wait before retrying a 5xx (doubling after each)
	// or a 429 that names no wait (twice as long).
	RetryBackoff time.Duration
	// MaxRetryWait is the longest wait a 429 answer may impose before a retry;
	// zero or more than DefaultMaxRetryWait means DefaultMaxRetryWait.
	MaxRetryWait time.Duration
	// Timeout bounds each method when its context has no deadline.
	Timeout time.Duration
	// UserAgent is sent with every request.
	UserAgent string
	// Conditional makes a repeated listing a conditional request (If-None-Match
	// with the ETag of the last answer) where the server supports it: an
	// unchanged folder then costs the server no work and the answer no body.
	// The last listing is kept in memory for that; a poller sets it.
	Conditional bool
}

// Client talks to one Infisical server with one set of credentials. It logs in
// at most once, and remembers after the first listing whether the server
// needs the v3 route. It is safe for concurrent use.
type Client struct {
	api  string // the API base URL, ending in /api
	host string
	hc   *http.Client
	opt  Options

	auth                   AuthMethod
	clientID, clientSecret secrets.Secret
	token                  secrets.Secret
	known                  []string // credentials to remove from any message

	mu       sync.Mutex // held across login and the service token lookup
	bearer   secrets.Secret
	loggedIn bool
	scope    *serviceScope

	v3Mu   sync.Mutex
	v3Only bool

	lastMu sync.Mutex
	last   map[string]cachedListing // by request URL, with Options.Conditional
}

// cachedListing is the last answer to a listing and its ETag.
type cachedListing struct {
	etag    string
	listing *Listing
}

// serviceScope is what a legacy service token may read.
type serviceScope struct {
	project     string
	environment string // of its first scope
}

const serviceTokenPrefix = "st."

// NewClient returns a client for the server and credentials in s. It makes no
// call. Settings without credentials give an *Error of kind NotConfigured.
func NewClient(s Settings, o Options) (*Client, error) {
	if !s.Configured() {
		return nil, &Error{Kind: NotConfigured, Op: "connect to Infisical", Message: "not configured: " + s.Hint()}
	}
	return newClient(s, o)
}

// newClient is NewClient without the check for credentials: the admin calls
// start without any.
func newClient(s Settings, o Options) (*Client, error) {
	u, err := url.Parse(s.APIURL())
	if err != nil || u.Host == "" {
		return nil, invalidf("infisical URL %q is not valid", s.SiteURL)
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = DefaultRetryBackoff
	}
	if o.MaxRetryWait <= 0 || o.MaxRetryWait > DefaultMaxRetryWait {
		o.MaxRetryWait = DefaultMaxRetryWait
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.UserAgent == "" {
		o.UserAgent = "startsvc"
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:               o.Proxy,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:   true,
			TLSHandshakeTimeout: 10 * time.Second,
			IdleConnTimeout:     30 * time.Second,
			MaxIdleConns:        4,
		}}
	}
	c := &Client{
		api: strings.TrimRight(u.String(), "/"), host: u.Host, hc: hc, opt: o,
		auth: s.Auth(), clientID: s.ClientID, clientSecret: s.ClientSecret, token: s.Token,
	}
	if c.auth == AuthServiceToken {
		b, err := serviceBearer(s.Token)
		if err != nil {
			return nil, invalidf("INFISICAL_TOKEN: %v", err)
		}
		c.bearer = b
	}
	c.known = []string{string(s.ClientSecret), string(s.Token), string(c.bearer), string(s.ClientID)}
	return c, nil
}

// serviceBearer turns st.<id>.<secret>.<key> into the st.<id>.<secret> that is
// sent to the server; the key part never leaves the machine.
func serviceBearer(tok secrets.Secret) (secrets.Secret, error) {
	parts := strings.Split(string(tok), ".")
	if len(parts) != 4 || parts[0] != "st" || parts[1] == "" || parts[2] == "" || parts[3] == "" {
		return "", errors.New("a service token has the form st.<id>.<secret>.<key>")
	}
	return secrets.Secret(strings.Join(parts[:3], ".")), nil
}

// Host is the server's host (and port), for messages.
func (c *Client) Host() string { return c.host }

// Auth says how the client authenticates.
func (c *Client) Auth() AuthMethod { return c.auth }

// bound gives ctx the client's timeout when it has no deadline of its own.
func (c *Client) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.opt.Timeout)
}

// Status checks that the server answers its health route (no credentials
// needed). The error is an *Error, Unreachable when the server does not
// answer as Infisical does.
func (c *Client) Status(ctx context.Context) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	const op = "check Infisical status"
	body, err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/status"})
	if err != nil {
		return err
	}
	var st struct {
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(body, &st); err != nil || st.Message == nil {
		return &Error{Kind: Invalid, Op: op, Host: c.host, Status: http.StatusOK,
			Message: "the answer is not Infisical's: is the URL right?"}
	}
	return nil
}

// Login obtains an access token with the client id and secret (one call); with
// a token given directly it does nothing. Later calls do nothing either: the
// token is kept for the client's life. ListSecrets logs in by itself.
func (c *Client) Login(ctx context.Context) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loginLocked(ctx)
}

func (c *Client) loginLocked(ctx context.Context) error {
	if c.loggedIn {
		return nil
	}
	switch c.auth {
	case AuthAccessToken:
		c.bearer = c.token
	case AuthUniversal:
		const op = "log in to Infisical"
		payload, err := json.Marshal(struct {
			ClientID     string `json:"clientId"`
			ClientSecret string `json:"clientSecret"`
		}{string(c.clientID), string(c.clientSecret)})
		if err != nil {
			return &Error{Kind: Invalid, Op: op, Host: c.host, Message: "cannot encode the credentials", Err: err}
		}
		body, err := c.do(ctx, request{op: op, method: http.MethodPost, path: "/v1/auth/universal-auth/login", body: payload})
		if err != nil {
			return err
		}
		var r struct {
			AccessToken string `json:"accessToken"`
		}
		if err := json.Unmarshal(body, &r); err != nil || r.AccessToken == "" {
			return &Error{Kind: Invalid, Op: op, Host: c.host, Status: http.StatusOK,
				Message: "the answer holds no access token: is the URL right?"}
		}
		c.bearer = secrets.Secret(r.AccessToken)
	}
	c.loggedIn = true
	return nil
}

// lookUpServiceToken asks the server which project and environment the
// service token reads (one call, once per client).
func (c *Client) lookUpServiceToken(ctx context.Context) (*serviceScope, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.scope != nil {
		return c.scope, nil
	}
	const op = "look up the Infisical service token"
	body, err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/v2/service-token", auth: true})
	if err != nil {
		return nil, err
	}
	var r struct {
		Workspace string `json:"workspace"`
		Scopes    []struct {
			Environment string `json:"environment"`
		} `json:"scopes"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Workspace == "" {
		return nil, &Error{Kind: Invalid, Op: op, Host: c.host, Status: http.StatusOK,
			Message: "the answer names no project: is the URL right?"}
	}
	sc := &serviceScope{project: r.Workspace}
	if len(r.Scopes) > 0 {
		sc.environment = r.Scopes[0].Environment
	}
	c.scope = sc
	return sc, nil
}

// ListSecrets lists the secrets of a folder, logging in first if need be: in
// the normal case one login call and one listing call. An empty listing costs
// one or more calls more (see checkLocation): an environment or folder that
// does not exist is an error of kind NotFound on every server version, never
// an empty list. It asks the current
// route (v4) first; when the server answers that the route does not exist, it
// asks the older route (v3) and keeps using it. Every option the server reads
// is sent explicitly: imports included, references expanded. The listing
// applies the precedence rules of the package doc.
//
// The error is an *Error; its Kind says whether falling back to .env is allowed.
func (c *Client) ListSecrets(ctx context.Context, o ListOptions) (*Listing, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	const op = "list Infisical secrets"
	if err := c.Login(ctx); err != nil {
		return nil, err
	}
	if c.auth == AuthServiceToken && (o.ProjectID == "" || o.Environment == "") {
		sc, err := c.lookUpServiceToken(ctx)
		if err != nil {
			return nil, err
		}
		if o.ProjectID == "" {
			o.ProjectID = sc.project
		}
		if o.Environment == "" {
			o.Environment = sc.environment
		}
	}
	if o.ProjectID == "" {
		return nil, &Error{Kind: Invalid, Op: op, Host: c.host,
			Message: "no project: set --infisical-project, INFISICAL_PROJECT_ID or workspaceId in " + ConfigFileName}
	}
	if o.Environment == "" {
		o.Environment = DefaultEnvironment
	}
	o.SecretPath = CleanSecretPath(o.SecretPath)

	relogged := false
	for {
		v3 := c.usesV3()
		req := request{op: op, method: http.MethodGet, auth: true, query: listQuery(o, v3)}
		req.path, req.api = "/v4/secrets", "v4"
		if v3 {
			req.path, req.api = "/v3/secrets/raw", "v3"
		}
		key := req.path + "?" + req.query.Encode()
		cached, haveCached := c.cached(key)
		if haveCached {
			req.ifNoneMatch = cached.etag
		}
		var header http.Header
		req.header = &header
		body, err := c.do(ctx, req)
		if errors.Is(err, errNotModified) && haveCached {
			return cached.listing, nil
		}
		if err != nil {
			if !v3 && isRouteNotFound(err) {
				c.useV3()
				continue
			}
			if !relogged && c.auth == AuthUniversal && tokenExpired(err) {
				// Access tokens expire (after expiresIn, two hours by default):
				// a long-running caller logs in again once and goes on.
				relogged = true
				if err := c.relogin(ctx); err != nil {
					return nil, err
				}
				continue
			}
			if o.FolderMayBeMissing && o.SecretPath != "/" && reason(err) == "SecretPathNotFound" {
				// The folder, or the environment, does not exist: only
				// the environment must.
				if err := c.checkEnvironment(ctx, o); err != nil && !errors.Is(err, errCannotCheck) {
					return nil, err
				}
				return &Listing{API: req.api}, nil
			}
			return nil, err
		}
		l, err := decodeSecrets(body, o.Environment, o.SecretPath)
		if err != nil {
			var de *decodeError
			kind := Invalid
			if errors.As(err, &de) {
				kind = de.kind
			}
			return nil, &Error{Kind: kind, Op: op, Host: c.host, Status: http.StatusOK, Message: err.Error()}
		}
		l.API = req.api
		if len(l.Secrets) == 0 {
			// Servers from 2024 answer an unknown environment or folder
			// with an empty listing: tell a typo from an empty folder.
			note, err := c.checkLocation(ctx, o)
			if err != nil {
				return nil, err
			}
			if note != "" {
				l.Notes = append(l.Notes, note)
			}
		}
		if etag := header.Get("ETag"); etag != "" && c.opt.Conditional {
			c.remember(key, cachedListing{etag: etag, listing: l})
		}
		return l, nil
	}
}

// errNotModified is do's answer to a 304 of a conditional request.
var errNotModified = errors.New("not modified")

func (c *Client) cached(key string) (cachedListing, bool) {
	if !c.opt.Conditional {
		return cachedListing{}, false
	}
	c.lastMu.Lock()
	defer c.lastMu.Unlock()
	l, ok := c.last[key]
	return l, ok
}

// remember keeps the last listing of one request only: a poller asks the
// same thing every time, and memory stays bounded.
func (c *Client) remember(key string, l cachedListing) {
	c.lastMu.Lock()
	defer c.lastMu.Unlock()
	c.last = map[string]cachedListing{key: l}
}

// relogin drops the access token and logs in again.
func (c *Client) relogin(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loggedIn = false
	return c.loginLocked(ctx)
}

// tokenExpired reports whether err is the server's answer to an expired
// access token: 403 TokenError.
func tokenExpired(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusForbidden && e.Reason == "TokenError"
}

func (c *Client) usesV3() bool {
	c.v3Mu.Lock()
	defer c.v3Mu.Unlock()
	return c.v3Only
}

func (c *Client) useV3() {
	c.v3Mu.Lock()
	defer c.v3Mu.Unlock()
	c.v3Only = true
}

// listQuery spells out every option: servers' defaults differ by version, and
// some read include_imports where others read includeImports.
func listQuery(o ListOptions, v3 bool) url.Values {
	q := url.Values{}
	if v3 {
		q.Set("workspaceId", o.ProjectID)
	} else {
		q.Set("projectId", o.ProjectID)
	}
	q.Set("environment", o.Environment)
	q.Set("secretPath", o.SecretPath)
	q.Set("recursive", strconv.FormatBool(o.Recursive))
	q.Set("includeImports", "true")
	q.Set("include_imports", "true")
	q.Set("expandSecretReferences", "true")
	if !v3 {
		q.Set("viewSecretValue", "true")
	}
	return q
}

// request is one API call.
type request struct {
	op     string
	method string
	path   string // below the API base: "/v4/secrets"
	api    string // the route's version, for the listing
	query  url.Values
	body   []byte // JSON
	auth   bool
	// ifNoneMatch makes the request conditional; a 304 answer is errNotModified.
	ifNoneMatch string
	// header, when set, receives the headers of the 2xx answer.
	header *http.Header
}

// do sends r, retrying a 5xx or 429 answer within the limits of the options
// and of ctx, and returns the body of a 2xx answer. Every failure is an *Error.
func (c *Client) do(ctx context.Context, r request) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		status, header, body, err := c.once(ctx, r)
		if err != nil {
			return nil, err
		}
		if status >= 200 && status < 300 {
			if r.header != nil {
				*r.header = header
			}
			return body, nil
		}
		if status == http.StatusNotModified && r.ifNoneMatch != "" {
			return nil, errNotModified
		}
		e := c.statusError(r.op, status, body)
		wait, retry := c.retryWait(status, header, e.Message, attempt)
		if !retry {
			switch {
			case wait > 0:
				e.Message += fmt.Sprintf(" (startsvc waits at most %s)", c.opt.MaxRetryWait)
			case attempt > 0:
				e.Message += fmt.Sprintf(" (after %d attempts)", attempt+1)
			}
			return nil, e
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			e.Message += fmt.Sprintf(" (a retry in %s would not fit in the time left)", wait.Round(time.Millisecond))
			return nil, e
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil, contextError(ctx, r.op, c.host, e)
			}
			e.Message += " (no time left to retry)"
			e.Err = ctx.Err()
			return nil, e
		}
	}
}

// once sends r one time and reads the whole answer, at most MaxBodyBytes.
func (c *Client) once(ctx context.Context, r request) (int, http.Header, []byte, error) {
	u := c.api + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return 0, nil, nil, &Error{Kind: Invalid, Op: r.op, Host: c.host, Message: "cannot build the request", Err: err}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.opt.UserAgent)
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.auth {
		req.Header.Set("Authorization", "Bearer "+string(c.bearer))
	}
	if r.ifNoneMatch != "" {
		req.Header.Set("If-None-Match", r.ifNoneMatch)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, nil, contextError(ctx, r.op, c.host, err)
		}
		return 0, nil, nil, &Error{Kind: Unreachable, Op: r.op, Host: c.host, Message: c.scrub(transportProblem(err)), Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.opt.MaxBodyBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			e := contextError(ctx, r.op, c.host, err)
			if e.Kind == Unreachable {
				e.Status, e.Message = resp.StatusCode, "the answer stalled before it was complete"
			}
			return 0, nil, nil, e
		}
		return 0, nil, nil, &Error{Kind: Unreachable, Op: r.op, Host: c.host, Status: resp.StatusCode,
			Message: "reading the answer: " + c.scrub(transportProblem(err)), Err: err}
	}
	if int64(len(data)) > c.opt.MaxBodyBytes {
		return 0, nil, nil, &Error{Kind: Unreachable, Op: r.op, Host: c.host, Status: resp.StatusCode,
			Message: fmt.Sprintf("the answer is larger than %s; refusing it", byteSize(c.opt.MaxBodyBytes))}
	}
	return resp.StatusCode, resp.Header, data, nil
}

// statusError classifies a non-2xx answer.
func (c *Client) statusError(op string, status int, body []byte) *Error {
	name, msg := serverMessage(body)
	msg = c.scrub(msg)
	e := &Error{Op: op, Host: c.host, Status: status, Message: msg, Reason: name}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	login := strings.HasPrefix(op, "log in")
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		e.Kind = Unreachable
	case status == http.StatusUnauthorized:
		e.Kind = Auth
		if login {
			e.Message += " (check the client id and client secret)"
		}
	case status == http.StatusForbidden:
		e.Kind = Auth
		if name == "TokenError" {
			e.Message += " (the token is expired or malformed)"
		}
	case status == http.StatusNotFound && routeNotFound.MatchString(msg):
		e.Kind = NotFound
		e.Message += " (this server does not have that route)"
	case status == http.StatusNotFound && login:
		// Older servers answer an unknown client id with 404.
		e.Kind = Auth
	case status == http.StatusNotFound:
		e.Kind = NotFound
	default:
		e.Kind = Invalid
	}
	return e
}

// routeNotFound is how Infisical's web framework answers a route it does not have.
var routeNotFound = regexp.MustCompile(`^Route [A-Z]+:\S* not found`)

func isRouteNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound && routeNotFound.MatchString(e.Message)
}

// serverMessage reads the error name and message of Infisical's error body
// {"reqId","statusCode","message","error"}; a 422's message is a list.
func serverMessage(body []byte) (name, msg string) {
	var b struct {
		Error   string          `json:"error"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(body, &b) != nil {
		return "", ""
	}
	var s string
	if json.Unmarshal(b.Message, &s) == nil {
		return b.Error, s
	}
	var list []json.RawMessage
	if json.Unmarshal(b.Message, &list) == nil {
		var parts []string
		for _, item := range list {
			var issue struct {
				Message string `json:"message"`
				Path    []any  `json:"path"`
			}
			switch {
			case json.Unmarshal(item, &s) == nil:
				parts = append(parts, s)
			case json.Unmarshal(item, &issue) == nil && issue.Message != "":
				where := ""
				for _, p := range issue.Path {
					where += fmt.Sprint(p) + "."
				}
				parts = append(parts, strings.TrimSuffix(where, ".")+": "+issue.Message)
			}
		}
		return b.Error, strings.TrimPrefix(strings.Join(parts, "; "), ": ")
	}
	return b.Error, ""
}

// retryWait says whether an answer with status deserves another attempt, and
// after how long.
func (c *Client) retryWait(status int, header http.Header, msg string, attempt int) (time.Duration, bool) {
	if attempt >= c.opt.MaxRetries {
		return 0, false
	}
	switch {
	case status == http.StatusTooManyRequests:
		if d, ok := toldWait(msg, header.Get("Retry-After")); ok {
			return max(d, time.Millisecond), d <= c.opt.MaxRetryWait
		}
		return 2 * c.opt.RetryBackoff << attempt, true
	case status >= 500:
		if d, ok := toldWait("", header.Get("Retry-After")); ok && d <= c.opt.MaxRetryWait {
			return d, true
		}
		return c.opt.RetryBackoff << attempt, true
	}
	return 0, false
}

var tryAgainIn = regexp.MustCompile(`(?i)try again in (\d+|an?|one) (second|minute|hour)s?`)

// toldWait reads the wait a rate-limited answer asks for: "Please try again in
// 12 seconds", "in 1 minute", or a Retry-After header in seconds.
func toldWait(msg, retryAfter string) (time.Duration, bool) {
	if m := tryAgainIn.FindStringSubmatch(msg); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			n = 1 // "a", "an", "one"
		}
		unit := time.Second
		switch strings.ToLower(m[2]) {
		case "minute":
			unit = time.Minute
		case "hour":
			unit = time.Hour
		}
		return time.Duration(n) * unit, true
	}
	if n, err := strconv.Atoi(strings.TrimSpace(retryAfter)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	return 0, false
}

// transportProblem describes a failed request without the URL, which the
// operation and host already say.
func transportProblem(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "the answer was cut short (unexpected EOF)"
	}
	return err.Error()
}

// scrub removes the client's own credentials, and anything shaped like a
// token, from text that came from outside.
func (c *Client) scrub(msg string) string {
	return scrub(msg, c.known...)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
