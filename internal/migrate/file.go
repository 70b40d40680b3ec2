package migrate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// backupName is the backup's name for a file and a moment: .env becomes
// .env.20260315T142233Z.bak (UTC), which the repository's .gitignore covers.
func backupName(base string, t time.Time, n int) string {
	stamp := t.UTC().Format("20060102T150405Z")
	if n > 1 {
		stamp += fmt.Sprintf("-%d", n)
	}
	return base + "." + stamp + ".bak"
}

// createBackup writes data to a new file next to path, readable by its owner
// only from the moment it exists, and synced before it returns. It never
// replaces a file: a name already taken gets a counter.
func createBackup(path string, data []byte, t time.Time) (string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	for n := 1; n <= 100; n++ {
		name := filepath.Join(dir, backupName(base, t, n))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		err = writeAndSync(f, data, 0o600)
		if err == nil {
			err = syncDir(dir)
		}
		if err != nil {
			os.Remove(name)
			return "", err
		}
		return name, nil
	}
	return "", fmt.Errorf("every backup name for %s at %s is taken", path, t.UTC().Format(time.RFC3339))
}

// replaceFile puts content in place of path atomically: a temporary file in
// the same folder, given mode, written and synced, then renamed over path,
// provided path still holds original. replaced reports whether the rename
// happened (it did when only the final directory sync failed).
func replaceFile(path string, original, content []byte, mode fs.FileMode) (replaced bool, err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".migrate-*")
	if err != nil {
		return false, err
	}
	tmp := f.Name()
	defer func() {
		if !replaced {
			os.Remove(tmp)
		}
	}()
	if err := writeAndSync(f, content, mode); err != nil {
		return false, err
	}
	cur, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	if string(cur) != string(original) {
		return false, errors.New("the file changed while startsvc was rewriting it; run the command again")
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, err
	}
	if err := syncDir(dir); err != nil {
		return true, fmt.Errorf("the new file is in place but may not survive a power loss: %w", err)
	}
	return true, nil
}

// writeAndSync sets f's mode exactly (a umask only removes bits), writes
// data, syncs and closes f.
func writeAndSync(f *os.File, data []byte, mode fs.FileMode) error {
	err := f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a new name in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}
