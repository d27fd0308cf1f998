package sqlstore

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"strata/internal/localdb"
)

// startHistoryNode starts a server over a local database that keeps an hour of history.
func startHistoryNode(t testing.TB) *node {
	t.Helper()
	return startNodeDB(t, localdb.Options{Dir: t.TempDir(), History: time.Hour}, EngineOptions{})
}

// moment returns now as the server's session reads a time (its zone: the system's), after
// a pause that keeps the commits before and after it apart.
func moment() string {
	time.Sleep(3 * time.Millisecond)
	m := time.Now().Format("2006-01-02 15:04:05.000000")
	time.Sleep(3 * time.Millisecond)
	return m
}

// TestAsOf: SELECT … AS OF reads each table as it was at a moment (rows rewritten, deleted
// and added since, a column added since, a table dropped since), joins tables at different
// moments, copies the past into the present, and refuses moments outside the window.
func TestAsOf(t *testing.T) {
	n := startHistoryNode(t)
	db := n.connect(t, "")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE DATABASE h")
	mustExec(t, db, "USE h")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
	mustExec(t, db, "CREATE TABLE u (id INT PRIMARY KEY)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')")
	mustExec(t, db, "INSERT INTO u VALUES (7), (8)")
	var lsn1 uint64
	if err := db.QueryRow("SELECT STRATA_LAST_COMMIT_LSN()").Scan(&lsn1); err != nil {
		t.Fatal(err)
	}
	t1 := moment()
	mustExec(t, db, "UPDATE t SET v = 'uno' WHERE id = 1")
	mustExec(t, db, "DELETE FROM t WHERE id = 2")
	mustExec(t, db, "INSERT INTO t VALUES (4, 'four')")
	t2 := moment()
	mustExec(t, db, "ALTER TABLE t ADD COLUMN w INT NOT NULL DEFAULT 5")
	mustExec(t, db, "DROP TABLE u")
	mustExec(t, db, "UPDATE t SET v = 'now'")

	checkQueries(t, db, []queryCase{
		{fmt.Sprintf("SELECT * FROM t AS OF TIMESTAMP '%s' ORDER BY id", t1), "1,one 2,two 3,three"},
		{fmt.Sprintf("SELECT * FROM t AS OF '%s' ORDER BY id", t2), "1,uno 3,three 4,four"},
		{"SELECT * FROM t ORDER BY id", "1,now,5 3,now,5 4,now,5"},
		{fmt.Sprintf("SELECT * FROM u AS OF '%s' ORDER BY id", t2), "7 8"},
		{fmt.Sprintf("SELECT v FROM t AS OF '%s' WHERE id = 3", t1), "three"}, // a point lookup
		{fmt.Sprintf("SELECT a.id, a.v, b.v FROM t AS OF '%s' a JOIN t AS OF '%s' b ON a.id = b.id ORDER BY a.id", t1, t2),
			"1,one,uno 3,three,three"},
		{fmt.Sprintf("SELECT a.id, b.w FROM t AS OF '%s' a JOIN t b ON a.id = b.id ORDER BY a.id", t1), "1,5 3,5"},
		{fmt.Sprintf("SELECT * FROM t AS OF %d ORDER BY id", lsn1), "1,one 2,two 3,three"},
		{fmt.Sprintf("SELECT COUNT(*) FROM t AS OF DATE_SUB(NOW(6), INTERVAL 0 SECOND)"), "3"},
	})

	// The past into the present: a table's rows back as of a moment.
	mustExec(t, db, fmt.Sprintf("CREATE TABLE t_back AS SELECT * FROM t AS OF '%s'", t1))
	if got := queryRows(t, db, "SELECT * FROM t_back ORDER BY id"); got != "1,one 2,two 3,three" {
		t.Errorf("restored rows: %q", got)
	}
	// Inside a transaction, as in autocommit.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if got := queryRows(t, tx, fmt.Sprintf("SELECT COUNT(*) FROM u AS OF '%s'", t1)); got != "2" {
		t.Errorf("in a transaction: %q", got)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct{ q, want string }{
		{"SELECT * FROM t AS OF '2000-01-01 00:00:00'", "before the history window"},
		{fmt.Sprintf("SELECT * FROM t AS OF '%s'", time.Now().Add(time.Hour).Format("2006-01-02 15:04:05")), "in the future"},
		{"SELECT * FROM t AS OF 'yesterday'", "neither a date and time, a log position nor a snapshot"},
		{"SELECT * FROM t AS OF 99999999999999", "beyond what is committed"},
		{fmt.Sprintf("SELECT * FROM nosuch AS OF '%s'", t1), "doesn't exist"},
	} {
		_, err := db.Exec(c.q)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.q, err, c.want)
		}
	}
	if _, err := db.Exec(fmt.Sprintf("SELECT * FROM t AS OF '%s'", time.Now().Add(time.Hour).Format("2006-01-02 15:04:05"))); mysqlCode(err) != erWrongArguments {
		t.Errorf("a time in the future: %v, want error %d", err, erWrongArguments)
	}
	// A prepared statement whose moment is a parameter: refused with a clear error (GMS
	// plans the moment at prepare time), and the connection stays usable.
	for _, q := range []string{"SELECT COUNT(*) FROM t AS OF ?", "SELECT COUNT(*) FROM t AS OF CAST(? AS DATETIME(6))"} {
		_, err := db.Prepare(q)
		if mysqlCode(err) != erWrongArguments || !strings.Contains(err.Error(), "cannot take the moment of AS OF as a parameter") {
			t.Errorf("prepare %s: %v", q, err)
		}
	}
	var cnt int
	if err := db.QueryRow(fmt.Sprintf("SELECT COUNT(*) FROM t AS OF '%s' WHERE id > ?", t1), 1).Scan(&cnt); err != nil || cnt != 2 {
		t.Errorf("a prepared AS OF with another parameter: %d, %v", cnt, err)
	}
}
