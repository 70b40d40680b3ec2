package compose

import (
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/testenv"
)

// hostile adds the empty value to the shared hostile set.
var hostile = func() map[string]string {
	m := map[string]string{"EMPTY": ""}
	for k, v := range testenv.Hostile {
		m[k] = v
	}
	return m
}()

func TestFormatEnvRoundTrip(t *testing.T) {
	data, err := FormatEnv(hostile, "a header line")
	if err != nil {
		t.Fatalf("FormatEnv: %v", err)
	}
	if err := VerifyEnv(data, hostile); err != nil {
		t.Fatalf("VerifyEnv: %v", err)
	}
	got, err := ParseEnv("generated", data, func(string) (string, bool) { return "SHOULD-NOT-BE-USED", true })
	if err != nil {
		t.Fatalf("ParseEnv: %v", err)
	}
	for k, want := range hostile {
		if got[k] != want {
			t.Errorf("%s does not read back as written", k)
		}
	}
	if !strings.HasPrefix(string(data), "# a header line\n") {
		t.Errorf("header missing")
	}
}

func TestFormatEnvRefusesWhatCannotRoundTrip(t *testing.T) {
	for name, vals := range map[string]map[string]string{
		"NUL byte":       {"K": "a\x00b"},
		"invalid UTF-8":  {"K": "a\xffb"},
		"space in name":  {"MY KEY": "v"},
		"digit first":    {"1KEY": "v"},
		"equals in name": {"A=B": "v"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := FormatEnv(vals)
			if err == nil {
				t.Fatal("FormatEnv accepted it")
			}
			if strings.Contains(err.Error(), "a\x00b") || strings.Contains(err.Error(), "a\xffb") {
				t.Errorf("error shows the value: %v", err)
			}
		})
	}
}

func TestVerifyEnvNamesTheKeyNotTheValue(t *testing.T) {
	err := VerifyEnv([]byte("K=\"wrong-value\"\n"), map[string]string{"K": "right-value"})
	if err == nil || !strings.Contains(err.Error(), `"K"`) {
		t.Fatalf("want an error naming K, got %v", err)
	}
	if strings.Contains(err.Error(), "value\"") || strings.Contains(err.Error(), "right-value") || strings.Contains(err.Error(), "wrong-value") {
		t.Errorf("error shows a value: %v", err)
	}
}

func TestParseEnvErrorsNameLineNotValue(t *testing.T) {
	cases := []struct {
		name, data, want string
	}{
		{"unterminated quote", "A=1\n# c\nB=\"s3cr3t-never-closed\nC=2\n", "line 3: quoted value is never closed"},
		{"bad key character", "A=1\nB$X=s3cr3t-value\n", "line 2: unexpected character"},
		{"bad reference", "A=\"${s3cr3t-value\"\n", "line 1: the value of A has an invalid ${...} reference"},
		{"bad reference unquoted, further down", "A=1\n# note\n\nexport B=2\nKEY=x${oops\nC=3\n", "line 5: the value of KEY has an invalid"},
		{"bad reference in a value spanning lines", "A=1\nML=\"first line\nsecond ${oops line\"\nC=3\n", "line 2: the value of ML has an invalid"},
		{"space in key", "MY KEY=s3cr3t-value\n", "key cannot contain a space"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseEnv(".env", []byte(c.data), nil)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error shows the value: %v", err)
			}
		})
	}
}

func TestParseEnvLookupOrder(t *testing.T) {
	data := []byte("A=file\nB=${A}\nC=${SHELL_ONLY}\nD=${UNSET:-dflt}\n")
	got, err := ParseEnv(".env", data, func(k string) (string, bool) {
		if k == "SHELL_ONLY" {
			return "shell", true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "file", "B": "file", "C": "shell", "D": "dflt"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// FuzzFormatEnv checks that whatever value the writer accepts, compose-go's
// parser reads back byte for byte.
func FuzzFormatEnv(f *testing.F) {
	for _, v := range hostile {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		vals := map[string]string{"KEY": v, "OTHER": "x" + v}
		data, err := FormatEnv(vals)
		if err != nil {
			if CheckValue("KEY", v) == nil {
				t.Fatalf("FormatEnv refused a representable value: %v", err)
			}
			return
		}
		if err := VerifyEnv(data, vals); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzParseEnv checks that the .env reader never panics and never puts a
// value into an error.
func FuzzParseEnv(f *testing.F) {
	f.Add("A=1\nB=\"x\"\n")
	f.Add("A='unterminated\n")
	f.Add("export A=${B:-c}\n")
	f.Fuzz(func(t *testing.T, data string) {
		_, _ = ParseEnv("fuzz.env", []byte(data), nil)
	})
}
