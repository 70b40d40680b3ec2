package infisical

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Kind sorts failures by what the caller should do about them.
type Kind int

const (
	// Unreachable: no answer came whole — connection refused, DNS, TLS,
	// timeout, 5xx or 429 after the allowed retries, a body cut short or
	// larger than the cap. The fallback to .env applies.
	Unreachable Kind = iota + 1
	// Auth: the server refused the credentials — 401 bad client id or secret,
	// 403 no access or an expired or malformed token. A configuration error.
	Auth
	// NotFound: a project, environment or folder that does not exist — a 404,
	// or, from a server that lists it as empty, found out by asking for the
	// project's environments and folders. A configuration error.
	NotFound
	// Invalid: settings that cannot work, a request the server rejected as
	// malformed (400, 422 and other unexpected statuses), or an answer that
	// came whole but is not what Infisical sends (not JSON, no "secrets" list,
	// a secret without a name or value: a wrong URL, a proxy's page). An
	// error, not a fallback.
	Invalid
	// NotConfigured: nothing to authenticate with — no machine credentials and
	// no logged-in Infisical CLI. The fallback to .env applies, with a hint.
	NotConfigured
	// Canceled: the caller cancelled the context (an interruption, not a timeout).
	Canceled
)

func (k Kind) String() string {
	switch k {
	case Unreachable:
		return "unreachable"
	case Auth:
		return "authentication failed"
	case NotFound:
		return "not found"
	case Invalid:
		return "invalid"
	case NotConfigured:
		return "not configured"
	case Canceled:
		return "canceled"
	}
	return fmt.Sprintf("kind %d", int(k))
}

// Fallback reports whether the product's policy lets startsvc continue with
// .env alone after a failure of this kind (unless Infisical is required).
func (k Kind) Fallback() bool { return k == Unreachable || k == NotConfigured }

// Error is a failure to talk to Infisical. Its text names the operation, the
// server's host, the HTTP status and the server's message; it never holds a
// credential or a secret value.
type Error struct {
	Kind   Kind
	Op     string // what was being done: "log in to Infisical", "list Infisical secrets", …
	Host   string // the server's host (and port); empty when no server was involved
	Status int    // HTTP status; 0 when there was no response
	// Message is the server's explanation, or startsvc's when the server gave none.
	Message string
	// Reason is the server's name for the error ("SecretPathNotFound",
	// "TokenError", …), empty when it gave none. Its text is not part of Error's.
	Reason string
	// Err is the underlying cause, for errors.Is (context.DeadlineExceeded,
	// context.Canceled, net errors). Its text is not part of Error's.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Host != "" {
		b.WriteString(" at ")
		b.WriteString(e.Host)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the *Error in err's chain, or 0 when there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// IsFallback reports whether err is a failure after which startsvc may fall back
// to .env: Infisical unreachable, or not configured.
func IsFallback(err error) bool { return KindOf(err).Fallback() }

func invalidf(format string, a ...any) *Error {
	return &Error{Kind: Invalid, Op: "infisical settings", Message: fmt.Sprintf(format, a...)}
}

// contextError classifies a failure that the context explains: its deadline
// (Unreachable: the server did not answer in time) or its cancellation.
func contextError(ctx context.Context, op, host string, cause error) *Error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return &Error{Kind: Canceled, Op: op, Host: host, Message: "canceled", Err: ctx.Err()}
	}
	return &Error{Kind: Unreachable, Op: op, Host: host, Message: "no answer in time", Err: errors.Join(ctx.Err(), cause)}
}

// jsonProblem describes a JSON decoding failure without quoting the input: a
// syntax error's text can quote a character of a secret value.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type (%s)", typ.Field, typ.Value)
	}
	return "cannot decode"
}

var (
	jwtLike   = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
	stLike    = regexp.MustCompile(`st\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)?`)
	ctrlChars = regexp.MustCompile(`[\x00-\x1f\x7f]+`)
)

// maxMessage bounds the length of a server's message in an error.
const maxMessage = 300

// scrub makes a message from outside fit for an error: no token-shaped text,
// none of the given credentials, no control characters, bounded length.
func scrub(msg string, known ...string) string {
	for _, k := range known {
		if len(k) >= 4 {
			msg = strings.ReplaceAll(msg, k, "[redacted]")
		}
	}
	msg = jwtLike.ReplaceAllString(msg, "[redacted]")
	msg = stLike.ReplaceAllString(msg, "[redacted]")
	msg = strings.TrimSpace(ctrlChars.ReplaceAllString(msg, " "))
	if len(msg) > maxMessage {
		cut := maxMessage
		for cut > 0 && msg[cut]&0xC0 == 0x80 {
			cut-- // do not split a UTF-8 sequence
		}
		msg = msg[:cut] + "…"
	}
	return msg
}
