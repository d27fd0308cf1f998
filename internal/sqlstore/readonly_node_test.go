package sqlstore

import (
	"context"
	gosql "database/sql"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/go-sql-driver/mysql"

	"strata/internal/engine"
)

// TestReadOnlyNode: an engine opened ReadOnly (a read-only compute node) answers reads, and
// refuses every change to data, schema, users and grants with MySQL's 1290, over both
// protocols; @@read_only and @@super_read_only are 1 and no SET changes them.
func TestReadOnlyNode(t *testing.T) {
	dir := t.TempDir()
	rw := startNode(t, dir)
	mustExec(t, rw.connect(t, ""), "CREATE DATABASE d")
	mustExec(t, rw.connect(t, "d"), "CREATE TABLE t (id INT PRIMARY KEY, v INT)")
	mustExec(t, rw.connect(t, "d"), "INSERT INTO t VALUES (1, 10), (2, 20)")
	rw.stop()

	ro := startNodeEngine(t, dir, 0, EngineOptions{ReadOnly: true})
	restoreReadWrite(t)
	db := ro.connect(t, "d")
	if got := queryRows(t, db, "SELECT @@read_only, @@global.read_only, @@super_read_only"); got != "1,1,1" {
		t.Fatalf("read_only variables = %s, want 1,1,1", got)
	}
	if got := queryRows(t, db, "SELECT v FROM t WHERE id = ?", 2); got != "20" {
		t.Fatalf("read through the binary protocol: %s", got)
	}
	if got := queryRows(t, db, "SELECT SUM(v) FROM t"); got != "30" {
		t.Fatalf("read: %s", got)
	}
	ctx := context.Background()
	c := conns(t, db, 1)[0]
	mustExec(t, c, "BEGIN")
	if got := queryRows(t, c, "SELECT COUNT(*) FROM t"); got != "2" {
		t.Fatalf("read in a transaction: %s", got)
	}
	mustExec(t, c, "COMMIT")
	for _, q := range []string{
		"INSERT INTO t VALUES (3, 30)", "UPDATE t SET v = 0", "DELETE FROM t", "REPLACE INTO t VALUES (1, 1)",
		"CREATE TABLE u (i INT)", "DROP TABLE t", "ALTER TABLE t ADD COLUMN w INT", "CREATE INDEX iv ON t (v)",
		"TRUNCATE TABLE t", "CREATE DATABASE e", "CREATE VIEW w AS SELECT 1", "CREATE TEMPORARY TABLE tmp (i INT)",
		"CREATE USER bob", "GRANT SELECT ON d.* TO root@localhost",
	} {
		_, err := c.ExecContext(ctx, q)
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1290 || string(me.SQLState[:]) != "HY000" ||
			me.Message != "The MySQL server is running with the --read-only option so it cannot execute this statement" {
			t.Errorf("%s: want 1290 (HY000) --read-only, got %v", q, err)
		}
	}
	if _, err := c.ExecContext(ctx, "INSERT INTO t VALUES (?, ?)", 4, 40); err == nil {
		t.Error("a prepared INSERT was accepted")
	} else if me := (*mysql.MySQLError)(nil); !errors.As(err, &me) || me.Number != 1290 {
		t.Errorf("prepared INSERT: want 1290, got %v", err)
	}
	for _, q := range []string{"SET GLOBAL read_only = 0", "SET GLOBAL super_read_only = OFF"} {
		_, err := c.ExecContext(ctx, q)
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1238 {
			t.Errorf("%s: want 1238 (a read only variable), got %v", q, err)
		}
	}
	if got := queryRows(t, db, "SELECT COUNT(*), @@read_only FROM t"); got != "2,1" {
		t.Fatalf("after the refusals: %s", got)
	}
}

// TestReadOnlyEngineServesSQL: SQL over a read-only engine (engine.OpenReadOnly) reading the
// read-write node's page store: it answers what the writer committed up to its view, sees
// later rows and tables once it resyncs, and refuses changes with 1290.
func TestReadOnlyEngineServesSQL(t *testing.T) {
	ctx := context.Background()
	rw := startNode(t, t.TempDir())
	w := rw.connect(t, "")
	mustExec(t, w, "CREATE DATABASE d")
	mustExec(t, w, "CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(20), KEY (v))")
	mustExec(t, w, "INSERT INTO d.t VALUES (1, 'a'), (2, 'b'), (3, 'c')")

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	roDB, err := engine.OpenReadOnly(ctx, engine.ReadOnlyOptions{Pages: rw.db.Pages, View: rw.db.VisibleLSN(), PoolFrames: 64, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer roDB.Close()
	report := func() { rw.db.ReportSnapshot("ro", roDB.Horizon()) }
	report()
	st, err := Open(ctx, roDB, quiet)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := st.NewSQLEngineWith(ctx, EngineOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	restoreReadWrite(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := st.Serve(eng, l)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ro, err := gosql.Open("mysql", "root@tcp("+l.Addr().String()+")/d?timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()

	if got := queryRows(t, ro, "SELECT id, v FROM t ORDER BY id"); got != "1,a 2,b 3,c" {
		t.Fatalf("rows on the read-only node: %s", got)
	}
	if got := queryRows(t, ro, "SELECT id FROM t WHERE v = ?", "b"); got != "2" {
		t.Fatalf("an index lookup, prepared: %s", got)
	}

	report()
	mustExec(t, w, "INSERT INTO d.t VALUES (4, 'd')")
	mustExec(t, w, "UPDATE d.t SET v = 'bb' WHERE id = 2")
	mustExec(t, w, "CREATE TABLE d.u (i INT PRIMARY KEY)")
	mustExec(t, w, "INSERT INTO d.u VALUES (7)")
	if got := queryRows(t, ro, "SELECT COUNT(*) FROM t"); got != "3" {
		t.Fatalf("before resync the view holds: %s", got)
	}
	if err := roDB.Resync(ctx, rw.db.VisibleLSN()); err != nil {
		t.Fatal(err)
	}
	if got := queryRows(t, ro, "SELECT id, v FROM t ORDER BY id"); got != "1,a 2,bb 3,c 4,d" {
		t.Fatalf("rows after resync: %s", got)
	}
	if got := queryRows(t, ro, "SELECT i FROM u"); got != "7" {
		t.Fatalf("a table created before the resync: %s", got)
	}
	_, err = ro.ExecContext(ctx, "INSERT INTO t VALUES (5, 'e')")
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1290 {
		t.Fatalf("a write on the read-only node: %v", err)
	}
}

// restoreReadWrite gives the other tests of the process back @@read_only = 0: the system
// variables are the process's, and the last engine opened sets them.
func restoreReadWrite(t *testing.T) {
	t.Cleanup(func() {
		_ = sql.SystemVariables.AssignValues(map[string]any{"read_only": int8(0), "super_read_only": int8(0)})
	})
}
