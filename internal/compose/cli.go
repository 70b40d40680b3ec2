// Package compose finds and runs the Docker Compose CLI, loads compose files with
// compose-go exactly as that CLI will, and reads and writes env files in its dialect.
package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/startsvc/startsvc/internal/exitcode"
)

// Version is a compose release, as `compose version --short` prints it.
type Version struct {
	Major, Minor, Patch int
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast reports whether v is the same release as, or newer than, major.minor.patch.
func (v Version) AtLeast(major, minor, patch int) bool {
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Patch >= patch
}

// ParseVersion reads the first release number in s: "2.40.3", "v2.40.3",
// "2.40.3-desktop.1", "1.29.2, build …", and the whole banners a standalone
// compose prints instead of a bare number, "docker-compose version 1.29.2,
// build 5becea4c" or "Docker Compose version v2.40.3". The error quotes s,
// shortened to its first line.
func ParseVersion(s string) (Version, error) {
	m := versionNumber.FindStringSubmatch(s)
	if m == nil {
		first, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
		if len(first) > 80 {
			first = first[:80] + "…"
		}
		return Version{}, fmt.Errorf("parse compose version %q", first)
	}
	var nums [3]int
	for i, part := range m[1:] {
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil {
			return Version{}, fmt.Errorf("parse compose version %q", m[0])
		}
		nums[i] = n
	}
	return Version{nums[0], nums[1], nums[2]}, nil
}

// versionNumber is a release number standing as a word of its own: "v2.40.3",
// "1.29.2," — not the digits inside "x86_64" or a build hash.
var versionNumber = regexp.MustCompile(`(?:^|[\s(])v?(\d{1,4})\.(\d{1,4})(?:\.(\d{1,6}))?(?:$|[\s,+-])`)

// MinVersion is the oldest compose startsvc runs. Compose files may need a
// newer one for the features they use (see Needs).
var MinVersion = Version{2, 17, 0}

// CLI is a compose command line that was found and whose version is known.
type CLI struct {
	// Argv is the command before compose's own arguments:
	// ["docker", "compose"] for the plugin, ["docker-compose"] for a standalone binary.
	Argv    []string
	Version Version
}

// Name is how the CLI is shown to people: "docker compose" or a binary's path.
func (c CLI) Name() string { return strings.Join(c.Argv, " ") }

// Command builds the argument list for args; the first element is the program.
func (c CLI) Command(args ...string) []string {
	out := make([]string, 0, len(c.Argv)+len(args))
	out = append(out, c.Argv...)
	return append(out, args...)
}

// LookPath finds a program on the PATH; it is exec.LookPath in production.
type LookPath func(file string) (string, error)

// Output runs argv and returns its standard output; exec in production.
type Output func(ctx context.Context, env []string, argv []string) ([]byte, error)

// ExecOutput runs argv with env and returns its standard output; on failure the
// error includes the first line of its standard error.
func ExecOutput(ctx context.Context, env []string, argv []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if msg != "" {
			return out, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, msg)
		}
		return out, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return out, nil
}

// Finder discovers the compose CLI.
type Finder struct {
	LookPath LookPath
	Output   Output
	Env      []string
	// Explicit names a binary to use (the --compose flag or STARTSVC_COMPOSE). A path
	// whose base name is "docker" means its compose plugin.
	Explicit string
	// Cache remembers versions already read, keyed by the binaries' identity; nil
	// reads the version every time.
	Cache VersionCache
}

// VersionCache remembers a compose CLI's version between runs: reading it costs
// a process start (tens of milliseconds) on every command otherwise.
type VersionCache interface {
	Get(key string) (string, bool)
	Put(key, version string)
}

// identity keys a cached version: the paths of the programs involved with their
// sizes and modification times, so that an upgrade is noticed.
func identity(argv []string, plugin string) string {
	var b strings.Builder
	for _, p := range append([]string{argv[0]}, plugin) {
		if p == "" {
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return ""
		}
		fmt.Fprintf(&b, "%s|%d|%d;", p, st.Size(), st.ModTime().UnixNano())
	}
	return b.String()
}

const installHint = "install the Docker Compose v2 plugin (https://docs.docker.com/compose/install/), " +
	"or name a compose binary with --compose or STARTSVC_COMPOSE"

// Find returns the compose CLI to use: the explicit one when given, else the
// `docker compose` plugin, else a standalone `docker-compose`. Its version is read
// once. A missing CLI or one older than MinVersion is an *exitcode.Error with
// code Unavailable that says what to install.
func (f Finder) Find(ctx context.Context) (CLI, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var candidates [][]string
	if f.Explicit != "" {
		if filepath.Base(f.Explicit) == "docker" {
			candidates = append(candidates, []string{f.Explicit, "compose"})
		} else {
			candidates = append(candidates, []string{f.Explicit})
		}
	} else {
		if p, err := f.LookPath("docker"); err == nil {
			candidates = append(candidates, []string{p, "compose"})
		}
		if p, err := f.LookPath("docker-compose"); err == nil {
			candidates = append(candidates, []string{p})
		}
	}
	if len(candidates) == 0 {
		return CLI{}, exitcode.With(exitcode.Unavailable,
			errors.New("no compose CLI found: neither `docker compose` nor `docker-compose` is on the PATH; "+installHint))
	}
	var errs []error
	for _, argv := range candidates {
		cli := CLI{Argv: argv}
		key := ""
		if f.Cache != nil {
			key = identity(argv, f.pluginPath(argv))
			if v, ok := f.Cache.Get(key); ok && key != "" {
				if ver, err := ParseVersion(v); err == nil {
					cli.Version = ver
					return cli, checkVersion(cli)
				}
			}
		}
		out, err := f.Output(ctx, f.Env, cli.Command("version", "--short"))
		if err != nil {
			if ctx.Err() != nil {
				return CLI{}, ctx.Err()
			}
			errs = append(errs, err)
			continue
		}
		v, err := ParseVersion(string(out))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", cli.Name(), err))
			continue
		}
		cli.Version = v
		if key != "" {
			f.Cache.Put(key, v.String())
		}
		return cli, checkVersion(cli)
	}
	return CLI{}, exitcode.With(exitcode.Unavailable,
		fmt.Errorf("no working compose CLI: %w; %s", errors.Join(errs...), installHint))
}

// checkVersion refuses compose releases startsvc cannot drive, saying what to install.
func checkVersion(cli CLI) error {
	v := cli.Version
	if v.Major < 2 {
		return exitcode.With(exitcode.Unavailable, fmt.Errorf(
			"%s is compose %s (v1, end of life since 2023): startsvc needs compose v2 >= %s; %s",
			cli.Name(), v, MinVersion, installHint))
	}
	if !v.AtLeast(MinVersion.Major, MinVersion.Minor, MinVersion.Patch) {
		return exitcode.With(exitcode.Unavailable, fmt.Errorf(
			"%s is compose %s: startsvc needs compose >= %s; %s", cli.Name(), v, MinVersion, installHint))
	}
	return nil
}

// pluginPath finds the binary behind `docker compose`, in the folders the docker
// CLI searches, so that a plugin upgrade invalidates a cached version.
func (f Finder) pluginPath(argv []string) string {
	if len(argv) < 2 {
		return ""
	}
	var dirs []string
	for _, kv := range f.Env {
		if k, v, _ := strings.Cut(kv, "="); k == "DOCKER_CONFIG" && v != "" {
			dirs = append(dirs, filepath.Join(v, "cli-plugins"))
		} else if k == "HOME" && v != "" {
			dirs = append(dirs, filepath.Join(v, ".docker", "cli-plugins"))
		}
	}
	dirs = append(dirs, "/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
		"/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")
	for _, d := range dirs {
		p := filepath.Join(d, "docker-compose")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
