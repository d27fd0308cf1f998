package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gmssql "github.com/dolthub/go-mysql-server/sql"
	"github.com/go-sql-driver/mysql"

	"strata/internal/engine"
)

// mysqlErr returns the MySQL error number and message of err (0 if it is not one).
func mysqlErr(err error) (uint16, string) {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number, me.Message
	}
	return 0, ""
}

// expectCode runs q (with args) on c under a bounded time and fails unless it returns MySQL
// error code.
func expectCode(t *testing.T, c interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, code uint16, q string, args ...any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.ExecContext(ctx, q, args...)
	got, msg := mysqlErr(err)
	if got != code {
		short := q
		if len(short) > 80 {
			short = short[:80] + "..."
		}
		t.Fatalf("%s: want error %d, got %v", short, code, err)
	}
	return msg
}

// alive checks that the server still answers.
func alive(t *testing.T, c *sql.DB) {
	t.Helper()
	var one int
	if err := c.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("server does not answer: %v", err)
	}
}

func chain(head, op string, n int) string {
	var sb strings.Builder
	sb.WriteString(head)
	for i := 0; i < n; i++ {
		sb.WriteString(op)
	}
	return sb.String()
}

// TestDeepStatementsRefused: statements nested too deep for GMS's recursive planning are
// refused with MySQL's errors before anything walks them, instead of overflowing the stack
// (which kills the process) or planning for minutes. The server runs in a child process so
// that a crash fails the test rather than the test binary.
func TestDeepStatementsRefused(t *testing.T) {
	p := startProc(t, t.TempDir())
	c := p.connect(t, "")
	mustExec(t, c, "CREATE DATABASE d")
	c = p.connect(t, "d")

	// A million ANDs: a stack overflow in the plan builder without the limit.
	expectCode(t, c, erStackOverrun, chain("SELECT 1 FROM dual WHERE 1=1", " AND 1=1", 1_000_000))
	alive(t, c)
	// Ten thousand additions: quadratic planning (about a minute) without the limit.
	msg := expectCode(t, c, erStackOverrun, chain("SELECT 1", "+1", 10_000))
	if !strings.Contains(msg, "Thread stack overrun") {
		t.Fatalf("message: %q", msg)
	}
	// The same through a prepared statement.
	expectCode(t, c, erStackOverrun, chain("SELECT ?", "+1", 10_000), 1)
	// Nested scalar subqueries: exponential planning without the limit.
	nested := "SELECT " + strings.Repeat("(SELECT ", 40) + "1" + strings.Repeat(")", 40)
	if msg := expectCode(t, c, erTooHighNestLevel, nested); msg != "Too high level of nesting for select" {
		t.Fatalf("message: %q", msg)
	}
	// Many chains of nested scalar subqueries: their planning times add up.
	var chains []string
	for i := 0; i < 20; i++ {
		chains = append(chains, strings.Repeat("(SELECT ", 10)+"1"+strings.Repeat(")", 10))
	}
	expectCode(t, c, erTooHighNestLevel, "SELECT "+strings.Join(chains, ", "))
	// A deep expression in a procedure body is refused when the procedure is created.
	expectCode(t, c, erStackOverrun, "CREATE PROCEDURE deep() SELECT "+chain("1", "+1", 5000))
	alive(t, c)

	// What stays within the limits still works: a long flat statement, some nesting.
	mustExec(t, c, "CREATE TABLE t (id INT PRIMARY KEY, v INT)")
	var sb strings.Builder
	sb.WriteString("INSERT INTO t VALUES (0, -1)")
	for i := 1; i < 5000; i++ {
		fmt.Fprintf(&sb, ", (%d, -%d)", i, i)
	}
	mustExec(t, c, sb.String())
	if got := queryRows(t, c, chain("SELECT count(*) FROM t WHERE v < 0", " AND v < 0", 500)); got != "5000" {
		t.Fatalf("count: %q", got)
	}
	if got := queryRows(t, c, "SELECT "+strings.Repeat("(SELECT ", 8)+"2"+strings.Repeat(")", 8)+", "+strings.Repeat("(SELECT 3), ", 500)+"4"); got != "2,"+strings.Repeat("3,", 500)+"4" {
		t.Fatalf("nested: %q", got)
	}
}

// TestProcedureRecursionLimit: max_sp_recursion_depth (default 0) bounds how deep a
// procedure may call itself, with MySQL's error 1456, instead of recursing until the stack
// overflows.
func TestProcedureRecursionLimit(t *testing.T) {
	p := startProc(t, t.TempDir())
	c := p.connect(t, "")
	mustExec(t, c, "CREATE DATABASE d")
	db := p.connect(t, "d")
	ctx := context.Background()
	c1, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	mustExec(t, c1, "CREATE PROCEDURE p(n INT) BEGIN IF n > 0 THEN CALL p(n - 1); END IF; END")
	mustExec(t, c1, "CREATE PROCEDURE forever() CALL forever()")
	mustExec(t, c1, "CREATE PROCEDURE outer_p() CALL inner_p()")
	mustExec(t, c1, "CREATE PROCEDURE inner_p() SELECT 1")

	mustExec(t, c1, "CALL p(0)")
	mustExec(t, c1, "CALL outer_p()") // nesting without recursion is not limited
	msg := expectCode(t, c1, 1456, "CALL p(1)")
	if want := "Recursive limit 0 (as set by the max_sp_recursion_depth variable) was exceeded for routine p"; msg != want {
		t.Fatalf("message %q, want %q", msg, want)
	}
	mustExec(t, c1, "SET max_sp_recursion_depth = 5")
	mustExec(t, c1, "CALL p(5)")
	expectCode(t, c1, 1456, "CALL p(6)")
	mustExec(t, c1, "SET max_sp_recursion_depth = 255")
	expectCode(t, c1, 1456, "CALL forever()")
	mustExec(t, c1, "CALL p(3)") // the counts were unwound
	alive(t, db)
}

// TestViewRecursionRefused: a view that would read itself through other views is refused
// when it is created or replaced (MySQL's 1462), instead of crashing the server on use.
func TestViewRecursionRefused(t *testing.T) {
	p := startProc(t, t.TempDir())
	c := p.connect(t, "")
	mustExec(t, c, "CREATE DATABASE d")
	c = p.connect(t, "d")
	mustExec(t, c, "CREATE VIEW v1 AS SELECT 1 a")
	mustExec(t, c, "CREATE VIEW v2 AS SELECT * FROM v1")
	msg := expectCode(t, c, 1462, "CREATE OR REPLACE VIEW v1 AS SELECT * FROM v2")
	if msg != "`d`.`v1` contains view recursion" {
		t.Fatalf("message: %q", msg)
	}
	expectCode(t, c, 1462, "CREATE OR REPLACE VIEW v1 AS SELECT * FROM d.v2")
	expectCode(t, c, 1462, "CREATE OR REPLACE VIEW v2 AS SELECT * FROM v2 UNION SELECT 1")
	if got := queryRows(t, c, "SELECT * FROM v2"); got != "1" {
		t.Fatalf("v2: %q", got)
	}
	queryRows(t, c, "SHOW CREATE VIEW v2")
	// A CTE named like the view is not a reference to it.
	mustExec(t, c, "CREATE VIEW v4 AS WITH v4 AS (SELECT 2 b) SELECT * FROM v4")
	if got := queryRows(t, c, "SELECT * FROM v4"); got != "2" {
		t.Fatalf("v4: %q", got)
	}
	alive(t, c)
}

// TestStoredViewCycle: views on a cycle that are already stored (by an older build) make
// every use an error, 1462, instead of a crash; they can still be dropped.
func TestStoredViewCycle(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.connect(t, "")
	mustExec(t, c, "CREATE DATABASE d")
	c = n.connect(t, "d")
	mustExec(t, c, "CREATE VIEW v1 AS SELECT 1 a")
	mustExec(t, c, "CREATE VIEW v2 AS SELECT * FROM v1")
	// Make v1 read v2, as an older build let CREATE OR REPLACE do, directly in the catalog.
	storeView(t, n, "d", "v1", "CREATE VIEW v1 AS SELECT * FROM v2")
	for _, q := range []string{"SELECT * FROM v1", "SELECT * FROM v2", "SHOW CREATE VIEW v1"} {
		expectCode(t, c, 1462, q)
	}
	// information_schema and SHOW still answer (mysqldump reads them).
	c.Exec("SELECT * FROM information_schema.views")
	c.Exec("SELECT * FROM information_schema.columns WHERE table_schema = 'd'")
	queryRows(t, c, "SHOW FULL TABLES")
	mustExec(t, c, "DROP VIEW v1")
	if _, err := c.Exec("SELECT * FROM v2"); err == nil {
		t.Fatal("v2 reads a view that is gone")
	}
	mustExec(t, c, "CREATE OR REPLACE VIEW v1 AS SELECT 3 a")
	if got := queryRows(t, c, "SELECT * FROM v2"); got != "3" {
		t.Fatalf("v2: %q", got)
	}
	alive(t, c)
}

// TestStopStatements: KILL QUERY stops a running statement with 1317, max_execution_time
// and the MAX_EXECUTION_TIME hint stop a SELECT with 3024, and statements that planned for
// minutes before are refused at once.
func TestStopStatements(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.connect(t, "")
	mustExec(t, c, "CREATE DATABASE d")
	db := n.connect(t, "d")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	var sb strings.Builder
	sb.WriteString("INSERT INTO t VALUES (0)")
	for i := 1; i < 1000; i++ {
		fmt.Fprintf(&sb, ",(%d)", i)
	}
	mustExec(t, db, sb.String())
	const slow = "SELECT count(*) FROM t a, t b, t c WHERE a.id + b.id + c.id = -1" // 10^9 rows
	ctx := context.Background()
	victim, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	var id int64
	if err := victim.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}

	// KILL QUERY from a second connection, once the statement runs.
	done := make(chan error, 1)
	go func() {
		_, err := victim.ExecContext(ctx, slow)
		done <- err
	}()
	waitRunning(t, db, id, slow)
	mustExec(t, db, fmt.Sprintf("KILL QUERY %d", id))
	select {
	case err := <-done:
		if code, _ := mysqlErr(err); code != 1317 {
			t.Fatalf("killed statement: want 1317, got %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("KILL QUERY did not stop the statement")
	}

	// max_execution_time, for this session, and as a hint.
	mustExec(t, victim, "SET max_execution_time = 200")
	msg := expectCode(t, victim, 3024, slow)
	if msg != "Query execution was interrupted, maximum statement execution time exceeded" {
		t.Fatalf("message: %q", msg)
	}
	mustExec(t, victim, "SET max_execution_time = 0")
	expectCode(t, victim, 3024, "SELECT /*+ MAX_EXECUTION_TIME(200) */ count(*) FROM t a, t b, t c WHERE a.id + b.id + c.id = -1")

	// A client that goes away: the statement stops too.
	gone, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var goneID int64
	if err := gone.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&goneID); err != nil {
		t.Fatal(err)
	}
	cctx, cancelClient := context.WithCancel(ctx)
	go func() {
		_, err := gone.ExecContext(cctx, slow)
		done <- err
	}()
	waitRunning(t, db, goneID, slow)
	cancelClient() // the driver closes the connection
	<-done
	gone.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM information_schema.processlist WHERE id = ? AND info = ?", goneID, slow).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the statement of a closed connection still runs")
		}
		time.Sleep(10 * time.Millisecond)
	}
	alive(t, db)
}

// waitRunning waits until connection id runs query (per the process list).
func waitRunning(t *testing.T, db *sql.DB, id int64, query string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM information_schema.processlist WHERE id = ? AND info = ?", id, query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("statement did not start")
}

// storeView stores a view definition directly in n's catalog, without any check.
func storeView(t *testing.T, n *node, db, name, stmt string) {
	t.Helper()
	ctx := context.Background()
	st, err := Open(ctx, n.db.DB, nil)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := st.db.Begin(engine.TxnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	def := gmssql.ViewDefinition{Name: name, TextDefinition: stmt[strings.Index(stmt, " AS ")+4:], CreateViewStatement: stmt}
	if err := (catalog{store: st, txn: kv}).put(ctx, sysKey("V", db, name), def); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLongINList: a SELECT with an IN list of 100,000 keys on the primary key plans in
// linear time (GMS checks index ranges pairwise: minutes, unstoppable) and gives the right
// answer, in SELECT, UPDATE and DELETE.
func TestLongINList(t *testing.T) {
	p := startProc(t, t.TempDir())
	c := p.connect(t, "")
	mustExec(t, c, "CREATE DATABASE d")
	c = p.connect(t, "d")
	mustExec(t, c, "CREATE TABLE t (id INT PRIMARY KEY, v INT)")
	mustExec(t, c, "INSERT INTO t VALUES (1, 1), (50000, 2), (99999, 3), (200000, 4)")
	var sb strings.Builder
	for i := 0; i < 100_000; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprint(&sb, i)
	}
	list := sb.String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n, sum int
	if err := c.QueryRowContext(ctx, "SELECT count(*), CAST(sum(v) AS SIGNED) FROM t WHERE id IN ("+list+")").Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != 3 || sum != 6 {
		t.Fatalf("IN: %d rows, sum %d", n, sum)
	}
	if err := c.QueryRowContext(ctx, "SELECT count(*) FROM t WHERE id NOT IN ("+list+")").Scan(&n); err != nil || n != 1 {
		t.Fatalf("NOT IN: %d, %v", n, err)
	}
	if _, err := c.ExecContext(ctx, "UPDATE t SET v = v + 10 WHERE id IN ("+list+")"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "DELETE FROM t WHERE id IN ("+list+") AND v > 11"); err != nil {
		t.Fatal(err)
	}
	if got := queryRows(t, c, "SELECT id, v FROM t ORDER BY id"); got != "1,11 200000,4" {
		t.Fatalf("after update and delete: %q", got)
	}
}
