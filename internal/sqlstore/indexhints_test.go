package sqlstore

import (
	"testing"
)

// TestRewriteIndexHints: the hint forms vitess cannot parse become one it can, or none;
// hint-like text in strings and comments is left alone.
func TestRewriteIndexHints(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SELECT * FROM t USE KEY (a) WHERE x = 1", "SELECT * FROM t USE INDEX (a) WHERE x = 1"},
		{"SELECT * FROM t FORCE INDEX (PRIMARY)", "SELECT * FROM t FORCE INDEX (`PRIMARY`)"},
		{"SELECT * FROM t FORCE INDEX FOR ORDER BY (a) ORDER BY a", "SELECT * FROM t  ORDER BY a"},
		{"SELECT * FROM t ignore key for group by (a, b)", "SELECT * FROM t "},
		{"SELECT * FROM t USE INDEX FOR JOIN (a)", "SELECT * FROM t USE INDEX (a)"},
		{"SELECT * FROM t USE INDEX ()", "SELECT * FROM t "},
		{"SELECT * FROM t AS x USE INDEX (a) IGNORE INDEX FOR ORDER BY (b) JOIN u FORCE KEY (`c`) ON 1", "SELECT * FROM t AS x USE INDEX (a) JOIN u FORCE INDEX (`c`) ON 1"},
		{"SELECT 'USE KEY (a)' /* FORCE KEY (b) */ FROM t", "SELECT 'USE KEY (a)' /* FORCE KEY (b) */ FROM t"},
		{"INSERT IGNORE INTO t VALUES (1)", "INSERT IGNORE INTO t VALUES (1)"},
	} {
		if got, _ := rewriteIndexHints(c.in); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

// TestIndexHints: MySQL's index hint forms parse and give the same answer as no hint (GMS
// decides what a hint does to the plan).
func TestIndexHints(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE h")
	db := n.connect(t, "h")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT, KEY ka (a), KEY kb (b))")
	mustExec(t, db, "INSERT INTO t VALUES (1, 10, 100), (2, 20, 200), (3, 10, 300)")
	want := queryRows(t, db, "SELECT id FROM t WHERE a = 10 ORDER BY id")
	for _, hint := range []string{
		"USE INDEX (ka)", "USE KEY (ka)", "FORCE INDEX (PRIMARY)", "IGNORE KEY (ka)",
		"FORCE INDEX FOR ORDER BY (PRIMARY)", "USE INDEX FOR JOIN (ka)", "IGNORE INDEX FOR GROUP BY (kb)",
		"USE INDEX ()", "USE INDEX (ka) IGNORE INDEX FOR ORDER BY (kb)",
	} {
		if got := queryRows(t, db, "SELECT id FROM t "+hint+" WHERE a = 10 ORDER BY id"); got != want {
			t.Errorf("%s: %s, want %s", hint, got, want)
		}
	}
}
