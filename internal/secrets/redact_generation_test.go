package secrets_test

import (
	"testing"

	"github.com/startsvc/startsvc/internal/secrets"
)

// TestRedactorGenerations: a long-running caller keeps the masked set
// bounded — values no generation since g added are forgotten, values added
// again (or for the first time) since are kept.
func TestRedactorGenerations(t *testing.T) {
	r := secrets.NewRedactor("first-secret", "shared-secret")
	g1 := r.NextGeneration()
	r.Add("second-secret", "shared-secret")
	g2 := r.NextGeneration()
	r.Add("third-secret")
	r.ForgetBefore(g1)
	if got := r.String("first-secret shared-secret second-secret third-secret"); got != "first-secret "+secrets.Mask+" "+secrets.Mask+" "+secrets.Mask {
		t.Errorf("after ForgetBefore(g1): %q", got)
	}
	r.ForgetBefore(g2)
	if got := r.String("shared-secret second-secret third-secret"); got != "shared-secret second-secret "+secrets.Mask {
		t.Errorf("after ForgetBefore(g2): %q", got)
	}
	for i := 0; i < 100; i++ {
		g := r.NextGeneration()
		r.Add("rotating-value-" + string(rune('a'+i%26)) + string(rune('a'+i/26)))
		r.ForgetBefore(g - 1)
	}
	if n := r.Len(); n > 2 {
		t.Errorf("after 100 rotations keeping two generations, %d values are masked, want at most 2", n)
	}
}
