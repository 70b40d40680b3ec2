package testenv

// Hostile are values that break naive env-file writers and shell-string
// launchers: quotes of both kinds, $ in every form compose interpolates,
// backslashes (a trailing one too), comment and assignment characters, line
// breaks, tabs, unicode, leading zeros. Keys are valid variable names.
var Hostile = map[string]string{
	"H_SINGLE":     `it's`,
	"H_DOUBLE":     `say "hi"`,
	"H_BOTH":       `'"'"`,
	"H_DOLLAR":     `pa$word`,
	"H_BRACE":      `${HOME}`,
	"H_DOUBLEDOL":  `$$`,
	"H_TRAILING":   `ends with \`,
	"H_BACKSLASH":  `a\nb\\c\"d`,
	"H_HASH":       `value # not a comment`,
	"H_HASHSTART":  `#start`,
	"H_EQUALS":     `a=b=c`,
	"H_NEWLINE":    "line1\nline2\n",
	"H_CRLF":       "a\r\nb",
	"H_TAB":        "a\tb",
	"H_UNICODE":    "päss wörd ✓ 🔑",
	"H_ZEROS":      "007",
	"H_SPACES":     "  padded  ",
	"H_BACKTICK":   "`cmd`",
	"H_EXCLAIM":    "!bang",
	"H_OCTALISH":   `\0123`,
	"H_JSON":       `{"a":[1,"b"]}`,
	"H_URL":        "postgres://u:p@ss@db:5432/x?sslmode=disable",
	"H_ONLYDOLLAR": "$",
	"H_DOLLARLAST": "cost$",
	"H_SUBSHELL":   "$(id)",
}
