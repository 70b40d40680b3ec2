package infisical

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
)

// checkLocation tells an empty folder from a typo. Servers from 2024 answer a
// listing for an environment or folder that does not exist with 200 and an
// empty list (newer ones answer 404 SecretPathNotFound, which needs no check).
// So after an empty listing it asks, with the listing's credentials:
//
//   - GET /v1/workspace/{projectId}: the project's environments; the listed
//     one must be among them;
//   - for a folder below the root, GET /v1/folders?workspaceId=…&environment=…
//     &path=PARENT for each segment: the child folders of PARENT (an empty list
//     when PARENT itself does not exist), among which the segment must be.
//
// With o.FolderMayBeMissing only the environment is checked. A location that
// does not exist is an *Error of kind NotFound naming it. A
// server without these routes (a route-404) reports typos itself, and one that
// refuses the identity these reads (401, 403) cannot be asked: then the empty
// listing stands, with a note saying it could not be checked. Any other
// failure is returned as it is (Unreachable allows the fallback).
func (c *Client) checkLocation(ctx context.Context, o ListOptions) (note string, err error) {
	const op = "list Infisical secrets"
	cannot := func(err error) (string, error) {
		if isRouteNotFound(err) {
			return "", nil
		}
		if KindOf(err) == Auth {
			return fmt.Sprintf("the listing of environment %s, folder %s is empty, and the identity may not read the project's "+
				"environments and folders to tell an empty folder from a typo (%v)", o.Environment, o.SecretPath, err), nil
		}
		return "", err
	}

	if err := c.checkEnvironment(ctx, o); err != nil {
		if errors.Is(err, errCannotCheck) {
			return cannot(errors.Unwrap(err))
		}
		return "", err
	}
	if o.FolderMayBeMissing {
		return "", nil
	}
	parent := "/"
	for _, name := range strings.Split(strings.Trim(o.SecretPath, "/"), "/") {
		if name == "" {
			break
		}
		names, err := c.childFolders(ctx, o.ProjectID, o.Environment, parent)
		if err != nil {
			return cannot(err)
		}
		child := path.Join(parent, name)
		if !slices.Contains(names, name) {
			return "", &Error{Kind: NotFound, Op: op, Host: c.host, Message: fmt.Sprintf(
				"environment %s of project %s has no folder %s: check --secret-path", o.Environment, o.ProjectID, child)}
		}
		parent = child
	}
	return "", nil
}

// errCannotCheck wraps a failure to ask for the project's environments that
// does not say the location is wrong: a route the server lacks, or a read the
// identity may not make.
var errCannotCheck = errors.New("cannot check")

type cannotCheck struct{ err error }

func (e cannotCheck) Error() string        { return e.err.Error() }
func (e cannotCheck) Unwrap() error        { return e.err }
func (e cannotCheck) Is(target error) bool { return target == errCannotCheck }

// reason is the server's name for the error in err's chain, if any.
func reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// checkEnvironment asks for the project's environments (GET
// /v1/workspace/{projectId}) and fails with NotFound when o's is not among
// them. A failure that does not tell (see errCannotCheck) wraps errCannotCheck.
func (c *Client) checkEnvironment(ctx context.Context, o ListOptions) error {
	const op = "list Infisical secrets"
	body, err := c.do(ctx, request{op: "look up the Infisical project", method: http.MethodGet, auth: true,
		path: "/v1/workspace/" + url.PathEscape(o.ProjectID)})
	if err != nil {
		if isRouteNotFound(err) || KindOf(err) == Auth {
			return cannotCheck{err}
		}
		return err
	}
	var ws struct {
		Workspace *struct {
			Environments []struct {
				Slug string `json:"slug"`
			} `json:"environments"`
		} `json:"workspace"`
	}
	if err := json.Unmarshal(body, &ws); err != nil || ws.Workspace == nil {
		return &Error{Kind: Invalid, Op: "look up the Infisical project", Host: c.host, Status: http.StatusOK,
			Message: `the answer holds no "workspace": is this an Infisical server?`}
	}
	var slugs []string
	for _, e := range ws.Workspace.Environments {
		slugs = append(slugs, e.Slug)
	}
	slices.Sort(slugs)
	if !slices.Contains(slugs, o.Environment) {
		return &Error{Kind: NotFound, Op: op, Host: c.host, Message: fmt.Sprintf(
			"project %s has no environment %q (its environments: %s): check --infisical-env or defaultEnvironment in %s",
			o.ProjectID, o.Environment, strings.Join(slugs, ", "), ConfigFileName)}
	}

	return nil
}

// childFolders lists the names of the folders directly below parent.
func (c *Client) childFolders(ctx context.Context, project, env, parent string) ([]string, error) {
	const op = "list Infisical folders"
	q := url.Values{}
	q.Set("workspaceId", project)
	q.Set("environment", env)
	q.Set("path", parent)
	body, err := c.do(ctx, request{op: op, method: http.MethodGet, auth: true, path: "/v1/folders", query: q})
	if err != nil {
		return nil, err
	}
	var r struct {
		Folders *[]struct {
			Name string `json:"name"`
		} `json:"folders"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Folders == nil {
		return nil, &Error{Kind: Invalid, Op: op, Host: c.host, Status: http.StatusOK,
			Message: `the answer holds no "folders" list: is this an Infisical server?`}
	}
	var names []string
	for _, f := range *r.Folders {
		names = append(names, f.Name)
	}
	return names, nil
}
