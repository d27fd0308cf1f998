package sqlstore

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dolthub/vitess/go/vt/sqlparser"
)

// What errcodes.go reads from a statement's text: GMS's errors lack the clause, the database
// or the place of a syntax error that MySQL's messages give.

// token is one token of a statement: its parser type, its value and where it is.
type token struct {
	typ        int
	val        string
	start, end int // byte offsets in the statement, end exclusive
}

// maxErrTokens bounds the tokens read from a statement to word an error.
const maxErrTokens = 100000

// tokens splits query with vitess's tokenizer, up to the end or the first token it cannot read.
func tokens(query string) []token {
	tkn := sqlparser.NewStringTokenizer(query)
	var out []token
	prevEnd := 0
	for len(out) < maxErrTokens {
		typ, val := tkn.Scan()
		if typ == 0 || typ == sqlparser.LEX_ERROR {
			break
		}
		end := tkn.Position - 1
		if end > len(query) {
			end = len(query)
		}
		start := prevEnd
		for start < end && isSpace(query[start]) {
			start++
		}
		out = append(out, token{typ: typ, val: string(val), start: start, end: end})
		prevEnd = end
	}
	return out
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v'
}

// leadingWords returns the first n keywords of query, upper-cased and separated by spaces.
func leadingWords(query string, n int) string {
	var words []string
	for _, t := range tokens(firstChars(query, 200)) {
		if len(words) == n {
			break
		}
		words = append(words, strings.ToUpper(t.val))
	}
	return strings.Join(words, " ")
}

// firstChars is query cut to about n bytes, at a space where possible.
func firstChars(query string, n int) string {
	if len(query) <= n {
		return query
	}
	if i := strings.LastIndexAny(query[:n], " \t\n"); i > 0 {
		return query[:i]
	}
	return query[:n]
}

// qualifierOf returns the database that qualifies table name in query (db.name), if any.
func qualifierOf(query, name string) string {
	ts := tokens(query)
	for i := 2; i < len(ts); i++ {
		if ts[i-1].val == "." && strings.EqualFold(ts[i].val, name) && ts[i-1].typ == '.' {
			return ts[i-2].val
		}
	}
	return ""
}

// tableAfter returns the table that database db qualifies in query (db.table), if any.
func tableAfter(query, db string) string {
	ts := tokens(query)
	for i := 0; i+2 < len(ts); i++ {
		if strings.EqualFold(ts[i].val, db) && ts[i+1].typ == '.' && ts[i+2].val != "" {
			return ts[i+2].val
		}
	}
	return ""
}

// columnClause returns the clause, as MySQL's error 1054 names it, where column name
// (possibly qualified, t.c) first appears in query; "field list" if it is not found.
func columnClause(query, name string) string {
	parts := strings.Split(name, ".")
	last := parts[len(parts)-1]
	clause := "field list"
	inFrom := false
	ts := tokens(query)
	for i, t := range ts {
		switch t.typ {
		case sqlparser.SELECT, sqlparser.SET, sqlparser.VALUES:
			clause, inFrom = "field list", false
			continue
		case sqlparser.FROM, sqlparser.JOIN, sqlparser.INTO, sqlparser.UPDATE:
			inFrom = true
			continue
		case sqlparser.WHERE:
			clause, inFrom = "where clause", false
			continue
		case sqlparser.ORDER:
			clause, inFrom = "order clause", false
			continue
		case sqlparser.GROUP:
			clause, inFrom = "group statement", false
			continue
		case sqlparser.HAVING:
			clause, inFrom = "having clause", false
			continue
		case sqlparser.ON:
			clause, inFrom = "on clause", false
			continue
		case '(':
			if inFrom && i > 0 && ts[i-1].typ == sqlparser.ID {
				// INSERT INTO t (columns): MySQL's "field list"
				clause, inFrom = "field list", false
			}
			continue
		}
		if inFrom || !strings.EqualFold(t.val, last) || t.typ == sqlparser.STRING {
			continue
		}
		if len(parts) == 1 && !(i > 0 && ts[i-1].typ == '.') || len(parts) > 1 && i >= 2 && ts[i-1].typ == '.' && strings.EqualFold(ts[i-2].val, parts[len(parts)-2]) {
			return clause
		}
	}
	return "field list"
}

// syntaxMessage is MySQL's error 1064 for a statement that vitess's parser refused at
// position pos (the end of the offending token, plus one): the text from that token on, and
// its line.
func syntaxMessage(query string, pos int) string {
	start := len(query)
	if end := pos - 1; end < len(query) || !errorsAtEnd(query, pos) {
		for _, t := range tokens(query) {
			if t.end >= end {
				start = t.start
				break
			}
		}
	}
	near := query[start:]
	if r := []rune(near); len(r) > 80 {
		near = string(r[:80])
	}
	line := 1 + strings.Count(query[:start], "\n")
	return fmt.Sprintf("You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near '%s' at line %d", near, line)
}

// errorsAtEnd reports whether the parser's error at pos, where the statement's last token
// ends, is about the end of the statement (MySQL: near ”) rather than that token: with
// an unreadable byte appended, the error moves only if the end was what the parser refused.
func errorsAtEnd(query string, pos int) bool {
	_, err := sqlparser.Parse(query + " \x01")
	if err == nil {
		return true
	}
	var at int
	if _, scanErr := fmt.Sscanf(err.Error(), "syntax error at position %d", &at); scanErr != nil {
		return true
	}
	return at != pos
}

// objectName returns the name that follows the first of keywords (e.g. TABLE) in query,
// after IF [NOT] EXISTS; of a qualified name (db.t), the last part.
func objectName(query string, keywords ...string) string {
	ts := tokens(firstChars(query, 1000))
	for i, t := range ts {
		if !slices.Contains(keywords, strings.ToUpper(t.val)) {
			continue
		}
		j := i + 1
		for j < len(ts) && (ts[j].typ == sqlparser.IF || ts[j].typ == sqlparser.NOT || ts[j].typ == sqlparser.EXISTS) {
			j++
		}
		for j+2 < len(ts) && ts[j+1].typ == '.' {
			j += 2
		}
		if j < len(ts) {
			return ts[j].val
		}
		return ""
	}
	return ""
}
