package sqlstore

import (
	"context"
	gosql "database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"strata/internal/engine"
	"strata/internal/page"
	"strata/internal/storage"
)

// localFollow is the one-process log as a follower reads it: its latest group end is the
// writer's visible LSN.
type localFollow struct {
	storage.LogReader
	groupEnd func() page.LSN
}

func (l localFollow) GroupEnd() page.LSN { return l.groupEnd() }

// TestFollowerServesSQL: SQL over a read-only engine that follows the writer's log sees the
// writer's rows, tables, columns, users and grants once it has replayed them, with no
// re-sync; a statement prepared before a schema change answers with the new schema after it.
func TestFollowerServesSQL(t *testing.T) {
	ctx := context.Background()
	rw := startNode(t, t.TempDir())
	w := rw.connect(t, "")
	mustExec(t, w, "CREATE DATABASE d")
	mustExec(t, w, "CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(20), KEY (v))")
	mustExec(t, w, "INSERT INTO d.t VALUES (1, 'a'), (2, 'b'), (3, 'c')")

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	follow := localFollow{LogReader: rw.db.Log, groupEnd: rw.db.VisibleLSN}
	roDB, err := engine.OpenReadOnly(ctx, engine.ReadOnlyOptions{Pages: rw.db.Pages, View: rw.db.VisibleLSN(),
		Follow: follow, PoolFrames: 64, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer roDB.Close()
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
	// caughtUp waits until the follower has replayed everything the writer made visible, and
	// tells the writer which versions the follower's readers still need.
	caughtUp := func() {
		t.Helper()
		rw.db.ReportSnapshot("ro", roDB.Horizon())
		end := rw.db.VisibleLSN()
		deadline := time.Now().Add(10 * time.Second)
		for roDB.VisibleLSN() < end {
			if time.Now().After(deadline) {
				st, _ := roDB.ReplayStats()
				t.Fatalf("the follower is at %d, the writer at %d: %+v", roDB.VisibleLSN(), end, st)
			}
			time.Sleep(time.Millisecond)
		}
	}

	c := conns(t, ro, 1)[0]
	sel, err := c.PrepareContext(ctx, "SELECT * FROM t WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close()
	if got := stmtRows(t, sel, 2); got != "2,b" {
		t.Fatalf("prepared select: %s", got)
	}

	mustExec(t, w, "INSERT INTO d.t VALUES (4, 'd')")
	mustExec(t, w, "UPDATE d.t SET v = 'bb' WHERE id = 2")
	mustExec(t, w, "DELETE FROM d.t WHERE id = 3")
	mustExec(t, w, "CREATE TABLE d.u (i INT PRIMARY KEY)")
	mustExec(t, w, "INSERT INTO d.u VALUES (7)")
	mustExec(t, w, "ALTER TABLE d.t ADD COLUMN x INT NOT NULL DEFAULT 5")
	mustExec(t, w, "CREATE USER bob IDENTIFIED BY 'pw'")
	mustExec(t, w, "GRANT SELECT ON d.* TO bob")
	caughtUp()
	if got := queryRows(t, ro, "SELECT id, v, x FROM t ORDER BY id"); got != "1,a,5 2,bb,5 4,d,5" {
		t.Fatalf("rows after replay: %s", got)
	}
	if got := queryRows(t, ro, "SELECT id FROM t WHERE v = 'bb'"); got != "2" {
		t.Fatalf("the secondary index after replay: %s", got)
	}
	if got := queryRows(t, ro, "SELECT i FROM u"); got != "7" {
		t.Fatalf("a table the writer created: %s", got)
	}
	if got := stmtRows(t, sel, 2); got != "2,bb,5" {
		t.Fatalf("the statement prepared before ALTER TABLE: %s", got)
	}

	// The writer's new account logs in here, with the writer's grants, once replayed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		bob, err := gosql.Open("mysql", "bob:pw@tcp("+l.Addr().String()+")/d?timeout=5s")
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = bob.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n)
		bob.Close()
		if err == nil {
			if n != 3 {
				t.Fatalf("bob counts %d rows", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Logf("users on the follower: %s", queryRows(t, ro, "SELECT user, host FROM mysql.user"))
			t.Fatalf("bob cannot read on the follower: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mustExec(t, w, "DROP TABLE d.u")
	mustExec(t, w, "DROP USER bob")
	caughtUp()
	var me *mysql.MySQLError
	if _, err := ro.ExecContext(ctx, "SELECT * FROM u"); !errors.As(err, &me) || me.Number != 1146 {
		t.Fatalf("a table the writer dropped: %v", err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		bob, _ := gosql.Open("mysql", "bob:pw@tcp("+l.Addr().String()+")/d?timeout=5s")
		err := bob.PingContext(ctx)
		bob.Close()
		if errors.As(err, &me) && me.Number == 1045 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a dropped account still logs in on the follower: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := ro.ExecContext(ctx, "INSERT INTO t VALUES (5, 'e', 1)"); !errors.As(err, &me) || me.Number != 1290 {
		t.Fatalf("a write on the read-only node: %v", err)
	}
	if st, _ := roDB.ReplayStats(); st.Resyncs != 0 || st.CatalogChanges == 0 {
		t.Fatalf("replay stats %+v", st)
	}
}

// TestLSNFunctions: the log positions the proxy routes reads by. A session's commit LSN,
// waited for on a follower, makes the session's write visible there; a wait for a position
// the log has not reached returns the follower's position when it times out.
func TestLSNFunctions(t *testing.T) {
	ctx := context.Background()
	rw := startNode(t, t.TempDir())
	w := conns(t, rw.connect(t, ""), 1)[0]
	mustExec(t, w, "CREATE DATABASE d")
	mustExec(t, w, "CREATE TABLE d.t (id INT PRIMARY KEY)")
	var fresh uint64
	if err := conns(t, rw.connect(t, ""), 1)[0].QueryRowContext(ctx, "SELECT STRATA_LAST_COMMIT_LSN()").Scan(&fresh); err != nil || fresh != 0 {
		t.Fatalf("a new session's last commit: %d, %v", fresh, err)
	}

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	roDB, err := engine.OpenReadOnly(ctx, engine.ReadOnlyOptions{Pages: rw.db.Pages, View: rw.db.VisibleLSN(),
		Follow: localFollow{LogReader: rw.db.Log, groupEnd: rw.db.VisibleLSN}, PoolFrames: 64, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer roDB.Close()
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

	var prev uint64
	for i := range 20 {
		mustExec(t, w, "INSERT INTO d.t VALUES (?)", i)
		var commit, durable uint64
		if err := w.QueryRowContext(ctx, "SELECT STRATA_LAST_COMMIT_LSN(), STRATA_DURABLE_LSN()").Scan(&commit, &durable); err != nil {
			t.Fatal(err)
		}
		if commit <= prev || durable < commit {
			t.Fatalf("commit %d: lsn %d after %d, durable %d", i, commit, prev, durable)
		}
		prev = commit
		var applied uint64
		if err := ro.QueryRowContext(ctx, "SELECT STRATA_WAIT_LSN(?, 5)", commit).Scan(&applied); err != nil || applied < commit {
			t.Fatalf("wait for %d on the follower: %d, %v", commit, applied, err)
		}
		var n int
		if err := ro.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != i+1 {
			t.Fatalf("after waiting for commit %d the follower counts %d rows (%v)", i, n, err)
		}
	}
	start := time.Now()
	var applied uint64
	if err := ro.QueryRowContext(ctx, "SELECT STRATA_WAIT_LSN(?, 0.05)", prev+1<<40).Scan(&applied); err != nil || applied < prev || applied >= prev+1<<40 {
		t.Fatalf("a wait that times out: %d, %v", applied, err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("a 50 ms wait returned after %v", d)
	}
	status := func(db interface {
		QueryContext(context.Context, string, ...any) (*gosql.Rows, error)
	}) map[string]string {
		rows, err := db.QueryContext(ctx, "SHOW STATUS LIKE 'strata%'")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				t.Fatal(err)
			}
			out[k] = v
		}
		return out
	}
	if st := status(ro); st["Strata_role"] != "ro" || st["Strata_replay_groups"] == "0" || st["Strata_replay_groups"] == "" ||
		st["Strata_applied_lsn"] != fmt.Sprint(roDB.VisibleLSN()) || st["Strata_replay_lag_ms"] == "" {
		t.Fatalf("status on the follower: %v", st)
	}
	if st := status(w); st["Strata_role"] != "rw" || st["Strata_durable_lsn"] == "" || st["Strata_replay_groups"] != "" {
		t.Fatalf("status on the writer: %v", st)
	}
	var me *mysql.MySQLError
	if _, err := ro.ExecContext(ctx, "SELECT STRATA_WAIT_LSN(1)"); !errors.As(err, &me) {
		t.Fatalf("STRATA_WAIT_LSN with one argument: %v", err)
	}
	if _, err := ro.ExecContext(ctx, "SELECT STRATA_WAIT_LSN(1, -1)"); err == nil {
		t.Fatal("a negative timeout was accepted")
	}
}
