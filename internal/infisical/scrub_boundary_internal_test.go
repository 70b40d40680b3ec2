package infisical

import "testing"

// TestScrubLengthBoundary: a credential of 4 bytes or more is removed from a
// server's message, the same rule as the output masker; a shorter string is
// left alone, or every "a" in a message would go.
func TestScrubLengthBoundary(t *testing.T) {
	for _, tc := range []struct {
		name, known, msg, want string
	}{
		{"4 bytes, at the minimum", "k3y9", "identity k3y9 not found", "identity [redacted] not found"},
		{"5 bytes", "k3y9z", "identity k3y9z not found", "identity [redacted] not found"},
		{"3 bytes, below it", "k3y", "identity k3y not found", "identity k3y not found"},
		{"empty", "", "identity not found", "identity not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := scrub(tc.msg, tc.known); got != tc.want {
				t.Errorf("scrub of a %d-byte credential = %q, want %q", len(tc.known), got, tc.want)
			}
		})
	}
}
