package proxy

import (
	"context"
	"fmt"
	"testing"
)

// cluster is an RW, an RO following it and a proxy in front of both.
func cluster(t *testing.T, tweak func(*Options)) (rw, ro *backend, p *Server) {
	t.Helper()
	rw = startRW(t, t.TempDir())
	ro = startRO(t, rw)
	d := &StaticDiscovery{}
	d.Set(Topology{RW: &Node{ID: "rw", Addr: rw.addr, Epoch: 1}, ROs: []Node{{ID: "ro1", Addr: ro.addr}}})
	return rw, ro, startProxy(t, d, tweak)
}

// TestReadYourWrites: autocommit reads go to the RO and, under the default session
// consistency, always see the session's own writes (the RO waits for the session's commit
// LSN, STRATA_WAIT_LSN, or the read goes to the RW). Writes go to the RW.
func TestReadYourWrites(t *testing.T) {
	_, _, p := cluster(t, nil)
	root := open(t, p.Addr().String(), "root", "", "")
	mustExec(t, root, "CREATE DATABASE d")
	mustExec(t, root, "CREATE TABLE d.t (id INT PRIMARY KEY, v INT)")
	c := conn(t, root)
	st := p.Stats()
	ro, rw := st.ToRO.Load(), st.ToRW.Load()
	for i := range 50 {
		mustExec(t, c, "INSERT INTO d.t VALUES (?, ?)", i, i*10)
		if got := rows(t, c, "SELECT COUNT(*), MAX(v) FROM d.t"); got != fmt.Sprintf("%d,%d", i+1, i*10) {
			t.Fatalf("after insert %d the session reads %s", i, got)
		}
	}
	if n := st.ToRO.Load() - ro; n < 45 {
		t.Fatalf("only %d of 50 reads went to the RO (fallbacks %d)", n, st.ROFallback.Load())
	}
	if n := st.ToRW.Load() - rw; n < 50 {
		t.Fatalf("%d statements went to the RW, want the 50 writes", n)
	}
	// A locking read and a write-first statement go to the RW.
	if n := delta(&st.ToRW, func() { rows(t, c, "SELECT v FROM d.t WHERE id = 1 FOR UPDATE") }); n != 1 {
		t.Fatalf("FOR UPDATE: %d statements to the RW", n)
	}
	if n := delta(&st.ToRO, func() { rows(t, c, "SHOW TABLES FROM d") }); n != 1 {
		t.Fatalf("SHOW TABLES: %d statements to the RO", n)
	}
}

// TestEventualReadsFromRO: under eventual consistency reads go straight to the RO; SET
// strata_read_consistency is answered by the proxy, and a bad value is 1231.
func TestConsistencyVariable(t *testing.T) {
	_, _, p := cluster(t, nil)
	c := conn(t, open(t, p.Addr().String(), "root", "", ""))
	st := p.Stats()
	if n := delta(&st.ToProxy, func() { mustExec(t, c, "SET strata_read_consistency = 'eventual'") }); n != 1 {
		t.Fatalf("SET strata_read_consistency: %d answered by the proxy", n)
	}
	mustExec(t, c, "CREATE DATABASE e")
	if n := delta(&st.LSNWaits, func() { rows(t, c, "SELECT 1") }); n != 0 {
		t.Fatalf("an eventual read waited %d times", n)
	}
	if _, err := c.ExecContext(context.Background(), "SET strata_read_consistency = 'sometimes'"); errCode(err) != 1231 {
		t.Fatalf("a bad level: %v", err)
	}
	mustExec(t, c, "SET strata_read_consistency = 'global'")
	mustExec(t, c, "CREATE TABLE e.t (i INT PRIMARY KEY)")
	other := conn(t, open(t, p.Addr().String(), "root", "", ""))
	mustExec(t, other, "INSERT INTO e.t VALUES (1)")
	// Under global consistency the read sees another session's acknowledged commit.
	if got := rows(t, c, "SELECT COUNT(*) FROM e.t"); got != "1" {
		t.Fatalf("a global read missed another session's commit: %s", got)
	}
}

// TestSessionStateFollows: the current database, SET NAMES, session variables and user
// variables set to literals follow the client to the RO's connections.
func TestSessionStateFollows(t *testing.T) {
	_, _, p := cluster(t, nil)
	root := open(t, p.Addr().String(), "root", "", "")
	mustExec(t, root, "CREATE DATABASE d")
	mustExec(t, root, "CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(10))")
	mustExec(t, root, "INSERT INTO d.t VALUES (1, 'x')")
	c := conn(t, root)
	st := p.Stats()
	n := delta(&st.ToRO, func() {
		mustExec(t, c, "USE d")
		if got := rows(t, c, "SELECT v FROM t"); got != "x" {
			t.Fatalf("after USE: %s", got)
		}
		mustExec(t, c, "SET sql_mode = 'ANSI_QUOTES'")
		if got := rows(t, c, `SELECT "v" FROM t`); got != "x" {
			t.Fatalf("under ANSI_QUOTES: %s", got)
		}
		mustExec(t, c, "SET @x = 42, @s = 'it''s'")
		if got := rows(t, c, "SELECT @x, @s"); got != "42,it's" {
			t.Fatalf("user variables: %s", got)
		}
		mustExec(t, c, "SET NAMES latin1")
		if got := rows(t, c, "SELECT @@character_set_client, @@character_set_results"); got != "latin1,latin1" {
			t.Fatalf("SET NAMES: %s", got)
		}
	})
	if n != 4 {
		t.Fatalf("%d of 4 reads went to the RO", n)
	}
	// A second client's connection is not affected by the first's state.
	other := conn(t, root)
	if got := rows(t, other, "SELECT @x, @@character_set_client, DATABASE()"); got != "NULL,utf8mb4,NULL" {
		t.Fatalf("another session sees %s", got)
	}
}

// TestTransactionPinned: a transaction runs on one RW connection, its reads included, and
// sees its own uncommitted rows; other sessions do not.
func TestTransactionPinned(t *testing.T) {
	_, _, p := cluster(t, nil)
	root := open(t, p.Addr().String(), "root", "", "")
	mustExec(t, root, "CREATE DATABASE d")
	mustExec(t, root, "CREATE TABLE d.t (id INT PRIMARY KEY)")
	c := conn(t, root)
	st := p.Stats()
	ro := st.ToRO.Load()
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "INSERT INTO d.t VALUES (1)")
	if got := rows(t, c, "SELECT COUNT(*) FROM d.t"); got != "1" {
		t.Fatalf("the transaction reads %s", got)
	}
	var id1, id2 int
	if err := c.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id1); err != nil {
		t.Fatal(err)
	}
	other := conn(t, root)
	// The other session reads the RW's durable end: it must see c's commit once COMMIT has
	// returned (at the default level, session, only c's own reads are promised that).
	mustExec(t, other, "SET strata_read_consistency = 'global'")
	if got := rows(t, other, "SELECT COUNT(*) FROM d.t"); got != "0" {
		t.Fatalf("another session sees the uncommitted row: %s", got)
	}
	if err := c.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id2); err != nil || id1 != id2 {
		t.Fatalf("the transaction moved from connection %d to %d (%v)", id1, id2, err)
	}
	if st.ToRO.Load()-ro != 1 {
		t.Fatalf("%d reads went to the RO, want only the other session's", st.ToRO.Load()-ro)
	}
	mustExec(t, c, "COMMIT")
	if got := rows(t, other, "SELECT COUNT(*) FROM d.t"); got != "1" {
		t.Fatalf("after COMMIT another session reads %s", got)
	}
	// autocommit=0 pins too, and ROLLBACK discards.
	mustExec(t, c, "SET autocommit = 0")
	mustExec(t, c, "INSERT INTO d.t VALUES (2)")
	mustExec(t, c, "ROLLBACK")
	mustExec(t, c, "SET autocommit = 1")
	if got := rows(t, c, "SELECT COUNT(*) FROM d.t"); got != "1" {
		t.Fatalf("after ROLLBACK: %s", got)
	}
}

// TestPrepared: binary-protocol statements through the proxy: prepared on the RW, executed
// where their text goes (reads on the RO, prepared there on first use).
func TestPrepared(t *testing.T) {
	_, _, p := cluster(t, nil)
	root := open(t, p.Addr().String(), "root", "", "d")
	if _, err := root.ExecContext(context.Background(), "SELECT 1"); err == nil || errCode(err) != 1049 {
		t.Logf("a missing database at login: %v", err)
	}
	admin := open(t, p.Addr().String(), "root", "", "")
	mustExec(t, admin, "CREATE DATABASE d")
	mustExec(t, admin, "CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(20), b BLOB)")
	c := conn(t, root)
	ctx := context.Background()
	ins, err := c.PrepareContext(ctx, "INSERT INTO t VALUES (?, ?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	sel, err := c.PrepareContext(ctx, "SELECT v, LENGTH(b) FROM t WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close()
	st := p.Stats()
	ro := st.ToRO.Load()
	for i := range 20 {
		if _, err := ins.ExecContext(ctx, i, fmt.Sprintf("v%d", i), make([]byte, i*100)); err != nil {
			t.Fatal(err)
		}
		var v string
		var n int
		if err := sel.QueryRowContext(ctx, i).Scan(&v, &n); err != nil || v != fmt.Sprintf("v%d", i) || n != i*100 {
			t.Fatalf("execute %d: %q %d %v", i, v, n, err)
		}
	}
	if st.ToRO.Load()-ro < 15 {
		t.Fatalf("only %d prepared reads went to the RO", st.ToRO.Load()-ro)
	}
	// A statement closed and another prepared in its place.
	sel.Close()
	cnt, err := c.PrepareContext(ctx, "SELECT COUNT(*) FROM t WHERE id < ?")
	if err != nil {
		t.Fatal(err)
	}
	defer cnt.Close()
	var n int
	if err := cnt.QueryRowContext(ctx, 10).Scan(&n); err != nil || n != 10 {
		t.Fatalf("count: %d %v", n, err)
	}
	// A bad statement is the node's error.
	if _, err := c.PrepareContext(ctx, "SELECT * FROM nope"); errCode(err) != 1146 {
		t.Fatalf("preparing a missing table: %v", err)
	}
}

// TestLastInsertID: LAST_INSERT_ID() after an insert reads the RW connection that ran it,
// for two sessions interleaved.
func TestLastInsertID(t *testing.T) {
	_, _, p := cluster(t, nil)
	root := open(t, p.Addr().String(), "root", "", "")
	mustExec(t, root, "CREATE DATABASE d")
	mustExec(t, root, "CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
	a, b := conn(t, root), conn(t, root)
	for i := range 10 {
		mustExec(t, a, "INSERT INTO d.t (v) VALUES (?)", i)
		mustExec(t, b, "INSERT INTO d.t (v) VALUES (?)", i)
		if got := rows(t, a, "SELECT LAST_INSERT_ID()"); got != fmt.Sprint(2*i+1) {
			t.Fatalf("session a: LAST_INSERT_ID() = %s, want %d", got, 2*i+1)
		}
		if got := rows(t, b, "SELECT LAST_INSERT_ID()"); got != fmt.Sprint(2*i+2) {
			t.Fatalf("session b: LAST_INSERT_ID() = %s, want %d", got, 2*i+2)
		}
	}
}
