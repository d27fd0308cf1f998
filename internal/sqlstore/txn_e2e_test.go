package sqlstore

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

func conns(t *testing.T, db *sql.DB, n int) []*sql.Conn {
	t.Helper()
	var out []*sql.Conn
	for i := 0; i < n; i++ {
		c, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		out = append(out, c)
	}
	return out
}

func TestLockWaitAndDeadlock(t *testing.T) {
	n := startNode(t, t.TempDir())
	c0 := n.connect(t, "")
	mustExec(t, c0, "CREATE DATABASE bank")
	db := n.connect(t, "bank")
	mustExec(t, db, "CREATE TABLE acct (id INT PRIMARY KEY, bal INT)")
	mustExec(t, db, "INSERT INTO acct VALUES (1, 100), (2, 100)")
	cs := conns(t, db, 2)
	a, b := cs[0], cs[1]
	for _, c := range cs {
		mustExec(t, c, "SET innodb_lock_wait_timeout = 1")
	}
	// a holds row 1; b waits and times out with 1205.
	mustExec(t, a, "BEGIN")
	mustExec(t, a, "UPDATE acct SET bal = bal - 10 WHERE id = 1")
	mustExec(t, b, "BEGIN")
	start := time.Now()
	_, err := b.ExecContext(context.Background(), "UPDATE acct SET bal = bal + 10 WHERE id = 1")
	if mysqlCode(err) != 1205 {
		t.Fatalf("want 1205, got %v", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 5*time.Second {
		t.Fatalf("lock wait took %v", d)
	}
	// Deadlock: b takes row 2, a asks for row 2 (waits), b asks for row 1: one gets 1213.
	mustExec(t, b, "UPDATE acct SET bal = bal + 1 WHERE id = 2")
	mustExec(t, a, "SET innodb_lock_wait_timeout = 10")
	errc := make(chan error, 1)
	go func() {
		_, err := a.ExecContext(context.Background(), "UPDATE acct SET bal = bal + 1 WHERE id = 2")
		errc <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); n.db.Locks().Stats().Waiting != 1; {
		if time.Now().After(deadline) {
			t.Fatal("a's update is not waiting for row 2")
		}
		time.Sleep(time.Millisecond)
	}
	_, errB := b.ExecContext(context.Background(), "UPDATE acct SET bal = bal + 1 WHERE id = 1")
	if mysqlCode(errB) != 1213 {
		t.Fatalf("want 1213 for the second waiter, got %v", errB)
	}
	// The victim's transaction was rolled back whole, so a gets row 2.
	if err := <-errc; err != nil {
		t.Fatalf("a after the deadlock: %v", err)
	}
	mustExec(t, b, "ROLLBACK")
	mustExec(t, a, "COMMIT")
	if got := queryRows(t, db, "SELECT id, bal FROM acct ORDER BY id"); got != "1,90 2,101" {
		t.Fatalf("balances: %q", got)
	}
}

func TestSnapshotIsolationAcrossClients(t *testing.T) {
	n := startNode(t, t.TempDir())
	c0 := n.connect(t, "")
	mustExec(t, c0, "CREATE DATABASE s")
	db := n.connect(t, "s")
	mustExec(t, db, "CREATE TABLE kv (k INT PRIMARY KEY, v VARCHAR(10))")
	mustExec(t, db, "INSERT INTO kv VALUES (1, 'one')")
	cs := conns(t, db, 2)
	r, w := cs[0], cs[1]
	mustExec(t, r, "START TRANSACTION")
	if got := queryRows(t, r, "SELECT v FROM kv WHERE k = 1"); got != "one" {
		t.Fatalf("first read: %q", got)
	}
	mustExec(t, w, "UPDATE kv SET v = 'uno' WHERE k = 1")
	mustExec(t, w, "INSERT INTO kv VALUES (2, 'two')")
	// REPEATABLE READ: the reader keeps its snapshot.
	if got := queryRows(t, r, "SELECT k, v FROM kv ORDER BY k"); got != "1,one" {
		t.Fatalf("snapshot changed: %q", got)
	}
	// A locking read sees (and locks) the newest committed version.
	if got := queryRows(t, r, "SELECT v FROM kv WHERE k = 1 FOR UPDATE"); got != "uno" {
		t.Fatalf("locking read: %q", got)
	}
	mustExec(t, r, "COMMIT")
	if got := queryRows(t, r, "SELECT k, v FROM kv ORDER BY k"); got != "1,uno 2,two" {
		t.Fatalf("after commit: %q", got)
	}
	// READ COMMITTED sees each statement's latest commits.
	mustExec(t, r, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
	mustExec(t, r, "START TRANSACTION")
	queryRows(t, r, "SELECT * FROM kv")
	mustExec(t, w, "INSERT INTO kv VALUES (3, 'three')")
	if got := queryRows(t, r, "SELECT count(*) FROM kv"); got != "3" {
		t.Fatalf("read committed: %q", got)
	}
	mustExec(t, r, "COMMIT")
}

// TestUpdateReadsLatest: as in InnoDB, UPDATE computes on the newest committed row (a
// "current read" under an exclusive lock), not on the transaction's snapshot, so concurrent
// increments are never lost, while plain SELECTs keep the snapshot.
func TestUpdateReadsLatest(t *testing.T) {
	n := startNode(t, t.TempDir())
	c0 := n.connect(t, "")
	mustExec(t, c0, "CREATE DATABASE s")
	db := n.connect(t, "s")
	mustExec(t, db, "CREATE TABLE c (id INT PRIMARY KEY, n INT)")
	mustExec(t, db, "INSERT INTO c VALUES (1, 0)")
	cs := conns(t, db, 2)
	a, b := cs[0], cs[1]
	mustExec(t, a, "START TRANSACTION")
	if got := queryRows(t, a, "SELECT n FROM c WHERE id = 1"); got != "0" {
		t.Fatalf("snapshot read: %q", got)
	}
	mustExec(t, b, "UPDATE c SET n = n + 1 WHERE id = 1")
	mustExec(t, a, "UPDATE c SET n = n + 1 WHERE id = 1")
	if got := queryRows(t, a, "SELECT n FROM c WHERE id = 1"); got != "2" {
		t.Fatalf("own write over the newest version: %q", got)
	}
	mustExec(t, a, "COMMIT")
	if got := queryRows(t, db, "SELECT n FROM c"); got != "2" {
		t.Fatalf("n = %q, an increment was lost", got)
	}
}

func TestReadOnlyTruncateAndErrors(t *testing.T) {
	n := startNode(t, t.TempDir())
	c0 := n.connect(t, "")
	mustExec(t, c0, "CREATE DATABASE r")
	db := n.connect(t, "r")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT, v INT)")
	mustExec(t, db, "INSERT INTO t (v) VALUES (1), (2), (3)")
	c := conns(t, db, 1)[0]
	mustExec(t, c, "START TRANSACTION READ ONLY")
	if got := queryRows(t, c, "SELECT count(*) FROM t"); got != "3" {
		t.Fatalf("read-only read: %q", got)
	}
	if _, err := c.ExecContext(context.Background(), "INSERT INTO t (v) VALUES (4)"); mysqlCode(err) != 1792 {
		t.Fatalf("write in READ ONLY: want 1792, got %v", err)
	}
	mustExec(t, c, "COMMIT")
	if _, err := db.Exec("SELECT * FROM nosuch"); mysqlCode(err) != 1146 {
		t.Fatalf("unknown table: want 1146, got %v", err)
	}
	mustExec(t, db, "TRUNCATE TABLE t")
	mustExec(t, db, "INSERT INTO t (v) VALUES (9)")
	if got := queryRows(t, db, "SELECT id, v FROM t"); got != "1,9" {
		t.Fatalf("after truncate: %q", got)
	}
	// A DDL statement commits the open transaction (implicit commit).
	mustExec(t, c, "START TRANSACTION")
	mustExec(t, c, "INSERT INTO t (v) VALUES (10)")
	mustExec(t, c, "CREATE TABLE u (i INT PRIMARY KEY)")
	mustExec(t, c, "ROLLBACK")
	if got := queryRows(t, db, "SELECT count(*) FROM t"); got != "2" {
		t.Fatalf("implicit commit: %q", got)
	}
}
