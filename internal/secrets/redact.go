package secrets

import (
	"bytes"
	"io"
	"sort"
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
	known map[string]bool
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

// Add makes r mask values too, and each line of a multi-line value. It only
// records them: the matcher is built when text is next masked.
func (r *Redactor) Add(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.known == nil {
		r.known = map[string]bool{}
	}
	add := func(v string) {
		if len(v) >= MinMasked && !r.known[v] {
			r.known[v] = true
			r.list = append(r.list, v)
			r.max = max(r.max, len(v))
			r.dirty = true
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

// String masks every known value in s.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	r.mu.Lock()
	rep := r.replacer()
	r.mu.Unlock()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
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
