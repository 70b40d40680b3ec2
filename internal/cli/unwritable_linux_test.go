package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

// readOnlyMount mounts a small tmpfs on a new directory, remounted read-only
// by the returned function, and unmounted when t ends. File permissions
// cannot make a directory unwritable for root; a read-only mount can. The
// test is skipped, saying why, where mounting is not permitted.
func readOnlyMount(t *testing.T) (dir string, makeReadOnly func()) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "stack")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m,mode=0755"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): the unwritable stack directory case needs a read-only mount, "+
			"because file permissions do not stop root", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount the test's tmpfs: %v", err)
		}
	})
	return dir, func() {
		t.Helper()
		if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			t.Fatalf("remount the stack directory read-only: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "probe"), nil, 0o600); err == nil {
			t.Fatal("the read-only stack directory still takes new files")
		}
	}
}

// TestUnwritableStackDirectory: a stack directory that became read-only after
// the project was started leaves startsvc no place for its hand-over file.
// That must be found before anything changes: a documented exit code, a
// message naming the path, and the running container left as it was. With
// --secrets-via env nothing is written, so the same directory works.
func TestUnwritableStackDirectory(t *testing.T) {
	testenv.BuildFixtureImage(t)
	dir, makeReadOnly := readOnlyMount(t)
	writeFiles(t, dir, hostileFiles())
	srv := faultServer(t, false)
	env := identityEnv(srv.URL, faultClientSecret)
	project := testenv.ProjectName(t)

	if r := startsvc(t, env, "up", "-C", dir, "-p", project); r.code != 0 {
		t.Fatalf("the first up exited %d:\n%s", r.code, r.out)
	}
	before := containerOf(t, project, "base")
	makeReadOnly()

	r := startsvc(t, env, "up", "-C", dir, "-p", project)
	if r.code != 2 {
		t.Errorf("exit %d, want 2 (a configuration error found before anything changed):\n%s", r.code, r.out)
	}
	if want := filepath.Join(dir, secrets.FileName); !strings.Contains(r.out, want) && !strings.Contains(r.out, dir+":") {
		t.Errorf("the error does not name the stack directory or %s:\n%s", secrets.FileName, r.out)
	}
	if !regexp.MustCompile(`read-only file system`).MatchString(r.out) {
		t.Errorf("the error does not say why the path cannot be written:\n%s", r.out)
	}
	assertNoValues(t, r.out, faultValues)
	if strings.Contains(r.out, hostileToken) {
		t.Errorf("the output shows the value of API_TOKEN")
	}
	if got, err := testenv.Services(project, true); err != nil || len(got) != 1 {
		t.Errorf("after the failed up the project has containers %v (%v), want base still there", got, err)
	} else if after := containerOf(t, project, "base"); after != before {
		t.Errorf("the failed up changed the running container: before %+v, after %+v", before, after)
	}

	r = startsvc(t, env, "up", "-C", dir, "-p", project, "--secrets-via", "env")
	if r.code != 0 {
		t.Errorf("with --secrets-via env, which writes nothing, up exited %d:\n%s", r.code, r.out)
	}
	got, err := testenv.ContainerEnv(project, "base")
	if err != nil {
		t.Fatal(err)
	}
	if got["API_TOKEN"] != hostileToken {
		t.Errorf("API_TOKEN did not reach the container through the environment")
	}
}
