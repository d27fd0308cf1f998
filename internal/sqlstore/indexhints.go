package sqlstore

import (
	"strings"

	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// Index hints.
//
// vitess parses one index hint per table, `USE|IGNORE|FORCE INDEX (name, …)` with plain
// names only; MySQL also takes KEY for INDEX, `FOR JOIN|ORDER BY|GROUP BY`, PRIMARY, an
// empty list (USE INDEX ()), and several hints per table. A hint never changes a query's
// answer, only its plan, so when a statement fails to parse, rewriteIndexHints rewrites the
// hints to what vitess takes and the parser tries once more: KEY becomes INDEX, PRIMARY is
// quoted, and of the hints on one table the first one that applies to row access (no FOR
// ORDER BY or FOR GROUP BY, a non-empty list) is kept; the others are dropped.

// hintToken is one token of a statement: a word, a quoted string or name, punctuation.
type hintToken struct {
	text       string
	start, end int // offsets in the statement
	word       bool
}

// tokenizeForHints splits query into tokens, skipping spaces and comments; quoted strings
// and names are single tokens.
func tokenizeForHints(query string) []hintToken {
	var toks []hintToken
	i := 0
	for i < len(query) {
		c := query[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || c == '-' && strings.HasPrefix(query[i:], "-- "):
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				return toks
			}
			i += end + 1
		case strings.HasPrefix(query[i:], "/*"):
			end := strings.Index(query[i+2:], "*/")
			if end < 0 {
				return toks
			}
			i += end + 4
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(query) {
				if query[j] == '\\' && c != '`' {
					j += 2
					continue
				}
				if query[j] == c {
					if j+1 < len(query) && query[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			end := min(j+1, len(query))
			toks = append(toks, hintToken{text: query[i:end], start: i, end: end})
			i = end
		case isWordByte(c):
			j := i
			for j < len(query) && isWordByte(query[j]) {
				j++
			}
			toks = append(toks, hintToken{text: query[i:j], start: i, end: j, word: true})
			i = j
		default:
			toks = append(toks, hintToken{text: query[i : i+1], start: i, end: i + 1})
			i++
		}
	}
	return toks
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// indexHint is one hint found in a statement.
type indexHint struct {
	start, end int    // the hint's text
	kind       string // USE, IGNORE or FORCE
	forWhat    string // "", JOIN, ORDER or GROUP
	names      []string
}

// rewriteIndexHints returns query with its index hints rewritten as described above, and
// whether it changed anything.
func rewriteIndexHints(query string) (string, bool) {
	toks := tokenizeForHints(query)
	var groups [][]indexHint // consecutive hints: the hints of one table
	for i := 0; i < len(toks); {
		h, next, ok := parseHint(toks, i)
		if !ok {
			i++
			continue
		}
		group := []indexHint{h}
		for {
			h2, n2, ok := parseHint(toks, next)
			if !ok {
				break
			}
			group = append(group, h2)
			next = n2
		}
		groups = append(groups, group)
		i = next
	}
	if len(groups) == 0 {
		return query, false
	}
	var b strings.Builder
	last := 0
	for _, g := range groups {
		b.WriteString(query[last:g[0].start])
		kept := false
		for _, h := range g {
			if kept || h.forWhat == "ORDER" || h.forWhat == "GROUP" || len(h.names) == 0 {
				continue
			}
			kept = true
			b.WriteString(h.kind + " INDEX (" + strings.Join(h.names, ", ") + ")")
		}
		last = g[len(g)-1].end
	}
	b.WriteString(query[last:])
	out := b.String()
	return out, out != query
}

// parseHint parses the index hint starting at toks[i], if there is one, and returns the
// index of the token after it.
func parseHint(toks []hintToken, i int) (indexHint, int, bool) {
	word := func(j int, w ...string) bool {
		if j >= len(toks) || !toks[j].word {
			return false
		}
		for _, x := range w {
			if strings.EqualFold(toks[j].text, x) {
				return true
			}
		}
		return false
	}
	if !word(i, "USE", "IGNORE", "FORCE") || !word(i+1, "INDEX", "KEY") {
		return indexHint{}, 0, false
	}
	h := indexHint{start: toks[i].start, kind: strings.ToUpper(toks[i].text)}
	j := i + 2
	if word(j, "FOR") {
		switch {
		case word(j+1, "JOIN"):
			h.forWhat, j = "JOIN", j+2
		case word(j+1, "ORDER", "GROUP") && word(j+2, "BY"):
			h.forWhat, j = strings.ToUpper(toks[j+1].text), j+3
		default:
			return indexHint{}, 0, false
		}
	}
	if j >= len(toks) || toks[j].text != "(" {
		return indexHint{}, 0, false
	}
	j++
	for j < len(toks) && toks[j].text != ")" {
		t := toks[j]
		switch {
		case t.text == ",":
		case t.word && strings.EqualFold(t.text, "PRIMARY"):
			h.names = append(h.names, "`PRIMARY`")
		case t.word || strings.HasPrefix(t.text, "`"):
			h.names = append(h.names, t.text)
		default:
			return indexHint{}, 0, false
		}
		j++
	}
	if j >= len(toks) {
		return indexHint{}, 0, false
	}
	h.end = toks[j].end
	return h, j + 1, true
}

// reparse retries a statement vitess could not parse, through parse: with its index hints
// rewritten, then as DO (do.go). It returns nil when neither parses.
func reparse(query string, parse func(string) (ast.Statement, error)) ast.Statement {
	if q, ok := rewriteIndexHints(query); ok {
		if stmt, err := parse(q); err == nil {
			return stmt
		}
		query = q
	}
	return parseDo(query, parse)
}
