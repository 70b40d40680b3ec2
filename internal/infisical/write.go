package infisical

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/startsvc/startsvc/internal/secrets"
)

// Writing secrets (for migrate).
//
// The client writes through the v3 routes: the batch routes
// POST and PATCH /api/v3/secrets/batch/raw, and POST /api/v1/folders for a
// folder that does not exist yet. These are the write routes established
// against a real server; a v4 write route has not been, so there is no v4
// attempt to fall back from. Reading back after a write goes through
// ListSecrets, which does try v4 first.
//
// A write is not retried after a 5xx answer or a broken connection: the server
// may have applied it, and a second create would then be refused. A 429 is
// retried, within the same limits as a read, because the server refused the
// call before doing anything.

// DefaultBatchSize is how many secrets one write call carries unless
// WriteOptions say otherwise.
const DefaultBatchSize = 100

// Write is one secret to create or update. Its value never prints.
type Write struct {
	Key   string
	Value secrets.Secret
}

// WriteOptions say where secrets are written, and how many go in one call.
type WriteOptions struct {
	ProjectID   string // required; ResolveTarget fills it in for a service token
	Environment string // required; ResolveTarget fills it in
	SecretPath  string // the folder; empty is the root
	BatchSize   int    // secrets per call; DefaultBatchSize when zero or less
}

// ListOptions returns the folder o names as options for ListSecrets (not recursive).
func (o WriteOptions) ListOptions() ListOptions {
	return ListOptions{ProjectID: o.ProjectID, Environment: o.Environment, SecretPath: o.SecretPath, FolderMayBeMissing: true}
}

// ResolveTarget completes o the way ListSecrets does, logging in first if need
// be: a service token supplies its own project and environment when o has
// none (one call, once per client); an environment still missing is
// DefaultEnvironment; the folder is cleaned; FolderMayBeMissing is set, since
// writes create the folder. It fails when no project is known. Writes need
// the result, since they cannot ask on their own.
func (c *Client) ResolveTarget(ctx context.Context, o ListOptions) (ListOptions, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	if err := c.Login(ctx); err != nil {
		return o, err
	}
	if c.auth == AuthServiceToken && (o.ProjectID == "" || o.Environment == "") {
		sc, err := c.lookUpServiceToken(ctx)
		if err != nil {
			return o, err
		}
		if o.ProjectID == "" {
			o.ProjectID = sc.project
		}
		if o.Environment == "" {
			o.Environment = sc.environment
		}
	}
	if o.ProjectID == "" {
		return o, &Error{Kind: Invalid, Op: "choose the Infisical project", Host: c.host,
			Message: "no project: set --infisical-project, INFISICAL_PROJECT_ID or workspaceId in " + ConfigFileName}
	}
	if o.Environment == "" {
		o.Environment = DefaultEnvironment
	}
	o.SecretPath = CleanSecretPath(o.SecretPath)
	o.FolderMayBeMissing = true // writes create it
	return o, nil
}

// CreateSecrets creates secrets that the folder of o does not hold yet,
// BatchSize to a call, in order. When the server answers that the folder does
// not exist, the folder (and each missing parent) is created and that call is
// made once more. It returns the keys of every call the server accepted, also
// when a later call fails; the keys of the failed call and of the calls after
// it are not in the list, although a call that failed on a 5xx or a broken
// connection may have been applied. The error is an *Error.
func (c *Client) CreateSecrets(ctx context.Context, o WriteOptions, list []Write) ([]string, error) {
	return c.writeBatches(ctx, o, list, http.MethodPost, "create Infisical secrets")
}

// UpdateSecrets changes the values of secrets that exist in the folder of o,
// BatchSize to a call, in order. What it returns is as for CreateSecrets; a
// key that does not exist fails its whole call.
func (c *Client) UpdateSecrets(ctx context.Context, o WriteOptions, list []Write) ([]string, error) {
	return c.writeBatches(ctx, o, list, http.MethodPatch, "update Infisical secrets")
}

// batchSecret is one secret in a batch write body.
type batchSecret struct {
	SecretKey   string `json:"secretKey"`
	SecretValue string `json:"secretValue"`
}

func (c *Client) writeBatches(ctx context.Context, o WriteOptions, list []Write, method, op string) ([]string, error) {
	if err := checkWriteTarget(o, op); err != nil {
		return nil, err
	}
	if err := c.Login(ctx); err != nil {
		return nil, err
	}
	size := o.BatchSize
	if size <= 0 {
		size = DefaultBatchSize
	}
	var written []string
	folderMade := false
	for start := 0; start < len(list); start += size {
		chunk := list[start:min(start+size, len(list))]
		items := make([]batchSecret, len(chunk))
		keys := make([]string, len(chunk))
		for i, w := range chunk {
			items[i] = batchSecret{SecretKey: w.Key, SecretValue: string(w.Value)}
			keys[i] = w.Key
		}
		body, err := json.Marshal(struct {
			WorkspaceID string        `json:"workspaceId"`
			Environment string        `json:"environment"`
			SecretPath  string        `json:"secretPath"`
			Secrets     []batchSecret `json:"secrets"`
		}{o.ProjectID, o.Environment, CleanSecretPath(o.SecretPath), items})
		if err != nil {
			return written, &Error{Kind: Invalid, Op: op, Host: c.host, Message: "cannot encode the secrets"}
		}
		req := request{op: op, method: method, path: "/v3/secrets/batch/raw", body: body, auth: true}
		err = c.writeOnce(ctx, req, "secrets")
		if err != nil && method == http.MethodPost && !folderMade && missingFolder(err) && CleanSecretPath(o.SecretPath) != "/" {
			folderMade = true
			if ferr := c.CreateFolder(ctx, o); ferr != nil {
				return written, ferr
			}
			err = c.writeOnce(ctx, req, "secrets")
		}
		if err != nil {
			return written, err
		}
		written = append(written, keys...)
	}
	return written, nil
}

// CreateFolder creates the folder of o and every missing parent, one call per
// level below the root. A level that exists already is not an error.
func (c *Client) CreateFolder(ctx context.Context, o WriteOptions) error {
	const op = "create Infisical folder"
	if err := checkWriteTarget(o, op); err != nil {
		return err
	}
	if err := c.Login(ctx); err != nil {
		return err
	}
	full := CleanSecretPath(o.SecretPath)
	if full == "/" {
		return nil
	}
	parent := "/"
	for _, name := range strings.Split(strings.TrimPrefix(full, "/"), "/") {
		body, err := json.Marshal(struct {
			WorkspaceID string `json:"workspaceId"`
			Environment string `json:"environment"`
			Name        string `json:"name"`
			Path        string `json:"path"`
		}{o.ProjectID, o.Environment, name, parent})
		if err != nil {
			return &Error{Kind: Invalid, Op: op, Host: c.host, Message: "cannot encode the request"}
		}
		err = c.writeOnce(ctx, request{op: op + " " + path.Join(parent, name), method: http.MethodPost,
			path: "/v1/folders", body: body, auth: true}, "folder")
		var e *Error
		if err != nil && !(errors.As(err, &e) && e.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Message), "already exist")) {
			return err
		}
		parent = path.Join(parent, name)
	}
	return nil
}

func checkWriteTarget(o WriteOptions, op string) error {
	switch {
	case o.ProjectID == "":
		return &Error{Kind: Invalid, Op: op, Message: "no project given"}
	case o.Environment == "":
		return &Error{Kind: Invalid, Op: op, Message: "no environment given"}
	}
	return nil
}

// missingFolder reports a 404 about a folder (not about a route the server
// lacks): the answer to a write into a folder that does not exist.
func missingFolder(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == NotFound && !isRouteNotFound(err) &&
		strings.Contains(strings.ToLower(e.Message), "folder")
}

// writeOnce sends a write, bounded by the client's timeout when ctx has none,
// and checks that a 2xx answer is a JSON object holding field. Only a 429 is
// retried (see the notes at the top of this file). Every failure is an *Error.
func (c *Client) writeOnce(ctx context.Context, r request, field string) error {
	_, err := c.writeAnswer(ctx, r, field)
	return err
}

// writeAnswer is writeOnce that returns the answer's body; an empty field
// accepts any JSON object.
func (c *Client) writeAnswer(ctx context.Context, r request, field string) ([]byte, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	for attempt := 0; ; attempt++ {
		status, header, body, err := c.once(ctx, r)
		if err != nil {
			return nil, err
		}
		if status >= 200 && status < 300 {
			var answer map[string]json.RawMessage
			if json.Unmarshal(body, &answer) != nil || field != "" && answer[field] == nil {
				return nil, &Error{Kind: Unreachable, Op: r.op, Host: c.host, Status: status,
					Message: "the answer is not Infisical's: is the URL right?"}
			}
			return body, nil
		}
		e := c.statusError(r.op, status, body)
		if status == http.StatusForbidden && c.auth == AuthServiceToken {
			e.Message += " (a service token may be read-only: use one with write access, or a machine identity)"
		}
		if status != http.StatusTooManyRequests {
			return nil, e
		}
		wait, retry := c.retryWait(status, header, e.Message, attempt)
		if !retry {
			if wait > 0 {
				e.Message += fmt.Sprintf(" (startsvc waits at most %s)", c.opt.MaxRetryWait)
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
			return nil, contextError(ctx, r.op, c.host, e)
		}
	}
}
