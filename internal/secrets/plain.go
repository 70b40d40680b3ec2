package secrets

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// ShouldMask reports whether the value of a variable must be masked in
// output: when its name or shape says it is a secret (LooksSecret), and
// otherwise whenever it is MinMasked bytes or longer and not plainly a
// setting (Plain). An unknown value errs on the side of masking: a webhook URL
// or a DSN under an innocent name is a secret all the same.
func ShouldMask(key, value string) bool {
	return LooksSecret(key, value) || (len(value) >= MinMasked && !Plain(value))
}

// MaskedEnv returns the values of a KEY=VALUE environment that ShouldMask
// says to mask, leaving out the names startsvc never passes on as values of
// its own (Reserved), compose's own settings, and the values in shown: what
// startsvc prints openly anyway, such as the project's name (sst-9f3a3893
// looks generated, and is in every line compose prints).
func MaskedEnv(env []string, shown ...string) []string {
	var out []string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if Reserved(k) || strings.HasPrefix(k, "COMPOSE_") || slices.Contains(shown, v) {
			continue
		}
		if ShouldMask(k, v) {
			out = append(out, v)
		}
	}
	return out
}

var (
	flagWord    = regexp.MustCompile(`(?i)^(true|false|yes|no|on|off|enabled?|disabled?|none|null)$`)
	email       = regexp.MustCompile(`^[a-z0-9._+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$`)
	numberUnit  = regexp.MustCompile(`^[0-9]{1,8}[a-z]{1,3}$`)
	pathValue   = regexp.MustCompile(`^(/|\./|\.\./|~/)[A-Za-z0-9._/~-]*$`)
	randomShape = regexp.MustCompile(`[A-Za-z0-9]{20,}`)
)

// Plain reports whether a value is plainly a setting rather than a secret:
// a flag (true, off, …); a number, with a unit or not (5432, 512m, 10s); a
// file path; or text made only of words, host names, e-mail addresses and
// URLs without credentials — lower-case, capitalised or short upper-case
// words with at most two digits each, numbers of up to 8 digits, joined by
// spaces and . _ - / : , only. Anything else — a query string, a password in
// a URL, mixed case with digits (T0ABCDEF, a token), long runs of digits or
// of letters that do not read as a word — is not plain.
func Plain(v string) bool {
	switch {
	case v == "" || flagWord.MatchString(v) || email.MatchString(v):
		return true
	case pathValue.MatchString(v):
		// A path, unless a part of it looks generated (a token in a URL path).
		return !randomShape.MatchString(mixedOnly(v))
	}
	if i := strings.Index(v, "://"); i >= 0 {
		host, _, _ := strings.Cut(v[i+3:], "/")
		if strings.Contains(host, "@") {
			return false // user or password in the URL
		}
	}
	run := 0
	for i, r := range v {
		alnum := r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))
		if alnum {
			run++
			if i+1 < len(v) {
				continue
			}
			i++ // the run ends with the value
		} else if !strings.ContainsRune(" ._-/:,", r) {
			return false
		}
		if run > 0 && !plainWord(v[i-run:i]) {
			return false
		}
		run = 0
	}
	return true
}

// mixedOnly keeps the parts of a path that mix letters and digits, so that
// randomShape finds only generated-looking parts, not long plain names.
func mixedOnly(p string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(p, func(r rune) bool { return strings.ContainsRune("/._-~", r) }) {
		if strings.ContainsAny(part, "0123456789") && strings.IndexFunc(part, unicode.IsLetter) >= 0 {
			b.WriteString(part)
		}
		b.WriteByte(' ')
	}
	return b.String()
}

// plainWord is one run of ASCII letters and digits of a plain value.
func plainWord(w string) bool {
	digits, upper, lower := 0, 0, 0
	for _, r := range w {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r >= 'A' && r <= 'Z':
			upper++
		default:
			lower++
		}
	}
	letters := upper + lower
	switch {
	case letters == 0:
		return digits <= 8
	case numberUnit.MatchString(w):
		return true
	case digits > 2:
		return false
	case upper == 0:
		return lower <= 8 || (lower <= 16 && readable(w))
	case lower == 0:
		return digits == 0 && upper <= 8
	default: // Capitalised
		return digits == 0 && w[0] >= 'A' && w[0] <= 'Z' && upper == 1 && letters <= 16
	}
}

// readable reports whether a long lower-case word reads as one: it has vowels
// and no run of five consonants, which random letters rarely avoid.
func readable(w string) bool {
	vowels, run := 0, 0
	for _, r := range w {
		if strings.ContainsRune("aeiouy", r) {
			vowels++
			run = 0
			continue
		}
		if r >= 'a' && r <= 'z' {
			if run++; run >= 5 {
				return false
			}
		}
	}
	return vowels > 0
}
