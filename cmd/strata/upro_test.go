package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"strata/internal/meta"
)

// roNode returns the read-only node id from the cluster's status once it is up.
func roNode(t *testing.T, dir, id string) meta.Node {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, n := range clusterStatus(t, dir) {
			if n.Role == meta.RoleRO && n.ID == id && n.State == meta.StateUp && n.Addr != "" {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("read-only node %s not up:\n%s", id, nodeLogs(dir))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestUpReadOnly: 'strata up' runs a read-only node, a separate process on a MySQL port of
// its own, that follows the writer: after each commit, waiting for the session's commit LSN
// there makes the commit visible; after splits, DDL and purge its tables checksum as the
// writer's; it refuses writes with 1290; 'ctl add-ro' starts another at once and 'ctl
// remove-ro' stops it. Sessions through the proxy on the cluster's MySQL port read their own
// writes, and their reads go to the read-only node.
func TestUpReadOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	up := startUp(t, dir)
	var rwAddr string
	for _, n := range waitNodes(t, dir, 10) {
		if n.Role == meta.RoleRW {
			rwAddr = n.Addr
		}
	}
	rwDB, err := sql.Open("mysql", "root@tcp("+rwAddr+")/?timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	defer rwDB.Close()
	ro := roNode(t, dir, "ro-1")
	roDB, err := sql.Open("mysql", "root@tcp("+ro.Addr+")/?timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	defer roDB.Close()

	w, err := rwDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, q := range []string{"CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY, k INT, v VARCHAR(200), KEY (k))"} {
		if _, err := w.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// readMine waits on the read-only node for the session's last commit and counts rows.
	readMine := func(q string) string {
		t.Helper()
		var lsn, applied uint64
		if err := w.QueryRowContext(ctx, "SELECT STRATA_LAST_COMMIT_LSN()").Scan(&lsn); err != nil {
			t.Fatal(err)
		}
		if err := roDB.QueryRowContext(ctx, "SELECT STRATA_WAIT_LSN(?, 10)", lsn).Scan(&applied); err != nil || applied < lsn {
			t.Fatalf("the read-only node reached %d, want %d (%v)", applied, lsn, err)
		}
		var out string
		if err := roDB.QueryRowContext(ctx, q).Scan(&out); err != nil {
			t.Fatalf("%s on the read-only node: %v", q, err)
		}
		return out
	}
	for i := 0; i < 60; i++ {
		if _, err := w.ExecContext(ctx, "INSERT INTO d.t VALUES (?, ?, REPEAT('x', 150))", i, i%7); err != nil {
			t.Fatal(err)
		}
		if got := readMine("SELECT COUNT(*) FROM d.t"); got != fmt.Sprint(i+1) {
			t.Fatalf("after insert %d the read-only node counts %s rows", i, got)
		}
	}
	// Bulk changes (page splits and merges), DDL, a new table.
	for _, q := range []string{
		"INSERT INTO d.t SELECT id + 1000, id % 5, REPEAT('y', 180) FROM d.t",
		"INSERT INTO d.t SELECT id + 5000, id % 3, REPEAT('z', 190) FROM d.t",
		"UPDATE d.t SET v = CONCAT(v, 'u') WHERE id % 2 = 0",
		"DELETE FROM d.t WHERE id % 3 = 1",
		"ALTER TABLE d.t ADD COLUMN w INT NOT NULL DEFAULT 7",
		"CREATE TABLE d.u (a INT PRIMARY KEY)",
		"INSERT INTO d.u VALUES (1), (2)",
	} {
		if _, err := w.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	sum := "SELECT CONCAT(COUNT(*), ':', SUM(id), ':', SUM(k), ':', SUM(LENGTH(v)), ':', SUM(w)) FROM d.t"
	var want string
	if err := w.QueryRowContext(ctx, sum).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if got := readMine(sum); got != want {
		t.Fatalf("read-only checksum %s, writer's %s", got, want)
	}
	if got := readMine("SELECT COUNT(*) FROM d.t WHERE k = 2"); got == "0" {
		t.Fatal("the secondary index reads nothing on the read-only node")
	}
	if got := readMine("SELECT SUM(a) FROM d.u"); got != "3" {
		t.Fatalf("a new table on the read-only node: %s", got)
	}
	// A long transaction on the read-only node keeps reading its snapshot while the writer
	// rewrites the same rows again and again and its purge runs (every second): the read-only
	// node's horizon, reported through the control plane, keeps the versions it reads.
	long, err := roDB.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var before string
	if err := long.QueryRowContext(ctx, sum).Scan(&before); err != nil || before != want {
		t.Fatalf("a long read on the read-only node: %s, %v (want %s)", before, err, want)
	}
	for round := 0; round < 8; round++ {
		if _, err := w.ExecContext(ctx, "UPDATE d.t SET k = k + 1, v = CONCAT('r', v)"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(400 * time.Millisecond)
	}
	var after string
	if err := long.QueryRowContext(ctx, sum).Scan(&after); err != nil || after != before {
		t.Fatalf("the long read after the writer's rewrites and purge: %s, %v (want %s)", after, err, before)
	}
	if err := long.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := w.QueryRowContext(ctx, sum).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if got := readMine(sum); got != want || got == before {
		t.Fatalf("after the long read the read-only node reads %s, the writer %s", got, want)
	}
	var me *mysql.MySQLError
	if _, err := roDB.ExecContext(ctx, "INSERT INTO d.u VALUES (3)"); !errors.As(err, &me) || me.Number != 1290 {
		t.Fatalf("a write on the read-only node: %v", err)
	}
	if out := run(t, "ctl", "status", "--data", dir); !strings.Contains(out, "LAG") || !strings.Contains(out, "ro-1") {
		t.Fatalf("ctl status:\n%s", out)
	}

	readYourWritesThroughProxy(t, up.addr, ro)

	// Another read-only node, added while the cluster serves.
	start := time.Now()
	out := run(t, "ctl", "add-ro", "--data", dir)
	if !strings.Contains(out, "read-only node ro-2 serving MySQL on") {
		t.Fatalf("ctl add-ro:\n%s", out)
	}
	t.Logf("ctl add-ro took %v", time.Since(start))
	ro2 := roNode(t, dir, "ro-2")
	ro2DB, err := sql.Open("mysql", "root@tcp("+ro2.Addr+")/d?timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	defer ro2DB.Close()
	var got string
	var lsn uint64
	if err := w.QueryRowContext(ctx, "SELECT STRATA_LAST_COMMIT_LSN()").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	if err := ro2DB.QueryRowContext(ctx, "SELECT STRATA_WAIT_LSN(?, 10)", lsn).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if err := ro2DB.QueryRowContext(ctx, sum).Scan(&got); err != nil || got != want {
		t.Fatalf("the added read-only node: %s, %v (want %s)", got, err, want)
	}
	run(t, "ctl", "remove-ro", "ro-2", "--data", dir)
	deadline := time.Now().Add(30 * time.Second)
	for alive(ro2.PID) {
		if time.Now().After(deadline) {
			t.Fatalf("ro-2 (pid %d) still runs after remove-ro", ro2.PID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	refusesWithoutControlPlane(t, dir, roDB, sum, want)
}

// refusesWithoutControlPlane: while the control plane is unreachable (its process stopped),
// the read-only node cannot publish its oldest read view, so the writer may stop honouring it:
// after about two seconds the node refuses reads with MySQL's offline-mode error 3032; once
// the control plane is back it is acknowledged anew and reads again.
func refusesWithoutControlPlane(t *testing.T, dir string, roDB *sql.DB, sum, want string) {
	t.Helper()
	ctx := context.Background()
	var metaPID int
	for _, n := range clusterStatus(t, dir) {
		if n.Role == meta.RoleMeta {
			metaPID = n.PID
		}
	}
	if err := syscall.Kill(metaPID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			_ = syscall.Kill(metaPID, syscall.SIGCONT)
		}
	}()
	var me *mysql.MySQLError
	deadline := time.Now().Add(15 * time.Second)
	for {
		var got string
		err := roDB.QueryRowContext(ctx, sum).Scan(&got)
		if errors.As(err, &me) && me.Number == 3032 {
			break
		}
		if err != nil || got != want {
			t.Fatalf("a read while the control plane is away: %s, %v", got, err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the read-only node still serves 15 s after the control plane went away")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := syscall.Kill(metaPID, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	deadline = time.Now().Add(30 * time.Second)
	for {
		var got string
		err := roDB.QueryRowContext(ctx, sum).Scan(&got)
		if err == nil {
			if got != want {
				t.Fatalf("after the control plane came back: %s, want %s", got, want)
			}
			return
		}
		if !errors.As(err, &me) || me.Number != 3032 {
			t.Fatalf("after the control plane came back: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the read-only node still refuses reads 30 s after the control plane came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readYourWritesThroughProxy: sessions through the proxy each insert rows and read them back
// at once, always seeing their own; the reads are answered by the read-only node (its
// statement counter moves).
func readYourWritesThroughProxy(t *testing.T, proxyAddr string, ro meta.Node) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("mysql", "root@tcp("+proxyAddr+")/d?timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE ryw (s INT, i INT, PRIMARY KEY (s, i))"); err != nil {
		t.Fatal(err)
	}
	roSelects := func() float64 {
		return scrape(t, "http://"+ro.Metrics+"/metrics")[`strata_sql_statements_total{kind="select"}`]
	}
	before := roSelects()
	const sessions, rows = 4, 15
	errs := make(chan error, sessions)
	for s := range sessions {
		go func() {
			c, err := db.Conn(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for i := range rows {
				if _, err := c.ExecContext(ctx, "INSERT INTO ryw VALUES (?, ?)", s, i); err != nil {
					errs <- err
					return
				}
				var n int
				if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM ryw WHERE s = ?", s).Scan(&n); err != nil {
					errs <- err
					return
				}
				if n != i+1 {
					errs <- fmt.Errorf("session %d after its insert %d reads %d rows", s, i, n)
					return
				}
			}
			errs <- nil
		}()
	}
	for range sessions {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if after := roSelects(); after-before < sessions*rows/2 {
		t.Fatalf("the read-only node answered %v selects of the %d read through the proxy", after-before, sessions*rows)
	}
}
