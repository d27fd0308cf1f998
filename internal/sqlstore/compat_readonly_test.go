package sqlstore

import (
	"context"
	"errors"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// TestReadOnlyTransactions: a read-only session or transaction refuses writes to tables that
// are not temporary, and DDL, with MySQL's 1792 (SQLSTATE 25006); an autocommit statement
// under SET SESSION TRANSACTION READ ONLY was let through.
func TestReadOnlyTransactions(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE ro")
	db := n.connect(t, "ro")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 1), (2, 2)")
	c := conns(t, db, 1)[0]
	ctx := context.Background()
	refused := func(q string, args ...any) {
		t.Helper()
		_, err := c.ExecContext(ctx, q, args...)
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1792 || string(me.SQLState[:]) != "25006" ||
			me.Message != "Cannot execute statement in a READ ONLY transaction." {
			t.Fatalf("%s: want 1792 (25006) Cannot execute statement in a READ ONLY transaction., got %v", q, err)
		}
	}
	ok := func(q string, args ...any) {
		t.Helper()
		mustExec(t, c, q, args...)
	}
	ok("CREATE TEMPORARY TABLE tmp (id INT PRIMARY KEY, v INT)")

	ok("SET SESSION TRANSACTION READ ONLY")
	if got := queryRows(t, c, "SELECT @@transaction_read_only, @@session.transaction_read_only"); got != "1,1" {
		t.Fatalf("@@transaction_read_only = %s", got)
	}
	refused("INSERT INTO t VALUES (3, 3)")
	refused("UPDATE t SET v = v + 1")
	refused("DELETE FROM t WHERE id = 1")
	refused("DELETE FROM t")
	refused("REPLACE INTO t VALUES (1, 9)")
	refused("INSERT INTO t VALUES (?, ?)", 4, 4) // the binary protocol
	refused("INSERT INTO t SELECT id + 10, v FROM t")
	// DDL commits first, then runs in a transaction of the session's mode.
	refused("CREATE TABLE u (i INT)")
	refused("CREATE TABLE u AS SELECT * FROM t")
	refused("DROP TEMPORARY TABLE tmp")
	refused("ALTER TABLE tmp ADD COLUMN w INT")
	refused("ALTER TABLE t ADD COLUMN w INT")
	refused("CREATE INDEX iv ON t (v)")
	refused("TRUNCATE TABLE t")
	refused("DROP TABLE t")
	refused("CREATE DATABASE ro2")
	refused("CREATE VIEW w AS SELECT 1")
	refused("CREATE TEMPORARY TABLE tmp2 (i INT)")
	// Reads, and changes to temporary tables, are allowed.
	if got := queryRows(t, c, "SELECT count(*) FROM t"); got != "2" {
		t.Fatalf("read in a read-only session: %s", got)
	}
	ok("INSERT INTO tmp VALUES (1, 1), (2, 2)")
	ok("UPDATE tmp SET v = v + 10 WHERE id = 1")
	ok("DELETE FROM tmp WHERE id = 2")
	if got := queryRows(t, c, "SELECT id, v FROM tmp"); got != "1,11" {
		t.Fatalf("temporary table: %s", got)
	}
	// autocommit off: the transaction the first statement starts is read-only too.
	ok("SET autocommit = 0")
	refused("INSERT INTO t VALUES (5, 5)")
	ok("ROLLBACK")
	ok("SET autocommit = 1")

	// START TRANSACTION READ WRITE overrides the session's mode.
	ok("START TRANSACTION READ WRITE")
	ok("INSERT INTO t VALUES (3, 3)")
	ok("ROLLBACK")
	ok("START TRANSACTION")
	refused("INSERT INTO t VALUES (3, 3)")
	ok("ROLLBACK")

	ok("SET SESSION TRANSACTION READ WRITE")
	ok("INSERT INTO t VALUES (3, 3)")
	ok("SET @@session.transaction_read_only = 1")
	refused("UPDATE t SET v = 0 WHERE id = 3")
	ok("SET @@transaction_read_only = 0")
	// SET TRANSACTION without SESSION is for the next transaction only: an autocommit
	// statement, or a transaction begun with START TRANSACTION.
	ok("SET TRANSACTION READ ONLY")
	refused("INSERT INTO t VALUES (6, 6)")
	ok("INSERT INTO t VALUES (6, 6)")
	ok("SET TRANSACTION READ ONLY")
	ok("START TRANSACTION")
	refused("INSERT INTO t VALUES (7, 7)")
	ok("COMMIT")
	ok("DELETE FROM t WHERE id = 6")
	if got := queryRows(t, c, "SELECT @@transaction_read_only"); got != "0" {
		t.Fatalf("@@transaction_read_only after the one-shot transaction: %s", got)
	}
	// Two in a row: the second is for the next transaction.
	ok("SET TRANSACTION READ ONLY")
	ok("SET TRANSACTION READ WRITE")
	ok("INSERT INTO t VALUES (8, 8)")
	ok("SET TRANSACTION READ WRITE")
	ok("SET TRANSACTION READ ONLY")
	refused("INSERT INTO t VALUES (9, 9)")
	ok("DELETE FROM t WHERE id = 8")

	// START TRANSACTION READ ONLY: the same for row changes; a DDL statement commits it and
	// runs under the session's (read-write) mode.
	ok("START TRANSACTION READ ONLY")
	refused("INSERT INTO t VALUES (7, 7)")
	refused("DELETE FROM t")
	ok("INSERT INTO tmp VALUES (3, 3)")
	refused("CREATE TEMPORARY TABLE tmp3 (i INT)")
	ok("COMMIT")
	ok("START TRANSACTION READ ONLY")
	ok("CREATE TABLE u (i INT PRIMARY KEY)")
	ok("INSERT INTO u VALUES (1)")
	if got := queryRows(t, db, "SELECT count(*) FROM t"); got != "3" {
		t.Fatalf("rows of t: %s", got)
	}
}
