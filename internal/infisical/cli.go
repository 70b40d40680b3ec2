package infisical

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/startsvc/startsvc/internal/secrets"
)

// CLIName is the Infisical CLI's program name.
const CLIName = "infisical"

// maxStderr bounds how much of the CLI's standard error is kept for messages.
const maxStderr = 64 << 10

// CLISource reads secrets with the Infisical CLI's `export --format=json`, for
// a person logged in with `infisical login` and no machine credentials. It runs
// the CLI with an argument list, never through a shell, bounded by the context.
// It implements secrets.Source.
type CLISource struct {
	// Path is the CLI's executable, as found on the PATH.
	Path     string
	Settings Settings
	// Command builds the process; exec.CommandContext when nil. Tests swap it.
	Command func(ctx context.Context, name string, args ...string) *exec.Cmd
	// Environ is the CLI's environment: the user's, since the CLI finds its
	// login through HOME and the OS keyring. INFISICAL_DISABLE_UPDATE_CHECK=1 is
	// added so that it makes no call of its own.
	Environ []string
	// Dir is the CLI's working directory, where it looks for .infisical.json.
	Dir string
	// MaxBodyBytes caps the CLI's output; DefaultMaxBodyBytes when zero.
	MaxBodyBytes int64
	// Timeout bounds Fetch when its context has no deadline; DefaultTimeout when zero.
	Timeout time.Duration
}

var _ secrets.Source = (*CLISource)(nil)

// Name says where the values come from.
func (s *CLISource) Name() string { return "Infisical through the Infisical CLI" }

// Args returns the CLI's arguments (without the program). Every choice is
// explicit except the domain, which is passed only when the user gave one:
// the CLI otherwise keeps the server it logged in to.
func (s *CLISource) Args() []string {
	env := s.Settings.Environment
	if env == "" {
		env = DefaultEnvironment
	}
	args := []string{"export", "--format=json", "--env=" + env,
		"--path=" + CleanSecretPath(s.Settings.SecretPath), "--include-imports=true", "--expand=true"}
	if s.Settings.ProjectID != "" {
		args = append(args, "--projectId="+s.Settings.ProjectID)
	}
	if o := s.Settings.Origin.URL; o != "" && o != OriginDefault {
		args = append(args, "--domain="+s.Settings.APIURL())
	}
	return args
}

// Fetch runs the CLI and returns its secrets by name.
func (s *CLISource) Fetch(ctx context.Context) (map[string]string, error) {
	l, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	return l.Values(), nil
}

// List runs the CLI and returns its secrets. The CLI cannot list recursively:
// asking it to is an *Error of kind Invalid rather than a silently shorter list.
// A CLI that is not logged in gives kind NotConfigured; other failures are
// classified from the HTTP status or network error the CLI reports, like the
// client's (an unrecognised failure is Invalid: an error, not a fallback).
func (s *CLISource) List(ctx context.Context) (*Listing, error) {
	const op = "run infisical export"
	if s.Settings.Recursive {
		return nil, &Error{Kind: Invalid, Op: op,
			Message: "the Infisical CLI cannot list folders recursively: give machine credentials to use --recursive"}
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	command := s.Command
	if command == nil {
		command = exec.CommandContext
	}
	limit := s.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	cmd := command(ctx, s.Path, s.Args()...)
	cmd.Env = cliEnv(s.Environ)
	cmd.Dir = s.Dir
	stdout := &capped{max: limit}
	stderr := &capped{max: maxStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Once ctx ends and the CLI is killed, do not wait long for pipes that a
	// child of it may still hold.
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, contextError(ctx, op, "", err)
	}
	if err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return nil, &Error{Kind: NotConfigured, Op: op, Message: "cannot run the Infisical CLI: " + scrub(err.Error()), Err: err}
		}
		kind, status, msg := cliProblem(stderr.String())
		if kind == NotConfigured {
			msg += ": run `infisical login`, or set INFISICAL_UNIVERSAL_AUTH_CLIENT_ID and " +
				"INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET with INFISICAL_PROJECT_ID"
		}
		return nil, &Error{Kind: kind, Op: op, Status: status, Message: msg, Err: err}
	}
	if stdout.over {
		return nil, &Error{Kind: Invalid, Op: op, Message: fmt.Sprintf("the output is larger than %s; refusing it", byteSize(limit))}
	}
	l, err := decodeCLIOutput(stdout.Bytes())
	if err != nil {
		return nil, &Error{Kind: Invalid, Op: op, Message: err.Error()}
	}
	return l, nil
}

// cliEnv is env with the CLI's update check turned off.
func cliEnv(env []string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "INFISICAL_DISABLE_UPDATE_CHECK=") {
			out = append(out, kv)
		}
	}
	return append(out, "INFISICAL_DISABLE_UPDATE_CHECK=1")
}

// decodeCLIOutput reads `infisical export --format=json`: an array of objects
// with key and value (null when there is nothing). A line of text before the
// array, such as a notice, is skipped. The last of two equal keys wins, as in
// the CLI's own formats.
func decodeCLIOutput(out []byte) (*Listing, error) {
	start := 0
	for start < len(out) {
		line := bytes.TrimLeft(out[start:], " \t\r")
		if len(line) > 0 && (line[0] == '[' || line[0] == 'n') {
			start = len(out) - len(line)
			break
		}
		i := bytes.IndexByte(out[start:], '\n')
		if i < 0 {
			start = len(out)
			break
		}
		start += i + 1
	}
	var items []struct {
		Key   string  `json:"key"`
		Value *string `json:"value"`
	}
	if err := json.Unmarshal(out[start:], &items); err != nil {
		return nil, fmt.Errorf("the output is not the JSON list expected: %s", jsonProblem(err))
	}
	byKey := map[string]Secret{}
	for _, it := range items {
		if it.Key == "" {
			return nil, errors.New("the output holds a secret without a name")
		}
		if it.Value == nil {
			return nil, fmt.Errorf("the output holds secret %s without a value", it.Key)
		}
		byKey[it.Key] = Secret{Key: it.Key, Value: secrets.Secret(*it.Value)}
	}
	l := &Listing{API: "cli"}
	for _, s := range byKey {
		l.Secrets = append(l.Secrets, s)
	}
	sort.Slice(l.Secrets, func(i, j int) bool { return l.Secrets[i].Key < l.Secrets[j].Key })
	return l, nil
}

var (
	ansiEscape   = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)
	notLoggedIn  = regexp.MustCompile(`(?i)logged in|login session|infisical login|log in again|login again`)
	statusInText = regexp.MustCompile(`status-code=(\d{3})`)
	responseBody = regexp.MustCompile(`response=(\{.*\})`)
	networkText  = regexp.MustCompile(`(?i)dial tcp|no such host|connection refused|connection reset|i/o timeout|timed out|` +
		`timeout|tls:|x509|certificate|network is unreachable|\bEOF\b`)
)

// cliProblem classifies a failed CLI run from its standard error and picks the
// line that explains it.
func cliProblem(stderr string) (Kind, int, string) {
	stderr = ansiEscape.ReplaceAllString(stderr, "")
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.Contains(l, "get support at") {
			continue
		}
		lines = append(lines, l)
	}
	first := "the Infisical CLI failed without saying why"
	if len(lines) > 0 {
		first = lines[len(lines)-1]
		for _, l := range lines {
			if statusInText.MatchString(l) || notLoggedIn.MatchString(l) {
				first = l
				break
			}
		}
	}
	msg := scrub(first)
	if notLoggedIn.MatchString(stderr) {
		return NotConfigured, 0, "the Infisical CLI is not logged in (" + msg + ")"
	}
	if m := statusInText.FindStringSubmatch(stderr); m != nil {
		status, _ := strconv.Atoi(m[1])
		if b := responseBody.FindStringSubmatch(stderr); b != nil {
			if _, sm := serverMessage([]byte(b[1])); sm != "" {
				msg = scrub(sm)
			}
		}
		switch {
		case status == 401 || status == 403:
			return Auth, status, msg
		case status == 404:
			return NotFound, status, msg
		case status == 429 || status >= 500:
			return Unreachable, status, msg
		}
		return Invalid, status, msg
	}
	if networkText.MatchString(stderr) {
		return Unreachable, 0, msg
	}
	return Invalid, 0, msg
}

// capped is a buffer that keeps at most max bytes and notes whether more came.
// It accepts everything written, so the writer is never blocked or failed.
type capped struct {
	bytes.Buffer
	max  int64
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.max - int64(c.Len())
	switch {
	case room <= 0:
		c.over = c.over || len(p) > 0
	case int64(len(p)) > room:
		c.Buffer.Write(p[:room])
		c.over = true
	default:
		c.Buffer.Write(p)
	}
	return len(p), nil
}
