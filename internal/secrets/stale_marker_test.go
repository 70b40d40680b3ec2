package secrets

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRemoveStaleRecognisesAFileOfThisFormat writes the first line of a
// hand-over file literally, as a run killed before this build wrote it (the
// bytes are pinned in internal/compose/testdata/handover-hostile.env.golden).
// Rewording the marker would leave such files behind, secrets and all; this
// test fails first.
func TestRemoveStaleRecognisesAFileOfThisFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	left := "# startsvc hand-over file: secrets for compose; removed when compose returns\n" +
		"# do not edit, do not commit; a run killed before it could remove this file removes it at the next start\n" +
		"API_KEY=\"left-behind-value\"\n"
	if err := os.WriteFile(path, []byte(left), 0o600); err != nil {
		t.Fatal(err)
	}
	removed, err := RemoveStale(path)
	if err != nil || !removed {
		t.Fatalf("RemoveStale = %v, %v; want the left-behind file removed", removed, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("the left-behind file is still there")
	}
}
