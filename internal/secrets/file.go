package secrets

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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
// already exists — whatever is there: a file, a link, a named pipe. remove
// deletes it; it is safe to call more than once and from several goroutines,
// and reports only real failures. Errors name path once.
func CreateFile(path string, data []byte) (remove func() error, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create %s: a file of that name exists and was not written by startsvc; move it away", path)
		}
		return nil, fmt.Errorf("create %s: %w", path, WithoutPath(err))
	}
	var once sync.Once
	var rmErr error
	remove = func() error {
		once.Do(func() {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				rmErr = fmt.Errorf("remove %s: %w", path, WithoutPath(err))
			}
		})
		return rmErr
	}
	// A umask can take bits away from 0600, never add them; set it exactly.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, errors.Join(fmt.Errorf("chmod %s: %w", path, WithoutPath(err)), remove())
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, errors.Join(fmt.Errorf("write %s: %w", path, WithoutPath(err)), remove())
	}
	if err := f.Close(); err != nil {
		return nil, errors.Join(fmt.Errorf("write %s: %w", path, WithoutPath(err)), remove())
	}
	return remove, nil
}

// WithoutPath returns the cause inside an *fs.PathError or *os.LinkError, whose
// text repeats the path (and the operation) that the caller's own message
// already names: "write f: no space left on device", not "write f: write f: …".
// Other errors come back unchanged.
func WithoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// maxMarkerLine bounds what RemoveStale reads of a file to find the marker.
const maxMarkerLine = 512

// RemoveStale removes a hand-over file left at path by a run that was killed
// before it could clean up. It reports whether it removed one. A file at path
// without startsvc's marker is left alone and reported as an error, and so is
// anything at path that is not a regular file (a link, a named pipe, a
// folder): startsvc never makes those, and opening a pipe could block for ever.
// It never blocks and never follows a link.
func RemoveStale(path string) (bool, error) {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check %s: %w", path, WithoutPath(err))
	}
	if !st.Mode().IsRegular() {
		return false, notRegular(path, st.Mode())
	}
	// Lstat and open are two steps: whatever replaced the file in between,
	// the open neither waits for a writer nor follows a link, and the
	// descriptor is checked again.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false, fmt.Errorf("check %s: %w", path, WithoutPath(err))
	}
	st, err = f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = notRegular(path, st.Mode())
	}
	if err != nil {
		f.Close()
		return false, err
	}
	first, _ := bufio.NewReader(io.LimitReader(f, maxMarkerLine)).ReadString('\n')
	f.Close()
	if !strings.Contains(first, fileMarker) {
		return false, fmt.Errorf("%s exists and was not written by startsvc; startsvc needs that name for its hand-over file: move it away", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("remove stale %s: %w", path, WithoutPath(err))
	}
	return true, nil
}

func notRegular(path string, m fs.FileMode) error {
	return fmt.Errorf("%s exists and was not written by startsvc: it is %s; startsvc needs that name for its hand-over file: move it away",
		path, describeType(m))
}

// describeType names a file type for a person.
func describeType(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m.IsDir():
		return "a folder"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}

// ReadFile reads a file the user names (an env file), at most limit bytes,
// without ever blocking: a named pipe, a device or a folder at path is an
// error saying what it is, not a read that waits for a writer. A link is
// followed (an env file may be one). The error wraps fs.ErrNotExist when
// nothing is there.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, not a file: startsvc reads only regular files", path, describeType(st.Mode()))
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is larger than %d MiB", path, limit>>20)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, WithoutPath(err))
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d MiB", path, limit>>20)
	}
	return data, nil
}

// MaxEnvFile bounds an env file startsvc reads.
const MaxEnvFile = 64 << 20

// CheckWritable reports whether a hand-over file could be created in dir, by
// creating and removing a probe the same way.
func CheckWritable(dir string) error {
	remove, err := CreateFile(filepath.Join(dir, fmt.Sprintf("%s.probe-%d", FileName, os.Getpid())), nil)
	if err != nil {
		return err
	}
	return remove()
}
