package clustertest

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// eventually retries f every 200 ms until it returns nil or timeout passes, then fails with
// its last error.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rowsOf is tableRows that returns errors instead of failing (for eventually).
func rowsOf(db *sql.DB, q string) (string, error) {
	rows, err := db.Query(q)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			return "", err
		}
		out = append(out, fmt.Sprintf("%d,%s", id, v))
	}
	return strings.Join(out, " "), rows.Err()
}

// TestRestoreCluster: after an accidental DROP TABLE and a DELETE without WHERE, `ctl restore
// --at` makes the main database what it was at that moment: the writer, the read-only node
// and the proxy move to it and serve the data back; writes go on there; the history before the
// restore point stays readable AS OF; the state before the restore is a branch with the
// accident in it; deleting that branch retires it and leaves the main database whole.
func TestRestoreCluster(t *testing.T) {
	c := startCluster(t, "--proxy=true", "--ro", "1")
	db := c.newDatabase(4)
	c.exec(db, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
	c.exec(db, "CREATE TABLE k (id INT PRIMARY KEY, v VARCHAR(20))")
	c.exec(db, "INSERT INTO t VALUES (1, 'one')")
	time.Sleep(2 * time.Millisecond)
	early := time.Now().Format("2006-01-02 15:04:05.000000")
	time.Sleep(2 * time.Millisecond)
	c.exec(db, "INSERT INTO t VALUES (2, 'two'), (3, 'three')")
	c.exec(db, "INSERT INTO k VALUES (7, 'kept')")
	time.Sleep(2 * time.Millisecond)
	at := time.Now().Format("2006-01-02 15:04:05.000000")
	time.Sleep(2 * time.Millisecond)
	c.exec(db, "DROP TABLE k")
	c.exec(db, "DELETE FROM t")
	c.exec(db, "INSERT INTO t VALUES (99, 'late')")
	c.waitRole("ro-1", "ro", 30*time.Second)
	roAddr := c.node("ro-1").Addr // a node keeps its port when it moves
	roDB, err := sql.Open("mysql", "root@tcp("+roAddr+")/d?timeout=3s")
	if err != nil {
		t.Fatal(err)
	}
	defer roDB.Close()

	ctl := c.ctl
	out, err := ctl("restore", "--at", "2000-01-01 00:00:00")
	if err == nil || !strings.Contains(out, "cannot restore") {
		t.Errorf("a restore before the history window: %v\n%s", err, out)
	}
	if out, err := ctl("branch", "list"); err != nil || strings.Contains(out, "restore-") {
		t.Errorf("a failed restore left something behind: %v\n%s", err, out)
	}
	start := time.Now()
	out, err = ctl("restore", "--at", at, "--keep-as", "oops")
	if err != nil {
		t.Fatalf("ctl restore: %v\n%s\n%s", err, out, c.tail(c.upLog, 40))
	}
	t.Logf("%s (%v)", out, time.Since(start).Round(time.Millisecond))

	defer func() {
		t.Logf("the move, as the logs tell it:\n%s", c.grepLogs([]string{"compute.log", "ro-1.log", "proxy.log", "branch-oops.log"},
			"level=WARN", "level=ERROR", "timeline", "compute: open", "serving MySQL"))
	}()
	// Through the proxy: the rows and the dropped table are back.
	eventually(t, 30*time.Second, "the restored rows through the proxy", func() error {
		got, err := rowsOf(db, "SELECT id, v FROM t ORDER BY id")
		if err == nil && got != "1,one 2,two 3,three" {
			err = fmt.Errorf("t is %q", got)
		}
		return err
	})
	eventually(t, 30*time.Second, "the dropped table through the proxy", func() error {
		got, err := rowsOf(db, "SELECT id, v FROM k")
		if err == nil && got != "7,kept" {
			err = fmt.Errorf("k is %q", got)
		}
		return err
	})
	// Writes go on, on the restored database, and the read-only node follows it.
	c.exec(db, "INSERT INTO t VALUES (4, 'four')")
	eventually(t, 30*time.Second, "the read-only node on the restored database", func() error {
		roDB.SetMaxIdleConns(0) // a node that moved closed its connections
		got, err := rowsOf(roDB, "SELECT id, v FROM t ORDER BY id")
		if err == nil && got != "1,one 2,two 3,three 4,four" {
			err = fmt.Errorf("t is %q", got)
		}
		return err
	})
	// The history before the restore point is the restored database's own.
	if got, err := rowsOf(db, "SELECT id, v FROM t AS OF TIMESTAMP '"+early+"' ORDER BY id"); err != nil || got != "1,one" {
		t.Errorf("AS OF a moment before the restore point: %q, %v", got, err)
	}

	if out, err := ctl("status"); err != nil || !strings.Contains(out, "the main database is timeline") {
		t.Errorf("ctl status after the restore: %v\n%s", err, out)
	}
	// The database as it was before the restore is branch oops, accident included.
	list, err := ctl("branch", "list")
	if err != nil {
		t.Fatalf("ctl branch list: %v\n%s", err, list)
	}
	m := regexp.MustCompile(`(?m)^oops\s+0\s.*\s(\S+)$`).FindStringSubmatch(list)
	if m == nil {
		t.Fatalf("ctl branch list does not show branch oops on timeline 0 with its address:\n%s", list)
	}
	odb, err := sql.Open("mysql", "root@tcp("+m[1]+")/d?timeout=3s")
	if err != nil {
		t.Fatal(err)
	}
	defer odb.Close()
	eventually(t, 60*time.Second, "branch oops", func() error {
		got, err := rowsOf(odb, "SELECT id, v FROM t ORDER BY id")
		if err == nil && got != "99,late" {
			err = fmt.Errorf("t is %q", got)
		}
		return err
	})
	if _, err := odb.Exec("SELECT * FROM k"); err == nil {
		t.Error("the dropped table shows on the branch that keeps the accident")
	}
	if _, err := odb.Exec("INSERT INTO t VALUES (100, 'branch')"); err != nil {
		t.Errorf("a write on branch oops: %v", err)
	}
	if got, err := rowsOf(db, "SELECT id, v FROM t ORDER BY id"); err != nil || got != "1,one 2,two 3,three 4,four" {
		t.Errorf("the main database after a write on the old one: %q, %v", got, err)
	}

	// Deleting it retires it: the main database reads its pages below the restore point.
	if out, err := ctl("branch", "delete", "oops"); err != nil || !strings.Contains(out, "keep its pages") {
		t.Errorf("ctl branch delete oops: %v\n%s", err, out)
	}
	if out, err := ctl("branch", "list"); err != nil || strings.Contains(out, "oops") {
		t.Errorf("ctl branch list after the delete: %v\n%s", err, out)
	}
	// A new cluster archives by default (DATA/archive), and the archive follows the restore:
	// the restored main database's timeline is recorded there.
	tl := regexp.MustCompile(`\(timeline (\d+) from lsn`).FindStringSubmatch(out)
	if tl == nil {
		t.Fatalf("no timeline in %q", out)
	}
	eventually(t, 30*time.Second, "the restored timeline in the default archive", func() error {
		_, err := os.Stat(filepath.Join(c.dir, "archive", "timelines", tl[1]))
		return err
	})
	c.exec(db, "UPDATE t SET v = 'uno' WHERE id = 1")
	// Reads through the proxy may go to the read-only node, a few milliseconds behind.
	eventually(t, 10*time.Second, "the main database after the delete", func() error {
		got, err := rowsOf(db, "SELECT id, v FROM t ORDER BY id")
		if err == nil && got != "1,uno 2,two 3,three 4,four" {
			err = fmt.Errorf("t is %q", got)
		}
		return err
	})
}
