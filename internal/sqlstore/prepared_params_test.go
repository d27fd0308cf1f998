package sqlstore

import (
	"strings"
	"testing"
)

// TestManyPlaceholders: a prepared statement with more placeholders than vitess can
// execute is refused with MySQL's 1390, and the connection goes on (65,535 placeholders
// dropped the connection with a panic in vitess; 65,536 were counted as 0).
func TestManyPlaceholders(t *testing.T) {
	n := startNode(t, t.TempDir())
	root := n.connect(t, "")
	mustExec(t, root, "CREATE DATABASE m")
	db := n.connect(t, "m")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	mustExec(t, db, "INSERT INTO t VALUES (1), (2)")
	for _, c := range []struct {
		n    int
		code uint16
	}{{maxPlaceholders, 0}, {maxPlaceholders + 1, erPSManyParam}, {65535, erPSManyParam}, {65536, erPSManyParam}, {70000, erPSManyParam}} {
		q := "SELECT COUNT(*) FROM t WHERE id IN (" + strings.TrimSuffix(strings.Repeat("?,", c.n), ",") + ")"
		args := make([]any, c.n)
		for i := range args {
			args[i] = i
		}
		var count int
		err := db.QueryRow(q, args...).Scan(&count)
		switch {
		case c.code == 0 && (err != nil || count != 2):
			t.Errorf("%d placeholders: count %d, %v; want 2", c.n, count, err)
		case c.code != 0 && mysqlCode(err) != c.code:
			t.Errorf("%d placeholders: %v, want error %d", c.n, err, c.code)
		}
		if got := queryRows(t, db, "SELECT 1"); got != "1" {
			t.Fatalf("after %d placeholders the connection answers %q", c.n, got)
		}
	}
}
