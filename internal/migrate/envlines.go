package migrate

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// statement is one assignment of an env file: the bytes it spans, so that it
// can be dropped without touching anything else.
type statement struct {
	Key string
	// Start and End are byte offsets in the file: [Start, End). End is after
	// the statement's newline, except for a statement that began mid-line.
	Start, End  int
	FirstLineNo int // 1-based
	// Inherited is a bare KEY line: compose takes the value from its
	// environment, and the file itself holds none.
	Inherited bool
}

// scanStatements finds the assignments of an env file with the statement rules
// of compose-go's parser: blank space and comment lines are skipped; an
// optional "export "; KEY= or KEY:, or a bare KEY; a value that starts with a
// quote runs to the matching unescaped quote, possibly over several lines; any
// other value ends at the line's end. After a closing quote, the rest of the
// line belongs to the statement when it is blank or a comment; otherwise
// compose-go reads it as the next statement, and so does the scanner, which
// then starts that statement in the middle of the line.
//
// It locates statements only — values are read with compose-go — and the
// caller verifies the result by parsing it again.
func scanStatements(src string) []statement {
	var out []statement
	pos, line := 0, 1
	midLine := false // the previous statement ended before its line did
	for pos < len(src) {
		// Skip blank space (compose-go skips every Unicode space here).
		for pos < len(src) {
			r, n := utf8.DecodeRuneInString(src[pos:])
			if !unicode.IsSpace(r) {
				break
			}
			if r == '\n' {
				line++
				midLine = false
			}
			pos += n
		}
		if pos >= len(src) {
			break
		}
		if src[pos] == '#' {
			end := strings.IndexByte(src[pos:], '\n')
			if end < 0 {
				break
			}
			pos += end + 1
			line++
			midLine = false
			continue
		}
		st := statement{Start: strings.LastIndexByte(src[:pos], '\n') + 1, FirstLineNo: line}
		inLine := midLine
		if inLine {
			st.Start = pos
		}
		midLine = false
		rest := src[pos:]
		if after, ok := strings.CutPrefix(rest, "export"); ok && after != "" && isLineSpace(after[0]) {
			rest = strings.TrimLeftFunc(after, isSpace)
		}
		keyEnd := strings.IndexAny(rest, "=:\n")
		if keyEnd < 0 {
			keyEnd = len(rest)
		}
		st.Key = strings.TrimSpace(rest[:keyEnd])
		pos = len(src) - len(rest) + keyEnd
		st.Inherited = pos >= len(src) || src[pos] == '\n'
		if !st.Inherited {
			pos++ // past = or :
			for pos < len(src) && isLineSpace(src[pos]) {
				pos++
			}
			if pos < len(src) && (src[pos] == '"' || src[pos] == '\'') {
				pos = endOfQuoted(src, pos, &line)
				// A statement after the closing quote, on the same line, is
				// compose-go's next statement.
				next := pos
				for next < len(src) && isLineSpace(src[next]) {
					next++
				}
				if next < len(src) && src[next] != '\n' && src[next] != '#' {
					st.End = next
					out = append(out, st)
					pos, midLine = next, true
					continue
				}
			}
		}
		// The rest of the line (an inline comment, trailing space) belongs to
		// it, and so does the newline unless the statement began mid-line: the
		// statement before it on the line keeps its line break.
		if end := strings.IndexByte(src[pos:], '\n'); end >= 0 && inLine {
			pos += end
		} else if end >= 0 {
			pos += end + 1
			line++
		} else {
			pos = len(src)
		}
		st.End = pos
		out = append(out, st)
	}
	return out
}

// endOfQuoted returns the offset just past the quote that closes the value
// opening at src[open], counting the lines it crosses; an unclosed value runs
// to the end (compose-go refuses such a file, so it never gets this far).
func endOfQuoted(src string, open int, line *int) int {
	quote := src[open]
	escaped := false
	for pos := open + 1; pos < len(src); pos++ {
		c := src[pos]
		if c == '\n' {
			*line++
		}
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == quote:
			return pos + 1
		}
	}
	return len(src)
}

// isLineSpace is compose-go's notion of a space within a line.
func isLineSpace(c byte) bool {
	switch c {
	case '\t', '\v', '\f', '\r', ' ':
		return true
	}
	return false
}

func isSpace(r rune) bool {
	return r < utf8.RuneSelf && isLineSpace(byte(r)) || r == 0x85 || r == 0xA0
}

// dropStatements returns src without the statements whose key is in drop. A
// comment block directly above a dropped statement stays: it may describe the
// group rather than the key.
func dropStatements(src string, stmts []statement, drop map[string]bool) string {
	var b strings.Builder
	last := 0
	for _, st := range stmts {
		if !drop[st.Key] {
			continue
		}
		b.WriteString(src[last:st.Start])
		last = st.End
	}
	b.WriteString(src[last:])
	return b.String()
}
