package clustertest

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tableRows returns table t's rows (id,v) in id order, as "1,one 2,two".
func tableRows(t *testing.T, db *sql.DB) string {
	t.Helper()
	out, err := rowsOf(db, "SELECT id, v FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBranchCluster: `ctl branch create` makes a writable database from the main one as of a
// moment, served by a writer of its own on its own port: it starts with the main database's
// rows of that moment, and the two then diverge independently; `ctl branch delete` stops it.
func TestBranchCluster(t *testing.T) {
	c := startCluster(t)
	db := c.newDatabase(1)
	c.exec(db, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
	c.exec(db, "INSERT INTO t VALUES (1, 'one'), (2, 'two')")
	time.Sleep(2 * time.Millisecond)
	at := time.Now().Format("2006-01-02 15:04:05.000000")
	time.Sleep(2 * time.Millisecond)
	c.exec(db, "UPDATE t SET v = 'main' WHERE id = 1")
	c.exec(db, "INSERT INTO t VALUES (3, 'three')")

	ctl := c.ctl
	start := time.Now()
	out, err := ctl("branch", "create", "dev", "--at", at)
	if err != nil {
		t.Fatalf("ctl branch create: %v\n%s\n%s", err, out, c.tail(c.upLog, 30))
	}
	t.Logf("%s (%v)", out, time.Since(start).Round(time.Millisecond))
	bdb, addr := servedDB(t, out)
	if got := tableRows(t, bdb); got != "1,one 2,two" {
		t.Fatalf("the branch starts with %q, want the rows of the moment", got)
	}
	for _, q := range []string{"INSERT INTO t VALUES (10, 'branch')", "UPDATE t SET v = 'b' WHERE id = 2", "CREATE TABLE u (x INT PRIMARY KEY)"} {
		if _, err := bdb.Exec(q); err != nil {
			t.Fatalf("on the branch, %s: %v", q, err)
		}
	}
	c.exec(db, "DELETE FROM t WHERE id = 3")
	c.exec(db, "INSERT INTO t VALUES (4, 'four')")
	if got := tableRows(t, bdb); got != "1,one 2,b 10,branch" {
		t.Errorf("the branch: %q", got)
	}
	if got := tableRows(t, db); got != "1,main 2,two 4,four" {
		t.Errorf("the main database: %q", got)
	}
	if _, err := db.Exec("SELECT * FROM u"); err == nil {
		t.Error("a table made on the branch shows on the main database")
	}
	if out, err := ctl("status"); err != nil || !strings.Contains(out, "snapshots 0, branches 1") {
		t.Errorf("ctl status: %v\n%s", err, out)
	}
	if out, err := ctl("branch", "list"); err != nil || !strings.Contains(out, "dev") || !strings.Contains(out, "ready") || !strings.Contains(out, addr) {
		t.Errorf("ctl branch list: %v\n%s", err, out)
	}
	if out, err := ctl("branch", "create", "dev"); err == nil || !strings.Contains(out, "already exists") {
		t.Errorf("a second branch of the same name: %v\n%s", err, out)
	}
	if out, err := ctl("branch", "create", "old", "--at", "2000-01-01 00:00:00"); err == nil || !strings.Contains(out, "cannot be made") {
		t.Errorf("a branch before the history window: %v\n%s", err, out)
	}
	// A branch of the branch: made by dev's writer from dev's history; then deleting dev
	// retires it (dev2 reads its pages), and dev2 goes on.
	if out, err := ctl("branch", "create", "dev2", "--from", "nosuch"); err == nil || !strings.Contains(out, "no such branch") {
		t.Errorf("a branch of a missing branch: %v\n%s", err, out)
	}
	out2, err := ctl("branch", "create", "dev2", "--from", "dev")
	if err != nil {
		t.Fatalf("ctl branch create --from: %v\n%s", err, out2)
	}
	b2db, _ := servedDB(t, out2)
	if got := tableRows(t, b2db); got != "1,one 2,b 10,branch" {
		t.Fatalf("the branch of the branch starts with %q, want dev's rows", got)
	}
	if _, err := b2db.Exec("INSERT INTO t VALUES (20, 'dev2')"); err != nil {
		t.Fatal(err)
	}
	if got := tableRows(t, bdb); got != "1,one 2,b 10,branch" {
		t.Errorf("dev after a write on its branch: %q", got)
	}
	if out, err := ctl("branch", "delete", "dev"); err != nil || !strings.Contains(out, "keep its pages") {
		t.Fatalf("ctl branch delete dev (with a branch made from it): %v\n%s", err, out)
	}
	if got := tableRows(t, b2db); got != "1,one 2,b 10,branch 20,dev2" {
		t.Errorf("dev2 after dev was deleted: %q", got)
	}
	if out, err := ctl("branch", "delete", "dev2"); err != nil {
		t.Fatalf("ctl branch delete dev2: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for bdb.Ping() == nil {
		if time.Now().After(deadline) {
			t.Fatal("a deleted branch still serves after 30 s")
		}
		bdb.Close()
		bdb, _ = sql.Open("mysql", "root@tcp("+addr+")/d?timeout=1s")
		time.Sleep(200 * time.Millisecond)
	}
	if got := tableRows(t, db); got != "1,main 2,two 4,four" {
		t.Errorf("the main database after the branch went: %q", got)
	}
	// Its log goes from every Log Store.
	tl := regexp.MustCompile(`\(timeline (\d+)\)`).FindStringSubmatch(out)
	if tl == nil {
		t.Fatalf("no timeline in %q", out)
	}
	for _, id := range []string{"logstore-1", "logstore-2", "logstore-3"} {
		dir := filepath.Join(c.dir, id, "timelines", tl[1])
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still holds the deleted branch's log %s after 30 s", id, dir)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}
