package proxy

import (
	"context"
	"testing"
)

// TestRWOnly: through a proxy in front of one RW, a client logs in as a MySQL user, writes
// and reads, and a wrong password or an unknown user gets MySQL's 1045 from the node.
func TestRWOnly(t *testing.T) {
	rw := startRW(t, t.TempDir())
	p := startProxy(t, single(rw), nil)
	root := open(t, p.Addr().String(), "root", "", "")
	mustExec(t, root, "CREATE DATABASE d")
	mustExec(t, root, "CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(20))")
	mustExec(t, root, "INSERT INTO d.t VALUES (1, 'a'), (2, 'b')")
	if got := rows(t, root, "SELECT id, v FROM d.t ORDER BY id"); got != "1,a 2,b" {
		t.Fatalf("rows: %s", got)
	}
	mustExec(t, root, "CREATE USER bob IDENTIFIED BY 'pw'")
	mustExec(t, root, "GRANT SELECT, INSERT ON d.* TO bob")
	bob := open(t, p.Addr().String(), "bob", "pw", "d")
	if got := rows(t, bob, "SELECT COUNT(*) FROM t"); got != "2" {
		t.Fatalf("bob counts %s", got)
	}
	if _, err := bob.ExecContext(context.Background(), "DROP TABLE t"); errCode(err) != 1142 {
		t.Fatalf("bob drops a table: %v", err)
	}
	for _, c := range []struct{ user, pw string }{{"bob", "wrong"}, {"nobody", "pw"}, {"bob", ""}} {
		err := open(t, p.Addr().String(), c.user, c.pw, "").PingContext(context.Background())
		if errCode(err) != 1045 {
			t.Fatalf("%s/%q: %v, want 1045", c.user, c.pw, err)
		}
	}
	if p.Stats().LoginFails.Load() != 3 {
		t.Fatalf("login failures: %d", p.Stats().LoginFails.Load())
	}
}
