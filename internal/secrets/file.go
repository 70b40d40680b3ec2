package secrets

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// FileName is the hand-over file's name in the stack directory.
const FileName = ".env.infisical"

// fileMarker starts every hand-over file startsvc writes, so that a file left by a
// killed run can be told from a file of the user's and removed at the next start.
const fileMarker = "startsvc hand-over file: secrets for compose; removed when compose returns"

// Header is the comment block startsvc writes at the top of a hand-over file.
func Header() []string {
	return []string{fileMarker, "do not edit, do not commit; a run killed before it could remove this file removes it at the next start"}
}

// CreateFile writes data to a new file at path readable and writable by its owner
// only (0600 from the moment it exists, whatever the umask), failing if path
// already exists. remove deletes it; it is safe to call more than once and from
// several goroutines, and reports only real failures.
func CreateFile(path string, data []byte) (remove func() error, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create %s: a file of that name exists and was not written by startsvc; move it away", path)
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in the message
		}
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	var once sync.Once
	var rmErr error
	remove = func() error {
		once.Do(func() {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				rmErr = fmt.Errorf("remove %s: %w", path, err)
			}
		})
		return rmErr
	}
	// A umask can take bits away from 0600, never add them; set it exactly.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, errors.Join(fmt.Errorf("chmod %s: %w", path, err), remove())
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, errors.Join(fmt.Errorf("write %s: %w", path, err), remove())
	}
	if err := f.Close(); err != nil {
		return nil, errors.Join(fmt.Errorf("write %s: %w", path, err), remove())
	}
	return remove, nil
}

// RemoveStale removes a hand-over file left at path by a run that was killed
// before it could clean up. It reports whether it removed one. A file at path
// without startsvc's marker is left alone and reported as an error.
func RemoveStale(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check %s: %w", path, err)
	}
	first, _ := bufio.NewReader(f).ReadString('\n')
	f.Close()
	if !strings.Contains(first, fileMarker) {
		return false, fmt.Errorf("%s exists and was not written by startsvc; startsvc needs that name for its hand-over file: move it away", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("remove stale %s: %w", path, err)
	}
	return true, nil
}

// CheckWritable reports whether a hand-over file could be created in dir, by
// creating and removing a probe the same way.
func CheckWritable(dir string) error {
	remove, err := CreateFile(filepath.Join(dir, fmt.Sprintf("%s.probe-%d", FileName, os.Getpid())), nil)
	if err != nil {
		return err
	}
	return remove()
}
