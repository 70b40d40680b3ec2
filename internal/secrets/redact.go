package secrets

import (
	"bytes"
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Mask is what a secret value is replaced with in output.
const Mask = "*****"

// MinMasked is the length in bytes of the shortest value that is masked (a
// 4-digit PIN is): shorter ones ("1", "on", "yes") would blank out ordinary
// words and tell nobody anything.
const MinMasked = 4

// Redactor masks known values in text. The zero value masks nothing. It is safe
// for concurrent use.
type Redactor struct {
	mu    sync.Mutex
	known map[string]int // value -> the generation that last added it
	gen   int
	list  []string // every known value, longest first once built
	rep   *strings.Replacer
	dirty bool // values were added since rep was built
	max   int
}

// NewRedactor returns a redactor for values (and for each line of a multi-line value).
func NewRedactor(values ...string) *Redactor {
	r := &Redactor{}
	r.Add(values...)
	return r
}

// Add makes r mask values too, and each line of a multi-line value, in every
// form output can carry them: as they are, and escaped as Go's %q and %+q and
// as JSON strings (with and without HTML escaping) write them — compose, the
// Engine and the programs in containers print values those ways. It only
// records them: the matcher is built when text is next masked.
func (r *Redactor) Add(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.known == nil {
		r.known = map[string]int{}
	}
	record := func(v string) {
		if len(v) < MinMasked {
			return
		}
		if _, ok := r.known[v]; !ok {
			r.list = append(r.list, v)
			r.max = max(r.max, len(v))
			r.dirty = true
		}
		r.known[v] = r.gen
	}
	add := func(v string) {
		record(v)
		if len(v) >= MinMasked && needsEscape(v) {
			for _, e := range escapedForms(v) {
				record(e)
			}
		}
	}
	for _, v := range values {
		add(v)
		if strings.ContainsAny(v, "\r\n") {
			for _, line := range strings.FieldsFunc(v, func(c rune) bool { return c == '\n' || c == '\r' }) {
				add(line)
			}
		}
	}
}

// NextGeneration starts a new generation of values and returns it: values
// added from now on (again, for ones already known) belong to it. A
// long-running caller (watch) uses generations to keep the set bounded.
func (r *Redactor) NextGeneration() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	return r.gen
}

// ForgetBefore stops masking the values no generation since g added: values
// that no longer exist anywhere (a secret rotated twice since). It never
// forgets a value added in generation g or later.
func (r *Redactor) ForgetBefore(g int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.list[:0]
	r.max = 0
	for _, v := range r.list {
		if r.known[v] < g {
			delete(r.known, v)
			continue
		}
		kept = append(kept, v)
		r.max = max(r.max, len(v))
	}
	clear(r.list[len(kept):])
	r.list = kept
	r.dirty = true
}

// Len is how many values (escaped forms and lines included) r masks.
func (r *Redactor) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.list)
}

// needsEscape reports whether some quoting (Go's %q or %+q, JSON) would write
// v differently: it holds a control character, a quote, a backslash, a byte
// outside ASCII, or one of the characters JSON escapes for HTML.
func needsEscape(v string) bool {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c < 0x20, c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return true
		}
	}
	return false
}

// escapedForms is v as Go's %q and %+q and JSON (HTML-escaped and not) write
// it inside their quotes. For the common case — printable ASCII, quotes,
// backslashes, tabs and line breaks — all four agree but for HTML's < > &,
// and only Go's form is computed.
func escapedForms(v string) []string {
	inner := func(q []byte) string { return string(q[1 : len(q)-1]) }
	goForm := inner(strconv.AppendQuote(make([]byte, 0, len(v)+8), v))
	plain, html := true, false
	for i := 0; i < len(v) && plain; i++ {
		c := v[i]
		plain = (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\r' || c == '\t'
		html = html || c == '<' || c == '>' || c == '&'
	}
	if plain && !html {
		return []string{goForm}
	}
	forms := []string{goForm}
	if !plain {
		forms = append(forms, inner(strconv.AppendQuoteToASCII(nil, v)))
	}
	for _, escapeHTML := range []bool{true, false} {
		if !escapeHTML && plain {
			continue // the same as Go's form
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(escapeHTML)
		if enc.Encode(v) == nil {
			forms = append(forms, inner(bytes.TrimSuffix(b.Bytes(), []byte("\n"))))
		}
	}
	return forms
}

// replacer returns the matcher for the known values, building it if values
// were added since. r.mu must be held.
func (r *Redactor) replacer() *strings.Replacer {
	if r.dirty {
		// Longest first, so that a value containing another is masked whole.
		sort.Slice(r.list, func(i, j int) bool { return len(r.list[i]) > len(r.list[j]) })
		pairs := make([]string, 0, 2*len(r.list))
		for _, v := range r.list {
			pairs = append(pairs, v, Mask)
		}
		r.rep = strings.NewReplacer(pairs...)
		r.dirty = false
	}
	return r.rep
}

// scanLimit is the longest text String checks value by value, rather than
// building its matcher, while the matcher is out of date: building it for
// 10,000 values costs milliseconds; checking a one-line message against them,
// a small part of that. A text that holds a value builds it all the same.
const scanLimit = 256

// String masks every known value in s.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	r.mu.Lock()
	if r.dirty && len(s) <= scanLimit && !r.holdsAny(s) {
		r.mu.Unlock()
		return s
	}
	rep := r.replacer()
	r.mu.Unlock()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}

// holdsAny reports whether s contains a known value. r.mu must be held.
func (r *Redactor) holdsAny(s string) bool {
	for _, v := range r.list {
		if len(v) <= len(s) && strings.Contains(s, v) {
			return true
		}
	}
	return false
}

// Writer returns a writer that masks known values in what is written to w. It
// passes on whole lines only (a value split across two writes is still masked)
// and holds at most one partial line; Close writes that out. Closing does not
// close w.
func (r *Redactor) Writer(w io.Writer) io.WriteCloser {
	return &redactWriter{r: r, w: w}
}

type redactWriter struct {
	mu  sync.Mutex
	r   *Redactor
	w   io.Writer
	buf []byte
}

func (rw *redactWriter) Write(p []byte) (int, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.buf = append(rw.buf, p...)
	i := bytes.LastIndexAny(rw.buf, "\n\r")
	if i < 0 {
		// A line that never ends must not grow without bound; pass on what cannot
		// hold the start of a value.
		if limit := 64 << 10; len(rw.buf) > limit {
			cut := rw.r.safeCut(rw.buf)
			if _, err := io.WriteString(rw.w, rw.r.String(string(rw.buf[:cut]))); err != nil {
				return 0, err
			}
			rw.buf = append(rw.buf[:0], rw.buf[cut:]...)
		}
		return len(p), nil
	}
	out := rw.r.String(string(rw.buf[:i+1]))
	rw.buf = append(rw.buf[:0], rw.buf[i+1:]...)
	if _, err := io.WriteString(rw.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (rw *redactWriter) Close() error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if len(rw.buf) == 0 {
		return nil
	}
	_, err := io.WriteString(rw.w, rw.r.String(string(rw.buf)))
	rw.buf = rw.buf[:0]
	return err
}

// safeCut returns an index of buf before which text can be masked and passed on
// without splitting a known value: no occurrence of a value straddles it, and
// what follows it is shorter than the longest value.
func (r *Redactor) safeCut(buf []byte) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	cut := len(buf) - r.max
	if cut <= 0 {
		return 0
	}
	for moved := true; moved && cut > 0; {
		moved = false
		for _, v := range r.list {
			lo := max(cut-len(v)+1, 0)
			hi := min(cut+len(v)-1, len(buf))
			if i := bytes.Index(buf[lo:hi], []byte(v)); i >= 0 && lo+i < cut {
				cut = lo + i
				moved = true
			}
		}
	}
	return cut
}
