package clustertest

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestArchiveBranchRestore: a branch and a point-in-time restore to a moment the Page Stores
// no longer keep (a 2 s history window) are made from the archive (kept an hour): from its
// base before the moment and the archived log after it, or from the log's first position for a
// moment before the first base. The branch has the table's checksum
// of that moment and takes writes of its own; the restored main database has it too and takes
// writes; a moment older than anything the archive holds is refused, and nothing of it stays.
func TestArchiveBranchRestore(t *testing.T) {
	arch := filepath.Join(t.TempDir(), "archive")
	c := startCluster(t, "--archive", arch, "--archive-delay", "200ms", "--archive-base-mb", "1",
		"--history", "2s", "--archive-keep", "1h")
	db := c.newDatabase(4)
	c.exec(db, "CREATE TABLE t "+rowsSchema)
	c.exec(db, "INSERT INTO t VALUES (-1, 1, 'first')")
	first := checksum(t, db, "")
	time.Sleep(2 * time.Millisecond)
	early := time.Now().Format("2006-01-02 15:04:05.000000")
	time.Sleep(2 * time.Millisecond)
	c.exec(db, "UPDATE t SET v = 2 WHERE id = -1")
	c.fillRows(db, 3000)
	eventually(t, 60*time.Second, "a base in the archive", func() error {
		if m, _ := filepath.Glob(filepath.Join(arch, "base", "0", "*", "manifest")); len(m) == 0 {
			return fmt.Errorf("no base yet")
		}
		return nil
	})
	c.exec(db, "UPDATE t SET v = v + 1 WHERE id % 3 = 0")
	c.exec(db, "INSERT INTO t VALUES (5000, 1, 'before the moment')")
	want := checksum(t, db, "")
	time.Sleep(2 * time.Millisecond)
	at := time.Now().Format("2006-01-02 15:04:05.000000")
	time.Sleep(2 * time.Millisecond)
	c.exec(db, "DELETE FROM t WHERE id % 7 = 0")
	c.exec(db, "UPDATE t SET pad = 'after the moment' WHERE id < 100")
	var after string
	// The moment leaves the history window: within a maintain round (1 s) after that, the
	// horizon the writer gives the Page Stores is past it.
	time.Sleep(6 * time.Second)
	c.exec(db, "INSERT INTO t VALUES (6000, 0, 'tick')")
	after = checksum(t, db, "")
	if after == want {
		t.Fatal("the changes after the moment changed nothing")
	}
	c.waitArchived(t)

	ctl := c.ctl
	defer func() {
		if t.Failed() {
			t.Logf("the logs:\n%s", c.grepLogs([]string{"compute.log", "pagestore-1.log", "branch-old.log"},
				"level=WARN", "level=ERROR", "archive", "timeline"))
		}
	}()
	// branch makes branch name at moment, and checks that it says it was made from the archive
	// as note says.
	branch := func(name, moment, note string) *sql.DB {
		t.Helper()
		out, err := ctl("branch", "create", name, "--at", moment)
		if err != nil || !strings.Contains(out, note) {
			t.Fatalf("ctl branch create %s --at %s: %v\n%s\n%s", name, moment, err, out, c.tail(c.upLog, 40))
		}
		t.Log(out)
		db, _ := servedDB(t, out)
		return db
	}
	bdb := branch("old", at, "made from the archive: its base at lsn")
	if got := checksum(t, bdb, ""); got != want {
		t.Fatalf("branch old: %s, want the moment's %s", got, want)
	}
	c.exec(bdb, "INSERT INTO t VALUES (7000, 1, 'on the branch')")
	if got := checksum(t, db, ""); got != after {
		t.Fatalf("the main database after a write on the branch: %s, want %s", got, after)
	}
	if list, err := ctl("branch", "list"); err != nil || !regexp.MustCompile(`(?m)^old\s+\d+\s+\d+ \(archive\)`).MatchString(list) {
		t.Errorf("ctl branch list does not say branch old was made from the archive: %v\n%s", err, list)
	}

	// A moment before the archive's first base, kept within --archive-keep: from the log's
	// first position.
	edb := branch("early", early, "made from the archive's log")
	if got := checksum(t, edb, ""); got != first {
		t.Fatalf("branch early: %s, want the moment's %s", got, first)
	}
	if out, err := ctl("branch", "delete", "early"); err != nil {
		t.Fatalf("ctl branch delete early: %v\n%s", err, out)
	}

	// A point-in-time restore to the same moment.
	out, err := ctl("restore", "--at", at, "--keep-as", "before")
	if err != nil || !strings.Contains(out, "made from the archive") {
		t.Fatalf("ctl restore --at %s: %v\n%s\n%s", at, err, out, c.tail(c.upLog, 40))
	}
	t.Log(out)
	eventually(t, 30*time.Second, "the restored main database", func() error {
		db.SetMaxIdleConns(0) // the writer that moved closed its connections
		if got := checksum(t, db, ""); got != want {
			return fmt.Errorf("the main database: %s, want %s", got, want)
		}
		return nil
	})
	c.exec(db, "INSERT INTO t VALUES (8000, 1, 'after the restore')")
	// The previous main database is branch before, and it reads no page of it: deleting it
	// deletes it (it is not retired).
	if out, err := ctl("branch", "delete", "before"); err != nil || strings.Contains(out, "keep its pages") {
		t.Errorf("ctl branch delete before: %v\n%s", err, out)
	}
	c.exec(db, "UPDATE t SET v = 0 WHERE id = 8000")

	// Older than anything the archive holds: refused, and nothing stays.
	if out, err := ctl("branch", "create", "ancient", "--at", "2000-01-01"); err == nil || !strings.Contains(out, "archive") {
		t.Errorf("a branch before the archive's first commit: %v\n%s", err, out)
	}
	if list, err := ctl("branch", "list"); err != nil || strings.Contains(list, "ancient") {
		t.Errorf("a refused branch stays: %v\n%s", err, list)
	}
}
