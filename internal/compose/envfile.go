package compose

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/template"
)

// Lookup resolves a variable that an env file references (${X}) but does not define.
type Lookup func(key string) (string, bool)

// ReadEnvFile parses an env file with compose-go's own parser, the one compose v2
// uses for --env-file, so every value means exactly what compose will read.
// Variables the file references resolve through lookup first, then through keys
// defined earlier in the file, as in compose. Errors name the file and line.
func ReadEnvFile(path string, lookup Lookup) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	return ParseEnv(path, data, lookup)
}

// ParseEnv is ReadEnvFile for bytes already read; name is used in errors.
func ParseEnv(name string, data []byte, lookup Lookup) (map[string]string, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	vals, err := dotenv.ParseWithLookup(bytes.NewReader(data), dotenv.LookupFn(lookup))
	if err != nil {
		return nil, fmt.Errorf("env file %s: %w", name, withoutValues(data, err))
	}
	for _, k := range sortedKeys(vals) {
		if err := CheckValue(k, vals[k]); err != nil {
			return nil, fmt.Errorf("env file %s: %w", name, err)
		}
	}
	return vals, nil
}

var (
	unterminated = regexp.MustCompile(`(?s)^line (\d+): unterminated quoted value (.*)$`)
	badKeyChar   = regexp.MustCompile(`(?s)^line (\d+): unexpected character ("[^"]*"|'[^']*'|\S+) in variable name`)
)

// withoutValues rewrites compose-go's parse errors, some of which quote the
// offending line (a value, possibly a secret), to say what and where only.
func withoutValues(data []byte, err error) error {
	var invalid template.InvalidTemplateError
	var invalidPtr *template.InvalidTemplateError
	if errors.As(err, &invalid) || errors.As(err, &invalidPtr) {
		const what = "has an invalid ${...} reference (write a literal $ as $$)"
		if line, key := locateTemplateError(data); line > 0 {
			return fmt.Errorf("line %d: the value of %s %s", line, key, what)
		}
		return errors.New("a value " + what)
	}
	if m := badKeyChar.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("line %s: unexpected character %s in a variable name", m[1], m[2])
	}
	return openingLine(data, err)
}

// locateTemplateError finds the line and key of the first value with an
// invalid ${...} reference, which compose-go reports without either. It
// parses ever longer prefixes of the file, ending at a line's end: the first
// prefix that fails that way ends with the faulty value (found by bisection,
// since a longer prefix fails the same way); the value starts at the nearest
// line above that assigns a key and before which the file parses cleanly. It
// returns 0 and "" when it cannot tell.
func locateTemplateError(data []byte) (line int, key string) {
	var ends []int // ends[i] is the offset just after line i+1
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	parse := func(n int) error { // the first n lines
		if n == 0 {
			return nil
		}
		_, err := dotenv.ParseWithLookup(bytes.NewReader(data[:ends[n-1]]), func(string) (string, bool) { return "", false })
		return err
	}
	isTemplate := func(err error) bool {
		var invalid template.InvalidTemplateError
		var invalidPtr *template.InvalidTemplateError
		return err != nil && (errors.As(err, &invalid) || errors.As(err, &invalidPtr))
	}
	lo, hi := 1, len(ends)
	if !isTemplate(parse(hi)) {
		return 0, ""
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if isTemplate(parse(mid)) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	lines := strings.Split(string(data), "\n")
	for n := lo; n >= 1; n-- {
		m := assignment.FindStringSubmatch(lines[n-1])
		if m != nil && parse(n-1) == nil {
			return n, m[1]
		}
	}
	return 0, ""
}

// assignment is a line that starts a KEY=value entry.
var assignment = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=`)

// openingLine rewrites compose-go's "unterminated quoted value" error, which
// counts the line where the file ended, to name the line where the quote opened.
// The quoted fragment itself is not repeated: it may be part of a secret.
func openingLine(data []byte, err error) error {
	m := unterminated.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	end, _ := strconv.Atoi(m[1])
	frag := m[2]
	line := 0
	for i, l := range strings.Split(string(data), "\n") {
		if i+1 > end {
			break
		}
		if strings.Contains(l, frag) {
			line = i + 1
		}
	}
	if line == 0 {
		return fmt.Errorf("line %d: unterminated quoted value", end)
	}
	return fmt.Errorf("line %d: quoted value is never closed", line)
}

// CheckValue reports values that no channel to compose carries exactly:
// NUL bytes and invalid UTF-8. The error names the key, never the value.
func CheckValue(key, value string) error {
	if !utf8.ValidString(value) {
		return fmt.Errorf("variable %q: value is not valid UTF-8, which compose cannot pass on unchanged", key)
	}
	if strings.IndexByte(value, 0) >= 0 {
		return fmt.Errorf("variable %q: value contains a NUL byte, which no environment can carry", key)
	}
	return nil
}

// CheckKey reports names that compose's env-file parser would read differently.
func CheckKey(key string) error {
	if key == "" {
		return errors.New("empty variable name")
	}
	for i, r := range key {
		ok := r == '_' || r == '.' || r == '-' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("variable name %q cannot be written to an env file", key)
		}
	}
	if key == "export" {
		return fmt.Errorf("variable name %q cannot be written to an env file", key)
	}
	return nil
}

// FormatEnv writes values in compose v2's env-file dialect, one KEY="value" line
// each in key order, with exactly the escapes compose-go decodes: \ " $ LF CR.
// Header lines, if any, are written first as comments. It refuses values and
// keys that cannot round-trip, naming the key.
func FormatEnv(values map[string]string, header ...string) ([]byte, error) {
	var b bytes.Buffer
	for _, h := range header {
		b.WriteString("# ")
		b.WriteString(h)
		b.WriteByte('\n')
	}
	for _, k := range sortedKeys(values) {
		if err := CheckKey(k); err != nil {
			return nil, err
		}
		v := values[k]
		if err := CheckValue(k, v); err != nil {
			return nil, err
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(QuoteValue(v))
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// QuoteValue writes one value in compose v2's env-file dialect: in double quotes,
// with exactly the escapes compose-go decodes (\ " $ LF CR), so that compose
// reads back every byte.
func QuoteValue(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '$':
			b.WriteString(`$$`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// VerifyEnv re-reads data with compose-go's parser, with no variable lookup at
// all, and checks that it yields exactly want. The error names the first key
// that differs, never a value.
func VerifyEnv(data []byte, want map[string]string) error {
	got, err := dotenv.ParseWithLookup(bytes.NewReader(data), nil)
	if err != nil {
		return fmt.Errorf("re-read generated env file: %w", err)
	}
	for _, k := range sortedKeys(want) {
		g, ok := got[k]
		if !ok {
			return fmt.Errorf("re-read generated env file: variable %q is missing", k)
		}
		if g != want[k] {
			return fmt.Errorf("re-read generated env file: variable %q does not read back as written", k)
		}
	}
	if len(got) != len(want) {
		for k := range got {
			if _, ok := want[k]; !ok {
				return fmt.Errorf("re-read generated env file: unexpected variable %q", k)
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
