package migrate

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/secrets"
)

// Assignment is one key to set in an env file. Its value never prints.
type Assignment struct {
	Key   string
	Value secrets.Secret
}

// EnvFile sets keys of one env file in place, for a command that records
// what it has done as it goes (infisical setup): each Set is a whole,
// atomic step, so that the file always holds a state a later run can continue
// from. The first Set of a run keeps a backup of the file as it was found
// (mode 0600, never over another file); every Set writes the file with mode
// 0600, since it now holds credentials. Other lines, comments and their order
// stay byte for byte. An EnvFile is not safe for concurrent use.
type EnvFile struct {
	name     string // as given, for messages
	path     string // the file itself, through symbolic links
	original []byte // as found; nil when there was no file
	existed  bool
	mode     fs.FileMode // of the file as found
	current  []byte      // what the file holds now, as far as this EnvFile knows
	exists   bool
	backup   string
	now      func() time.Time
}

// OpenEnvFile reads the env file at path, which need not exist yet.
func OpenEnvFile(path string) (*EnvFile, error) {
	f := &EnvFile{name: path, path: path, now: time.Now, mode: 0o600}
	resolved, err := filepath.EvalSymlinks(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return f, nil
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	f.path = resolved
	info, err := os.Stat(resolved)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	data, err := os.ReadFile(resolved)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	f.original, f.current, f.existed, f.exists, f.mode = data, data, true, true, info.Mode().Perm()
	return f, nil
}

// Values reads the file as it is now, as compose does, references resolving
// through lookup.
func (f *EnvFile) Values(lookup compose.Lookup) (map[string]string, error) {
	if !f.exists {
		return map[string]string{}, nil
	}
	return compose.ParseEnv(f.name, f.current, lookup)
}

// Backup is the backup the first Set kept; empty before, or when there was no
// file to back up.
func (f *EnvFile) Backup() string { return f.backup }

// Changed reports whether a Set has changed the file since it was opened.
func (f *EnvFile) Changed() bool { return f.exists != f.existed || !bytes.Equal(f.current, f.original) }

// Set gives each key its value: the last statement of a key that is in the
// file is replaced where it stands; a key that is not is appended. The result
// is read back with compose's parser and must give every assigned key its
// value and every other key the value it had, or nothing is written. A file
// changed by someone else since it was read is not overwritten.
func (f *EnvFile) Set(list ...Assignment) error {
	content, err := f.edit(list)
	if err != nil {
		return err
	}
	if bytes.Equal(content, f.current) && f.exists {
		return nil
	}
	if err := f.unchanged(); err != nil {
		return err
	}
	if !f.exists {
		if _, err := secrets.CreateFile(f.path, content); err != nil {
			return err
		}
		f.current, f.exists = content, true
		return nil
	}
	if f.backup == "" && f.existed {
		b, err := createBackup(f.path, f.original, f.now())
		if err != nil {
			return fmt.Errorf("back up %s: %w", f.name, err)
		}
		f.backup = b
	}
	if _, err := replaceFile(f.path, f.current, content, 0o600); err != nil {
		return fmt.Errorf("rewrite %s: %w", f.name, err)
	}
	f.current = content
	return nil
}

// Revert puts the file back as it was found, mode included, and removes the
// backup; a file that did not exist is removed. It does nothing when no Set
// changed the file.
func (f *EnvFile) Revert() error {
	if !f.Changed() {
		return nil
	}
	if err := f.unchanged(); err != nil {
		return err
	}
	if !f.existed {
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", f.name, err)
		}
		f.current, f.exists = nil, false
		return nil
	}
	if _, err := replaceFile(f.path, f.current, f.original, f.mode); err != nil {
		return fmt.Errorf("restore %s: %w", f.name, err)
	}
	f.current = f.original
	if f.backup != "" {
		if err := os.Remove(f.backup); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", f.backup, err)
		}
		f.backup = ""
	}
	return nil
}

// unchanged checks that the file on disk is what this EnvFile last saw.
func (f *EnvFile) unchanged() error {
	cur, err := os.ReadFile(f.path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !f.exists:
		return nil
	case err != nil:
		return fmt.Errorf("read %s: %w", f.name, err)
	case !f.exists || !bytes.Equal(cur, f.current):
		return fmt.Errorf("%s changed while startsvc was writing it; run the command again", f.name)
	}
	return nil
}

// edit returns the file's content with the assignments made, checked.
func (f *EnvFile) edit(list []Assignment) ([]byte, error) {
	src := string(f.current)
	last := map[string]statement{}
	for _, st := range scanStatements(src) {
		last[st.Key] = st
	}
	type change struct {
		start, end int
		text       string
	}
	var changes []change
	var appended strings.Builder
	want := map[string]string{}
	for _, a := range list {
		if err := compose.CheckKey(a.Key); err != nil {
			return nil, err
		}
		if err := compose.CheckValue(a.Key, string(a.Value)); err != nil {
			return nil, err
		}
		want[a.Key] = string(a.Value)
		line := a.Key + "=" + compose.QuoteValue(string(a.Value))
		st, ok := last[a.Key]
		if !ok {
			appended.WriteString(line + "\n")
			continue
		}
		switch {
		case strings.HasSuffix(src[:st.End], "\n"):
			line += "\n"
		case st.End < len(src) && src[st.End] != '\n':
			line += " " // the next statement starts on this line
		}
		changes = append(changes, change{st.Start, st.End, line})
		delete(last, a.Key) // a key given twice is appended the second time: the last one wins
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].start > changes[j].start })
	for _, c := range changes {
		src = src[:c.start] + c.text + src[c.end:]
	}
	if appended.Len() > 0 {
		if src != "" && !strings.HasSuffix(src, "\n") {
			src += "\n"
		}
		src += appended.String()
	}
	return []byte(src), f.verify([]byte(src), want)
}

// verify reads content back and compares it with the file as it is now:
// assigned keys must have their new values, every other key its old one.
func (f *EnvFile) verify(content []byte, want map[string]string) error {
	before, err := f.Values(nil)
	if err != nil {
		return err
	}
	after, err := compose.ParseEnv(f.name, content, nil)
	if err != nil {
		return fmt.Errorf("%s would not read back: %w", f.name, err)
	}
	for _, k := range slices.Sorted(maps.Keys(after)) {
		v := after[k]
		if w, ok := want[k]; ok {
			if v != w {
				return fmt.Errorf("%s would not read back %s as written; nothing was changed", f.name, k)
			}
			continue
		}
		if old, ok := before[k]; !ok || old != v {
			return fmt.Errorf("%s: %s would read differently after the change; nothing was changed", f.name, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			return fmt.Errorf("%s: %s would be lost by the change; nothing was changed", f.name, k)
		}
	}
	return nil
}
