package sqlstore

import (
	"context"
	"testing"
)

// TestUpdateCaseOnlyChange: as in MySQL, an UPDATE that changes a string only in letter case
// or accents under a case- and accent-insensitive collation changes the row, and counts it
// (ROW_COUNT(), the affected rows); the same value again changes nothing. Through a foreign
// key, a trigger and the binary protocol too.
func TestUpdateCaseOnlyChange(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE d")
	db := n.connect(t, "d")
	c := conns(t, db, 1)[0]
	for _, q := range []string{
		"CREATE TABLE p (k VARCHAR(10) PRIMARY KEY)",
		"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20), w VARCHAR(20) COLLATE utf8mb4_general_ci, pk VARCHAR(10), KEY (v), FOREIGN KEY (pk) REFERENCES p (k))",
		"CREATE TABLE log (n INT)",
		"CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW INSERT INTO log VALUES (NEW.id)",
		"INSERT INTO p VALUES ('x')",
		"INSERT INTO t VALUES (1, 'b', 'cafe', 'x'), (2, 'c', 'd', 'x')",
	} {
		mustExec(t, c, q)
	}
	affected := func(q string, args ...any) int64 {
		t.Helper()
		r, err := c.ExecContext(context.Background(), q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := affected("UPDATE t SET v = 'B' WHERE id = 1"); n != 1 {
		t.Errorf("case-only change: %d rows affected, want 1", n)
	}
	if got := queryRows(t, c, "SELECT v, ROW_COUNT() FROM t WHERE id = 1"); got != "B,1" {
		t.Errorf("after the case-only change: %s", got)
	}
	if n := affected("UPDATE t SET w = 'CAFÉ' WHERE id = ?", 1); n != 1 {
		t.Errorf("case and accent change, prepared: %d rows affected, want 1", n)
	}
	if n := affected("UPDATE t SET v = 'B' WHERE id = 1"); n != 0 {
		t.Errorf("the same value again: %d rows affected, want 0", n)
	}
	if got := queryRows(t, c, "SELECT id, v, w FROM t ORDER BY id"); got != "1,B,CAFÉ 2,c,d" {
		t.Errorf("rows: %s", got)
	}
	// The index follows the new bytes; the collation still matches either case.
	if got := queryRows(t, c, "SELECT id FROM t WHERE v = 'b'"); got != "1" {
		t.Errorf("index lookup after the change: %s", got)
	}
	if got := queryRows(t, c, "SELECT COUNT(*) FROM log"); got != "3" {
		t.Errorf("the trigger ran %s times, want 3 (once per matched row)", got)
	}
	// A foreign key is still enforced through the node.
	if _, err := c.ExecContext(context.Background(), "UPDATE t SET pk = 'nope' WHERE id = 2"); err == nil {
		t.Error("an UPDATE broke the foreign key")
	}
	if n := affected("UPDATE t SET pk = 'X' WHERE id = 2"); n != 1 {
		t.Errorf("a case-only change of a foreign key column: %d rows affected, want 1", n)
	}
}
