package sqlstore

import (
	"context"
	"strings"
	"testing"
)

// TestDoStatement: DO evaluates its expressions for their effects and answers OK with no
// result set (vitess could not parse it: drivers' pings and session set-up failed).
func TestDoStatement(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE d")
	db := n.connect(t, "d")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	for _, q := range []string{"DO 1", "do(1 + 1)", "  /* ping */ DO 1, 2", "DO SLEEP(0), (SELECT COUNT(*) FROM t)", "DO GET_LOCK('l', 1)"} {
		res, err := db.ExecContext(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n, _ := res.RowsAffected(); n != 0 {
			t.Errorf("%s: %d rows affected", q, n)
		}
	}
	// The lock DO took is held by the session.
	if got := queryRows(t, db, "SELECT IS_USED_LOCK('l') = CONNECTION_ID()"); got != "1" {
		t.Errorf("DO GET_LOCK: IS_USED_LOCK = CONNECTION_ID() is %s", got)
	}
	mustExec(t, db, "DO RELEASE_LOCK('l')")
	if got := queryRows(t, db, "SELECT IS_USED_LOCK('l')"); got != "NULL" {
		t.Errorf("after DO RELEASE_LOCK: %s", got)
	}
	// What DO does not take stays an error; so does an error in its expressions.
	for _, q := range []string{"DO 1 FROM t", "DO", "DO nosuch(1)", "DOX 1"} {
		if _, err := db.ExecContext(context.Background(), q); err == nil {
			t.Errorf("%s: no error", q)
		}
	}
	// The mysql client gets an OK, not a result set.
	out := mysqlCLI(t, n, "DO 1;\nSELECT 'after';\n", "-vv")
	if !strings.Contains(out, "DO 1\n--------------\n\nQuery OK, 0 rows affected") || !strings.Contains(out, "after") {
		t.Errorf("mysql client:\n%s", out)
	}
}
