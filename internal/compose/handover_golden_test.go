package compose_test

import (
	"bytes"
	"flag"
	"regexp"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// hostileValues are the shared hostile values plus the empty one.
func hostileValues() map[string]string {
	m := map[string]string{"EMPTY": ""}
	for k, v := range testenv.Hostile {
		m[k] = v
	}
	return m
}

// oneLine is a KEY="value" line with nothing after the closing quote.
var oneLine = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*="(?:[^"\\]|\\.)*"$`)

// TestHandoverFileBytes pins, byte for byte, the hand-over file startsvc gives
// compose for the hostile values: its header (how the next run recognises a
// file left by a killed one) and the exact escapes of compose v2's dialect
// (\\ \" $$ \n \r, nothing else). A writer that still round-trips through
// compose-go but writes differently — a raw line break, \$ for $ — fails here.
func TestHandoverFileBytes(t *testing.T) {
	values := hostileValues()
	data, err := compose.FormatEnv(values, secrets.Header()...)
	if err != nil {
		t.Fatalf("FormatEnv: %v", err)
	}
	testenv.Golden(t, *update, "handover-hostile.env.golden", data)

	// What line-based readers (docker run --env-file, grep, a diff) need,
	// whatever the golden file says: one line per variable, in key order.
	if bytes.ContainsRune(data, '\r') {
		t.Error("a raw carriage return in the file")
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	header := secrets.Header()
	if len(lines) != len(header)+len(values) {
		t.Fatalf("%d lines for %d header lines and %d variables: a value spans lines", len(lines), len(header), len(values))
	}
	for i, h := range header {
		if lines[i] != "# "+h {
			t.Errorf("line %d is not the header line %d", i+1, i+1)
		}
	}
	prev := ""
	for i, l := range lines[len(header):] {
		key, _, _ := strings.Cut(l, "=")
		if !oneLine.MatchString(l) {
			t.Errorf("line %d (%s) is not one KEY=\"value\" line", len(header)+i+1, key)
		}
		if key <= prev {
			t.Errorf("line %d: %s after %s, want key order", len(header)+i+1, key, prev)
		}
		prev = key
	}
	if err := compose.VerifyEnv(data, values); err != nil {
		t.Error(err)
	}
}

// TestQuoteValueEscapesExactly pins each escape on its own, so that a failure
// names the character.
func TestQuoteValueEscapesExactly(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"backslash", `a\b`, `"a\\b"`},
		{"double quote", `a"b`, `"a\"b"`},
		{"dollar", `a$b`, `"a$$b"`},
		{"line feed", "a\nb", `"a\nb"`},
		{"carriage return", "a\rb", `"a\rb"`},
		{"single quote is literal", `a'b`, `"a'b"`},
		{"tab is literal", "a\tb", "\"a\tb\""},
		{"hash is literal", `a #b`, `"a #b"`},
		{"backtick and bang are literal", "`x`!", "\"`x`!\""},
		{"unicode is literal", "päss ✓", `"päss ✓"`},
		{"empty", "", `""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := compose.QuoteValue(tc.in); got != tc.want {
				t.Errorf("QuoteValue = %s, want %s", got, tc.want)
			}
		})
	}
}
