package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"strata/internal/localdb"
)

// TestDrain drains a server while a statement runs: the statement finishes and its client
// gets its answer; what is sent from then on, text or prepared, on an open connection gets
// 1053 unexecuted; after Close the open connections linger (a late answer is still written).
func TestDrain(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := localdb.Open(ctx, localdb.Options{Dir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := Open(ctx, db.DB, quiet)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := st.NewSQLEngine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	drain := &Drain{}
	srv, err := st.ServeWith(eng, l, ServeOptions{Drain: drain})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := sql.Open("mysql", fmt.Sprintf("root@tcp(%s)/?timeout=5s", l.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustExec(t, c, "CREATE DATABASE d")
	mustExec(t, c, "CREATE TABLE d.t (i INT PRIMARY KEY)")
	slow, err := c.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := other.PrepareContext(ctx, "INSERT INTO d.t VALUES (?)")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := slow.ExecContext(ctx, "INSERT INTO d.t SELECT 1 FROM dual WHERE SLEEP(0.5) = 0")
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for drain.Running() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the slow statement did not start")
		}
		time.Sleep(time.Millisecond)
	}
	drained := make(chan error, 1)
	start := time.Now()
	go func() { drained <- drain.Start(ctx) }()
	for !drain.Draining() {
		time.Sleep(time.Millisecond)
	}
	var me *mysql.MySQLError
	if _, err := other.ExecContext(ctx, "INSERT INTO d.t VALUES (2)"); !errors.As(err, &me) || me.Number != 1053 {
		t.Fatalf("a statement sent to a draining server: %v; want 1053", err)
	}
	if _, err := stmt.ExecContext(ctx, 3); !errors.As(err, &me) || me.Number != 1053 {
		t.Fatalf("a prepared statement executed on a draining server: %v; want 1053", err)
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("the drain ended after %v, before the running statement", took)
	}
	if err := <-done; err != nil {
		t.Fatalf("the statement running when the drain began: %v", err)
	}
	srv.Close()
	// The connections linger after Close: still refused, not cut off.
	if _, err := other.ExecContext(ctx, "SELECT 1"); !errors.As(err, &me) || me.Number != 1053 {
		t.Fatalf("a statement on a lingering connection: %v; want 1053", err)
	}
	// Only the statement that ran before the drain changed anything.
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv2, err := st.ServeWith(eng, l2, ServeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	c2, err := sql.Open("mysql", fmt.Sprintf("root@tcp(%s)/?timeout=5s", l2.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	var got string
	if err := c2.QueryRow("SELECT GROUP_CONCAT(i ORDER BY i) FROM d.t").Scan(&got); err != nil || got != "1" {
		t.Fatalf("rows after the drain: %q, %v; want 1", got, err)
	}
}
