// Package docker talks to the Docker Engine API through the moby client: it
// answers whether the Engine is there, what it offers, and what a compose
// project's containers are doing.
package docker

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/exitcode"
)

// Compose's labels on the containers it creates.
const (
	LabelProject = "com.docker.compose.project"
	LabelService = "com.docker.compose.service"
	LabelOneoff  = "com.docker.compose.oneoff"
	LabelNumber  = "com.docker.compose.container-number"
)

// Engine is a connection to the Docker Engine. It is safe for concurrent use.
type Engine struct {
	c *client.Client
}

// Connect builds a client from the given environment (DOCKER_HOST,
// DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, DOCKER_API_VERSION) without contacting the
// Engine; Ping does that. Close releases it.
func Connect(getenv func(string) string) (*Engine, error) {
	opts := []client.Opt{}
	if h := getenv("DOCKER_HOST"); h != "" {
		opts = append(opts, client.WithHost(h))
	}
	if p := getenv("DOCKER_CERT_PATH"); p != "" && getenv("DOCKER_TLS_VERIFY") != "" {
		opts = append(opts, client.WithTLSClientConfig(p+"/ca.pem", p+"/cert.pem", p+"/key.pem"))
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, exitcode.With(exitcode.Unavailable, fmt.Errorf("docker client: %w", err))
	}
	return &Engine{c: c}, nil
}

// Close releases the client's connections.
func (e *Engine) Close() error { return e.c.Close() }

// Client is the moby client, for the packages that watch containers.
func (e *Engine) Client() *client.Client { return e.c }

// Host is the address the client talks to.
func (e *Engine) Host() string { return e.c.DaemonHost() }

// Ping checks, within a few seconds, that the Engine answers. If it does not,
// the error (code Unavailable) says how to start Docker.
func (e *Engine) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := e.c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		if cerr := context.Cause(ctx); cerr != nil && cerr != context.DeadlineExceeded {
			return cerr
		}
		return exitcode.With(exitcode.Unavailable, fmt.Errorf(
			"the Docker Engine at %s does not answer: %w\n"+
				"  start Docker (Docker Desktop, `sudo systemctl start docker`, or `sudo dockerd &`), "+
				"or point DOCKER_HOST at a running Engine", e.c.DaemonHost(), err))
	}
	return nil
}

// Facts are what the Engine says of itself that startsvc needs.
type Facts struct {
	Version    string
	APIVersion string
	Runtimes   []string // sorted runtime names, e.g. "nvidia", "runc"
}

// Facts asks the Engine for its version and runtimes.
func (e *Engine) Facts(ctx context.Context) (Facts, error) {
	info, err := e.c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return Facts{}, exitcode.With(exitcode.Unavailable, fmt.Errorf("docker info: %w", err))
	}
	f := Facts{Version: info.Info.ServerVersion, APIVersion: e.c.ClientVersion()}
	for name := range info.Info.Runtimes {
		f.Runtimes = append(f.Runtimes, name)
	}
	sort.Strings(f.Runtimes)
	return f, nil
}

// Container is one container of a compose project, as listed.
type Container struct {
	ID      string
	Name    string
	Service string
	State   string // created, running, exited, restarting, …
	Oneoff  bool
	ImageID string            // the image the container was created from
	Labels  map[string]string // every label of the container
}

// ProjectContainers lists every container of the compose project, running or not.
func (e *Engine) ProjectContainers(ctx context.Context, project string) ([]Container, error) {
	res, err := e.c.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelProject+"="+project),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers of project %s: %w", project, err)
	}
	out := make([]Container, 0, len(res.Items))
	for _, c := range res.Items {
		name := ""
		if len(c.Names) > 0 {
			name = c.Names[0]
			if len(name) > 0 && name[0] == '/' {
				name = name[1:]
			}
		}
		out = append(out, Container{
			ID: c.ID, Name: name, Service: c.Labels[LabelService], State: string(c.State),
			Oneoff: c.Labels[LabelOneoff] == "True", ImageID: c.ImageID, Labels: c.Labels,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Open connects and pings: an Engine that answers, or an error (code
// Unavailable) that says how to start Docker. Close the Engine when done.
func Open(ctx context.Context, getenv func(string) string) (*Engine, error) {
	e, err := Connect(getenv)
	if err != nil {
		return nil, err
	}
	if err := e.Ping(ctx); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Remove stops a container, giving it the stop timeout it was created with,
// and removes it; its volumes stay.
func (e *Engine) Remove(ctx context.Context, id string) error {
	if _, err := e.c.ContainerStop(ctx, id, client.ContainerStopOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stop container %s: %w", shortID(id), err)
	}
	if _, err := e.c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", shortID(id), err)
	}
	return nil
}

// ImageID is the ID of the local image ref names, or "" when there is none.
func (e *Engine) ImageID(ctx context.Context, ref string) (string, error) {
	res, err := e.c.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return res.ID, nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// ErrNoFile is returned (wrapped) by ReadFile when the container has no file
// at the path.
var ErrNoFile = errors.New("no such file in the container")

// ErrFileTooLarge is returned (wrapped) by ReadFile when the file is larger
// than the caller's limit.
var ErrFileTooLarge = errors.New("file larger than the limit")

// ReadFile returns the content of the regular file at path in a container,
// running or not, read through the Engine's archive endpoint into memory only.
// A file larger than limit bytes is not read: ErrFileTooLarge. No file there
// is ErrNoFile; a directory or link is an error too. The content is never part
// of an error.
func (e *Engine) ReadFile(ctx context.Context, id, path string, limit int64) ([]byte, error) {
	res, err := e.c.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: path})
	if cerrdefs.IsNotFound(err) {
		return nil, fmt.Errorf("read %s in container %s: %w", path, shortID(id), ErrNoFile)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s in container %s: %w", path, shortID(id), err)
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	hdr, err := tr.Next()
	if err != nil {
		return nil, fmt.Errorf("read %s in container %s: %w", path, shortID(id), err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("read %s in container %s: not a regular file", path, shortID(id))
	}
	if hdr.Size > limit {
		return nil, fmt.Errorf("read %s in container %s: %w", path, shortID(id), ErrFileTooLarge)
	}
	data := make([]byte, hdr.Size)
	if _, err := io.ReadFull(tr, data); err != nil {
		return nil, fmt.Errorf("read %s in container %s: %w", path, shortID(id), err)
	}
	return data, nil
}
