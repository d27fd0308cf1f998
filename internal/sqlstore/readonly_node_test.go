package sqlstore

import (
	"context"
	"errors"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/go-sql-driver/mysql"
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
	t.Cleanup(func() { // the variables are the process's: give the other tests theirs back
		_ = sql.SystemVariables.AssignValues(map[string]any{"read_only": int8(0), "super_read_only": int8(0)})
	})
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
