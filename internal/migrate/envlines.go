package migrate

import (
	"strings"
)

// statement is one assignment of an env file: the lines it spans, so that it
// can be dropped without touching anything else.
type statement struct {
	Key         string
	Start, End  int // byte offsets in the file: [Start, End), End after its newline
	FirstLineNo int // 1-based
}

// scanStatements finds the assignments of an env file with the statement rules
// of compose-go's parser: comments and blank lines are skipped; an optional
// "export "; KEY= or KEY:; a value that starts with a quote runs to the matching
// unescaped quote, possibly over several lines; any other value ends at the
// line's end. It locates statements only — values are read with compose-go —
// and the caller verifies the result by parsing it again.
func scanStatements(src string) []statement {
	var out []statement
	pos, line := 0, 1
	for pos < len(src) {
		// skip blank space and comment lines
		for pos < len(src) && (src[pos] == ' ' || src[pos] == '\t' || src[pos] == '\n' || src[pos] == '\r') {
			if src[pos] == '\n' {
				line++
			}
			pos++
		}
		if pos >= len(src) {
			break
		}
		lineStart := strings.LastIndexByte(src[:pos], '\n') + 1
		if src[pos] == '#' {
			end := strings.IndexByte(src[pos:], '\n')
			if end < 0 {
				break
			}
			pos += end + 1
			line++
			continue
		}
		st := statement{Start: lineStart, FirstLineNo: line}
		rest := src[pos:]
		if strings.HasPrefix(rest, "export ") || strings.HasPrefix(rest, "export\t") {
			rest = strings.TrimLeft(rest[len("export"):], " \t")
		}
		keyEnd := strings.IndexAny(rest, "=:\n")
		if keyEnd < 0 {
			keyEnd = len(rest)
		}
		st.Key = strings.TrimSpace(rest[:keyEnd])
		pos = len(src) - len(rest) + keyEnd
		if pos < len(src) && src[pos] != '\n' {
			pos++ // past = or :
			for pos < len(src) && (src[pos] == ' ' || src[pos] == '\t') {
				pos++
			}
			if pos < len(src) && (src[pos] == '"' || src[pos] == '\'') {
				quote := src[pos]
				pos++
				escaped := false
				for pos < len(src) {
					c := src[pos]
					if c == '\n' {
						line++
					}
					pos++
					if escaped {
						escaped = false
						continue
					}
					if c == '\\' {
						escaped = true
						continue
					}
					if c == quote {
						break
					}
				}
			}
		}
		// the rest of the line (an inline comment, trailing space) belongs to it
		if end := strings.IndexByte(src[pos:], '\n'); end >= 0 {
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
