package launch

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/startsvc/startsvc/internal/compose"
)

// runner returns a compose runner whose output passes through the redactor;
// flush writes out what the redactor still holds.
func (l *Launcher) runner(cli compose.CLI, env []string, dir string) (r *compose.Runner, flush func()) {
	stdout := l.Redactor.Writer(l.Env.Stdout)
	stderr := l.Redactor.Writer(l.Env.Stderr)
	r = &compose.Runner{
		CLI:     cli,
		Env:     env,
		Dir:     dir,
		Stdout:  stdout,
		Stderr:  stderr,
		Command: l.Env.Command,
	}
	return r, func() { stdout.Close(); stderr.Close() }
}

// Finder returns the compose finder for the Launcher's options; cached reuses
// a version read before for the same binaries.
func (l *Launcher) Finder(cached bool) compose.Finder {
	f := compose.Finder{LookPath: l.Env.LookPath, Output: l.Env.Output, Env: l.Env.Environ, Explicit: l.Options.Compose}
	if cached {
		f.Cache = newFileCache(l.Env)
	}
	return f
}

// fileCache is a compose.VersionCache in the user's cache folder
// ($XDG_CACHE_HOME/startsvc or ~/.cache/startsvc). It holds versions only,
// nothing secret; any failure to read or write it just means no cache.
type fileCache struct{ path string }

func newFileCache(env Env) compose.VersionCache {
	base := env.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home := env.Getenv("HOME")
		if home == "" {
			return nil
		}
		base = filepath.Join(home, ".cache")
	}
	return &fileCache{path: filepath.Join(base, "startsvc", "compose-versions.json")}
}

func (c *fileCache) load() map[string]string {
	m := map[string]string{}
	if data, err := os.ReadFile(c.path); err == nil {
		_ = json.Unmarshal(data, &m)
	}
	return m
}

func (c *fileCache) Get(key string) (string, bool) {
	v, ok := c.load()[key]
	return v, ok
}

func (c *fileCache) Put(key, version string) {
	m := c.load()
	if len(m) > 32 { // old binaries pile up; start over now and then
		m = map[string]string{}
	}
	m[key] = version
	data, err := json.Marshal(m)
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".compose-versions-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), c.path) != nil {
		os.Remove(tmp.Name())
	}
}
