package sqlstore

import (
	"strconv"
	"strings"
	"testing"

	"github.com/dolthub/vitess/go/vt/sqlparser"
)

// TestSyntaxMessage checks where MySQL's 1064 message says a statement went wrong: from the
// token the parser refused to the end (at most 80 characters), or ” at the statement's end.
func TestSyntaxMessage(t *testing.T) {
	for q, want := range map[string]string{
		"selec 1":                           "near 'selec 1' at line 1",
		"SELECT * FROM":                     "near '' at line 1",
		"SELECT 1 FROM t WHERE":             "near '' at line 1",
		"SELECT 1 FROM t WHERE id = = 2":    "near '= 2' at line 1",
		"SELECT 1,\n2 FROM t WHER id = 1":   "near 'id = 1' at line 2",
		"SELECT 1 2":                        "near '2' at line 1",
		"CREATE TABLE t (a INT,)":           "near ')' at line 1",
		"INSERT INTO t VALUES (1,":          "near '' at line 1",
		"SELECT `a b` FROM t t2 t3":         "near 't3' at line 1",
		"SELECT 'x' 'y' FROM t t2 t3 LIMIT": "near 't3 LIMIT' at line 1",
		"UPDATE t SET a = 1 WHERE b IN (" + strings.Repeat("1, ", 40) + "1,)": "near ')' at line 1",
		"DELETE t WHERE x = 1 AND " + strings.Repeat("y", 100):                "near 'WHERE x = 1 AND " + strings.Repeat("y", 64) + "' at line 1",
	} {
		_, err := sqlparser.Parse(q)
		if err == nil {
			t.Errorf("%q parses", q)
			continue
		}
		m := reSyntax.FindStringSubmatch(err.Error())
		if m == nil {
			t.Errorf("%q: vitess error %q", q, err)
			continue
		}
		pos, _ := strconv.Atoi(m[1])
		got := syntaxMessage(q, pos)
		if !strings.HasSuffix(got, want) || !strings.HasPrefix(got, "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use ") {
			t.Errorf("%q: got %q, want ...%q", q, got, want)
		}
	}
}

// TestColumnClause checks the clause MySQL's 1054 message names for an unknown column.
func TestColumnClause(t *testing.T) {
	for _, c := range []struct{ q, col, want string }{
		{"SELECT nosuch FROM t", "nosuch", "field list"},
		{"SELECT id FROM t WHERE nosuch = 1", "nosuch", "where clause"},
		{"SELECT id FROM t GROUP BY nosuch", "nosuch", "group statement"},
		{"SELECT id FROM t GROUP BY id HAVING nosuch > 1", "nosuch", "having clause"},
		{"SELECT id FROM t ORDER BY nosuch", "nosuch", "order clause"},
		{"SELECT * FROM t JOIN u ON t.nosuch = u.id", "t.nosuch", "on clause"},
		{"UPDATE t SET nosuch = 1 WHERE id = 2", "nosuch", "field list"},
		{"DELETE FROM t WHERE nosuch = 1", "nosuch", "where clause"},
		{"INSERT INTO t (nosuch) VALUES (1)", "nosuch", "field list"},
		{"SELECT 'nosuch' FROM t WHERE nosuch = 1", "nosuch", "where clause"},
	} {
		if got := columnClause(c.q, c.col); got != c.want {
			t.Errorf("%q, %s: got %q, want %q", c.q, c.col, got, c.want)
		}
	}
}
