package proxy

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestNoBackend: with no RW known, or one that does not answer, a login and a statement
// fail with 2003 within the proxy's BackendWait, never hang.
func TestNoBackend(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	for name, top := range map[string]Topology{
		"none":   {},
		"closed": {RW: &Node{ID: "rw", Addr: dead}},
	} {
		d := &StaticDiscovery{}
		d.Set(top)
		p := startProxy(t, d, func(o *Options) { o.BackendWait = 300 * time.Millisecond })
		start := time.Now()
		err := open(t, p.Addr().String(), "root", "", "").PingContext(context.Background())
		if errCode(err) != 2003 {
			t.Fatalf("%s: login: %v, want 2003", name, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("%s: the error took %v", name, d)
		}
	}

	// A session whose RW goes away gets 2003 for its next statement, in bounded time.
	rw := startRW(t, t.TempDir())
	d := single(rw)
	p := startProxy(t, d, func(o *Options) { o.BackendWait = 300 * time.Millisecond })
	c := conn(t, open(t, p.Addr().String(), "root", "", ""))
	mustExec(t, c, "CREATE DATABASE d")
	rw.stop()
	d.Set(Topology{})
	start := time.Now()
	_, err = c.ExecContext(context.Background(), "CREATE DATABASE e")
	if code := errCode(err); code != 2003 && code != 2013 {
		t.Fatalf("a statement with the RW gone: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the error took %v", d)
	}
}

// TestRWMoves: the RW restarts at a new address (a new epoch in discovery): new statements
// go to it, a session that was in a transaction is told it was rolled back (1213) once, and
// the session's database and variables follow it.
func TestRWMoves(t *testing.T) {
	dir := t.TempDir()
	rw := startRW(t, dir)
	d := single(rw)
	p := startProxy(t, d, nil)
	root := open(t, p.Addr().String(), "root", "", "")
	mustExec(t, root, "CREATE DATABASE d")
	mustExec(t, root, "CREATE TABLE d.t (id INT PRIMARY KEY)")
	c := conn(t, root)
	mustExec(t, c, "USE d")
	mustExec(t, c, "SET @x = 7")
	plain := conn(t, root)
	mustExec(t, plain, "INSERT INTO d.t VALUES (1)")
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "INSERT INTO t VALUES (2)")

	rw.stop()
	rw2 := startRW(t, dir)
	d.Set(Topology{RW: &Node{ID: "rw", Addr: rw2.addr, Epoch: 2}})
	deadline := time.Now().Add(5 * time.Second)
	for p.Topology().RW.Addr != rw2.addr {
		if time.Now().After(deadline) {
			t.Fatal("the proxy did not see the new RW")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The session in a transaction learns that it was rolled back.
	if _, err := c.ExecContext(context.Background(), "INSERT INTO t VALUES (3)"); errCode(err) != 1213 {
		t.Fatalf("a statement of a transaction cut by the RW change: %v", err)
	}
	mustExec(t, c, "INSERT INTO t VALUES (3)")
	if got := rows(t, c, "SELECT id FROM t ORDER BY id"); got != "1 3" {
		t.Fatalf("on the new RW: %s", got)
	}
	if got := rows(t, c, "SELECT @x, DATABASE()"); got != "7,d" {
		t.Fatalf("the session's state on the new RW: %s", got)
	}
	// A session with no transaction goes on without an error.
	mustExec(t, plain, "INSERT INTO d.t VALUES (4)")
	// New clients log in through the new RW.
	if got := rows(t, open(t, p.Addr().String(), "root", "", "d"), "SELECT COUNT(*) FROM t"); got != "3" {
		t.Fatalf("a new client counts %s", got)
	}
}

// TestRWDrains hands the RW over as a planned switchover does: the old RW drains (what it is
// sent from then on it refuses unexecuted, with 1053), then a new RW appears. Autocommit
// statements, text and prepared, sent meanwhile wait and run on the new RW; a transaction
// open on the old one is told it was rolled back.
func TestRWDrains(t *testing.T) {
	dir := t.TempDir()
	rw := startRW(t, dir)
	d := single(rw)
	p := startProxy(t, d, func(o *Options) { o.BackendWait = 5 * time.Second })
	root := open(t, p.Addr().String(), "root", "", "")
	mustExec(t, root, "CREATE DATABASE d")
	mustExec(t, root, "CREATE TABLE d.t (id INT PRIMARY KEY)")
	plain := conn(t, root)
	mustExec(t, plain, "INSERT INTO d.t VALUES (1)")
	txn := conn(t, root)
	mustExec(t, txn, "BEGIN")
	mustExec(t, txn, "INSERT INTO d.t VALUES (2)")
	prepared := open(t, p.Addr().String(), "root", "", "d")
	mustExec(t, prepared, "INSERT INTO t VALUES (?)", 10) // prepared on the old RW

	if err := rw.drain.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	moved := make(chan struct{})
	go func() {
		defer close(moved)
		time.Sleep(300 * time.Millisecond)
		rw.stop()
		rw2 := startRW(t, dir)
		d.Set(Topology{RW: &Node{ID: "ro-1", Addr: rw2.addr, Epoch: 2}})
	}()
	start := time.Now()
	errs := make(chan error, 1)
	go func() {
		_, err := prepared.ExecContext(context.Background(), "INSERT INTO t VALUES (?)", 4)
		errs <- err
	}()
	mustExec(t, plain, "INSERT INTO d.t VALUES (3)")
	if err := <-errs; err != nil {
		t.Fatalf("a prepared statement sent to the draining RW: %v", err)
	}
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Fatalf("the statements ran %v after the drain began, before the new RW was there", took)
	}
	<-moved
	if _, err := txn.ExecContext(context.Background(), "INSERT INTO d.t VALUES (5)"); errCode(err) != 1213 {
		t.Fatalf("a statement of a transaction open across the switchover: %v; want 1213", err)
	}
	mustExec(t, txn, "INSERT INTO d.t VALUES (5)")
	if got := rows(t, plain, "SELECT id FROM d.t ORDER BY id"); got != "1 3 4 5 10" {
		t.Fatalf("on the new RW: %s", got)
	}
	if n := p.Stats().Drained.Load(); n < 2 {
		t.Fatalf("statements refused by the draining RW: %d, want at least 2", n)
	}
}
