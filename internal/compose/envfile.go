package compose

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/dotenv"
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
		return nil, fmt.Errorf("env file %s: %w", name, err)
	}
	for _, k := range sortedKeys(vals) {
		if err := CheckValue(k, vals[k]); err != nil {
			return nil, fmt.Errorf("env file %s: %w", name, err)
		}
	}
	return vals, nil
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
		b.WriteString(`="`)
		quoteInto(&b, v)
		b.WriteString("\"\n")
	}
	return b.Bytes(), nil
}

func quoteInto(b *bytes.Buffer, v string) {
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

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
