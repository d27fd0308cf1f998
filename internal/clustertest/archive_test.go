package clustertest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"strata/internal/logapi/logstorepb"
)

// writerNode returns the writer's status.
func (c *cluster) writerNode() (node, error) {
	st, err := c.status()
	if err != nil {
		return node{}, err
	}
	for _, n := range st.Nodes {
		if n.Role == "rw" {
			return n, nil
		}
	}
	return node{}, fmt.Errorf("no writer in the status")
}

// waitArchived waits until the writer's archive holds its whole durable log.
func (c *cluster) waitArchived(t *testing.T) {
	t.Helper()
	eventually(t, 30*time.Second, "the archive holds the whole log", func() error {
		rw, err := c.writerNode()
		if err == nil && (rw.Archived == 0 || rw.Archived < rw.Durable || rw.ArchiveError != "") {
			err = fmt.Errorf("archived to %d, durable to %d (%q)", rw.Archived, rw.Durable, rw.ArchiveError)
		}
		return err
	})
}

// TestArchiveRebuild: a cluster archives its log (`strata up --archive DIR`); with every Log
// Store, Page Store and control plane directory gone, `strata up --rebuild-from DIR` builds a
// new cluster from the archive alone, whose table has the checksum it had at the last
// archived commit, and which takes writes; the history it rebuilds runs through a
// point-in-time restore (two timelines). A damaged chunk stops a rebuild with an error that
// names it.
func TestArchiveRebuild(t *testing.T) {
	arch := filepath.Join(t.TempDir(), "archive")
	c := startCluster(t, "--archive", arch, "--archive-delay", "200ms")
	db := c.newDatabase(4)
	c.exec(db, "CREATE TABLE t "+rowsSchema)
	for i := 0; i < 400; i += 50 {
		var vals []string
		for j := i; j < i+50; j++ {
			vals = append(vals, fmt.Sprintf("(%d, %d, REPEAT('%c', %d))", j, j*7, 'a'+j%26, 200+j))
		}
		c.exec(db, "INSERT INTO t VALUES "+strings.Join(vals, ","))
	}
	c.exec(db, "UPDATE t SET v = v + 1 WHERE id % 3 = 0")
	c.exec(db, "DELETE FROM t WHERE id % 7 = 0")
	c.exec(db, "CREATE INDEX tv ON t (v)")
	// An accident, and a point-in-time restore to before it: the main database's history then
	// runs through two timelines, and the archive must follow it.
	time.Sleep(2 * time.Millisecond)
	at := time.Now().Format("2006-01-02 15:04:05.000000")
	time.Sleep(2 * time.Millisecond)
	c.exec(db, "DELETE FROM t WHERE id < 300")
	if out, err := exec.Command(strataBin, "ctl", "restore", "--at", at, "--data", c.dir).CombinedOutput(); err != nil {
		t.Fatalf("ctl restore: %v\n%s", err, out)
	}
	eventually(t, 30*time.Second, "writes after the restore", func() error {
		_, err := db.Exec("UPDATE t SET pad = 'restored' WHERE id % 5 = 0")
		return err
	})
	want := checksum(t, db, "")
	if !strings.HasPrefix(want, "342 rows") {
		t.Fatalf("the table after the restore: %s", want)
	}
	c.waitArchived(t)
	out, err := exec.Command(strataBin, "ctl", "status", "--data", c.dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "archive: the log is archived to lsn") {
		t.Errorf("ctl status: %v\n%s", err, out)
	}
	c.stop()
	if err := os.RemoveAll(c.dir); err != nil { // every store's directory, the control plane's
		t.Fatal(err)
	}

	// A damaged copy of the archive: one byte of one chunk changed.
	bad := filepath.Join(t.TempDir(), "archive")
	if err := exec.Command("cp", "-a", arch, bad).Run(); err != nil {
		t.Fatal(err)
	}
	chunks, _ := filepath.Glob(filepath.Join(bad, "log", "0", "*"))
	if len(chunks) == 0 {
		t.Fatal("no log chunk in the archive")
	}
	b, err := os.ReadFile(chunks[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(chunks[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	half := filepath.Join(t.TempDir(), "data")
	upOut, err := exec.Command(strataBin, "up", "--data", half, "--port", "0", "--rebuild-from", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(upOut), "damaged") || !strings.Contains(string(upOut), filepath.Base(chunks[0])) {
		t.Errorf("a rebuild from a damaged archive: %v\n%s", err, tailLines(string(upOut), 10))
	}
	// What it left is refused: it holds part of the database.
	upOut, err = exec.Command(strataBin, "up", "--data", half, "--port", "0").CombinedOutput()
	if err == nil || !strings.Contains(string(upOut), "did not complete") {
		t.Errorf("serving a half-made rebuild: %v\n%s", err, tailLines(string(upOut), 10))
	}

	start := time.Now()
	c2 := startCluster(t, "--rebuild-from", arch)
	t.Logf("rebuilt and serving in %v", time.Since(start).Round(time.Millisecond))
	if log := c2.tail(c2.upLog, 200); !strings.Contains(log, "rebuilt the log from the archive") {
		t.Errorf("strata up does not say it rebuilt:\n%s", log)
	}
	db2 := c2.db("d")
	if got := checksum(t, db2, ""); got != want {
		t.Fatalf("rebuilt table: %s, want %s", got, want)
	}
	c2.exec(db2, "INSERT INTO t VALUES (1000, 1, 'after')")
	if _, err := db2.Exec("SELECT * FROM t WHERE v = 7"); err != nil {
		t.Errorf("the index on the rebuilt database: %v", err)
	}
}

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestArchiveUnreachable: with an archive that cannot be reached, writes go on, the status
// warns, and the Log Stores keep the whole log: 40 MB of it (more than two 16 MiB segments,
// which the writer would truncate once the Page Stores persisted them) stays from its first
// byte.
func TestArchiveUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c := startCluster(t, "--archive", "s3://"+addr+"/bucket?secure=false", "--archive-delay", "200ms")
	db := c.newDatabase(4)
	c.exec(db, "CREATE TABLE r "+rowsSchema)
	loadRows(t, db, 40000, 200)
	eventually(t, 30*time.Second, "the status warns about the archive", func() error {
		rw, err := c.writerNode()
		if err == nil && rw.ArchiveError == "" {
			err = fmt.Errorf("no archive error in the writer's status: %+v", rw)
		}
		return err
	})
	out, err := exec.Command(strataBin, "ctl", "status", "--data", c.dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "WARNING: the archive cannot be written") {
		t.Errorf("ctl status: %v\n%s", err, out)
	}
	// Every Page Store persists the log (a truncation would follow within a maintain round).
	eventually(t, 60*time.Second, "the Page Stores persist the log", func() error {
		st, err := c.status()
		if err != nil {
			return err
		}
		rw, err := c.writerNode()
		if err != nil {
			return err
		}
		for _, n := range st.Nodes {
			if n.Role == "pagestore" && n.Persisted < rw.Durable {
				return fmt.Errorf("%s persisted %d of %d", n.ID, n.Persisted, rw.Durable)
			}
		}
		return nil
	})
	time.Sleep(3 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, id := range []string{"logstore-1", "logstore-2", "logstore-3"} {
		st, err := logStoreClient(t, c, id).GetStatus(ctx, &logstorepb.StatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if st.GetEnd() < 40<<20 || st.GetFirst() != 64 {
			t.Errorf("%s holds the log [%d, %d): it must keep it all while nothing is archived", id, st.GetFirst(), st.GetEnd())
		}
	}
	checkCopy(t, db, "r", 40000)
}

// TestArchiveRebuildFromBase: with bases in the archive (`--archive-base-mb`), of a main
// database that a restore made a branch store, a rebuild copies every page from the newest base
// and replays only the log after it; the log below the oldest base kept is gone from the
// archive.
func TestArchiveRebuildFromBase(t *testing.T) {
	arch := filepath.Join(t.TempDir(), "archive")
	// A short history window, so that the archive's log below its oldest base goes.
	c := startCluster(t, "--archive", arch, "--archive-delay", "200ms", "--archive-base-mb", "1", "--history", "3s")
	db := c.newDatabase(4)
	c.exec(db, "CREATE TABLE t "+rowsSchema)
	c.exec(db, "INSERT INTO t VALUES (-1, 0, 'before the restore')")
	// A restore first: the bases are then of a restored main database, a branch store whose
	// copies must hold the pages it shares with the timeline before it.
	time.Sleep(2 * time.Millisecond)
	at := time.Now().Format("2006-01-02 15:04:05.000000")
	time.Sleep(2 * time.Millisecond)
	c.exec(db, "INSERT INTO t VALUES (-2, 0, 'undone by the restore')")
	out, err := exec.Command(strataBin, "ctl", "restore", "--at", at, "--data", c.dir).CombinedOutput()
	if err != nil {
		t.Fatalf("ctl restore: %v\n%s", err, out)
	}
	tl := regexp.MustCompile(`\(timeline (\d+) from lsn`).FindStringSubmatch(string(out))
	if tl == nil {
		t.Fatalf("no timeline in %q", out)
	}
	eventually(t, 30*time.Second, "writes after the restore", func() error {
		_, err := db.Exec("INSERT INTO t VALUES (-3, 0, 'after the restore')")
		return err
	})
	c.fillRows(db, 3000)
	eventually(t, 60*time.Second, "a base in the archive", func() error {
		if m, _ := filepath.Glob(filepath.Join(arch, "base", tl[1], "*", "manifest")); len(m) == 0 {
			return fmt.Errorf("no base yet")
		}
		return nil
	})
	c.exec(db, "UPDATE t SET v = v + 1 WHERE id % 3 = 0")
	c.exec(db, "DELETE FROM t WHERE id % 7 = 0")
	c.exec(db, "INSERT INTO t VALUES (5000, 1, 'after the base')")
	want := checksum(t, db, "")
	c.waitArchived(t)
	// Once the oldest base is older than the window, the log below it goes.
	eventually(t, 30*time.Second, "the log below the oldest base pruned", func() error {
		chunks, _ := filepath.Glob(filepath.Join(arch, "log", tl[1], "*"))
		bases, _ := filepath.Glob(filepath.Join(arch, "base", tl[1], "*"))
		if len(chunks) == 0 || len(bases) == 0 {
			t.Fatalf("the archive holds %d chunks and %d bases of timeline %s", len(chunks), len(bases), tl[1])
		}
		// Chunk names are start-end and base names the base's position, in 16 hex digits each.
		if base, first := filepath.Base(bases[0]), filepath.Base(chunks[0]); first[17:] <= base {
			return fmt.Errorf("log that ends below the oldest base (%s) is still in the archive: %s", base, first)
		}
		return nil
	})
	c.stop()
	if err := os.RemoveAll(c.dir); err != nil {
		t.Fatal(err)
	}
	c2 := startCluster(t, "--rebuild-from", arch)
	if log := c2.tail(c2.upLog, 200); !strings.Contains(log, "rebuilt the log from the archive: from the base at lsn") {
		t.Errorf("strata up does not say it rebuilt from a base:\n%s", log)
	}
	db2 := c2.db("d")
	if got := checksum(t, db2, ""); got != want {
		t.Fatalf("rebuilt table: %s, want %s", got, want)
	}
	c2.exec(db2, "INSERT INTO t VALUES (6000, 1, 'rebuilt')")
}
