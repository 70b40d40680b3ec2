package secrets

import (
	"bytes"
	"strings"
	"testing"
)

// maskBoth masks text with r through both ways output reaches the user:
// String (errors, config) and Writer (compose's output passed through).
func maskBoth(t *testing.T, r *Redactor, text string) (viaString, viaWriter string) {
	t.Helper()
	var out bytes.Buffer
	w := r.Writer(&out)
	if _, err := w.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return r.String(text), out.String()
}

// TestRedactorLengthBoundary pins the rule the README states: a value of 4
// bytes or more is masked wherever it appears, a shorter one never is. A
// 4-digit PIN is the case users rely on.
func TestRedactorLengthBoundary(t *testing.T) {
	for _, tc := range []struct {
		name   string
		value  string
		masked bool
	}{
		{"4-digit PIN, at the minimum", "4711", true},
		{"5 characters, above it", "s3cr3", true},
		{"3 characters, below it", "abc", false},
		{"1 character", "7", false},
		// The rule counts bytes: two characters that take 5 bytes are masked.
		{"2 non-ASCII characters of 5 bytes", "é€", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "before " + tc.value + " after\n"
			want := text
			if tc.masked {
				want = "before " + Mask + " after\n"
			}
			for _, r := range []*Redactor{NewRedactor(tc.value), addedLater(tc.value)} {
				s, w := maskBoth(t, r, text)
				if s != want || w != want {
					// The value is a test fixture, not a secret: say its length only anyway.
					t.Errorf("a %d-byte value: masked %v by String, %v by Writer; want %v",
						len(tc.value), s != text, w != text, tc.masked)
				}
			}
		})
	}
}

func addedLater(v string) *Redactor {
	r := NewRedactor()
	r.Add(v)
	return r
}

// TestRedactorLinesOfAMultiLineValue: each line of a multi-line value is a
// value of its own (compose and the Engine print logs line by line), and the
// same length rule applies to each line.
func TestRedactorLinesOfAMultiLineValue(t *testing.T) {
	r := NewRedactor("ab\r\n1234\nxyz\nlong-line-of-a-key")
	text := "log: ab\nlog: 1234\nlog: xyz\nlog: long-line-of-a-key\n"
	want := "log: ab\nlog: " + Mask + "\nlog: xyz\nlog: " + Mask + "\n"
	s, w := maskBoth(t, r, text)
	for how, got := range map[string]string{"String": s, "Writer": w} {
		gotLines, wantLines := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range wantLines {
			if i >= len(gotLines) || gotLines[i] != wantLines[i] {
				// Name the line, not its text: it may hold the value.
				t.Errorf("%s: line %d is not masked as the length rule says", how, i+1)
			}
		}
	}
	// The whole value, where it appears in one piece, is one mask.
	whole := "ab\r\n1234\nxyz\nlong-line-of-a-key"
	if got := r.String("[" + whole + "]"); got != "["+Mask+"]" {
		t.Errorf("the whole multi-line value is not masked as one (%d masks)", strings.Count(got, Mask))
	}
}

// TestRedactorNilAndEmpty: a nil redactor passes text on; an empty value
// masks nothing (it would otherwise match between every two characters).
func TestRedactorNilAndEmpty(t *testing.T) {
	var nilR *Redactor
	if got := nilR.String("text 4711"); got != "text 4711" {
		t.Errorf("nil redactor changed text: %q", got)
	}
	if got := NewRedactor("").String("text"); got != "text" {
		t.Errorf("an empty value changed text: %q", got)
	}
	if strings.Contains(NewRedactor("4711").String("a4711b"), "4711") {
		t.Error("a value inside a word is not masked")
	}
}
