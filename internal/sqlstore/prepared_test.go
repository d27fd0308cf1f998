package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"strings"
	"testing"
	"time"

	"strata/internal/localdb"
)

// prepNode is a server over a fresh data directory, with or without the plan cache.
type prepNode struct {
	st   *Store
	addr string
}

func startPrepNode(tb testing.TB, noCache bool) *prepNode {
	tb.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := localdb.Open(ctx, localdb.Options{Dir: tb.TempDir(), Logger: quiet, LockWaitTimeout: 2 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	st, err := Open(ctx, db.DB, quiet)
	if err != nil {
		tb.Fatal(err)
	}
	eng, err := st.NewSQLEngine(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := st.ServeWith(eng, l, ServeOptions{NoPlanCache: noCache})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		srv.Close()
		db.Close()
	})
	return &prepNode{st: st, addr: l.Addr().String()}
}

// open connects with server-side prepared statements (interpolateParams=false).
func (n *prepNode) open(tb testing.TB, dbname string) *sql.DB {
	tb.Helper()
	c, err := sql.Open("mysql", fmt.Sprintf("root@tcp(%s)/%s?interpolateParams=false&timeout=5s", n.addr, dbname))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func prepare(t *testing.T, c interface {
	PrepareContext(context.Context, string) (*sql.Stmt, error)
}, q string) *sql.Stmt {
	t.Helper()
	s, err := c.PrepareContext(context.Background(), q)
	if err != nil {
		t.Fatalf("prepare %s: %v", q, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func stmtRows(t *testing.T, s *sql.Stmt, args ...any) string {
	t.Helper()
	rows, err := s.Query(args...)
	if err != nil {
		t.Fatalf("query %v: %v", args, err)
	}
	return rowsString(t, rows)
}

func rowsString(t *testing.T, rows *sql.Rows) string {
	t.Helper()
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			if v.Valid {
				parts = append(parts, v.String)
			} else {
				parts = append(parts, "NULL")
			}
		}
		out = append(out, strings.Join(parts, ","))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

// literal formats a Go value as SQL text for the unprepared twin of a statement.
func literal(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	default:
		return fmt.Sprint(v)
	}
}

func inline(q string, args ...any) string {
	for _, a := range args {
		q = strings.Replace(q, "?", literal(a), 1)
	}
	return q
}

// setupKinds makes a table to join items with: k 0..5 named k0..k5.
func setupKinds(t *testing.T, c *sql.DB) {
	t.Helper()
	mustExec(t, c, "CREATE TABLE kinds (k INT PRIMARY KEY, name VARCHAR(10))")
	for i := 0; i < 6; i++ {
		mustExec(t, c, "INSERT INTO kinds VALUES (?, ?)", i, fmt.Sprintf("k%d", i))
	}
}

// startItems starts a node with database p holding the items table, and a client of it.
func startItems(t *testing.T, noCache bool) (*prepNode, *sql.DB) {
	t.Helper()
	n, c := startP(t, noCache)
	setupItems(t, c)
	return n, c
}

// startP starts a node with an empty database p, and a client of it.
func startP(t *testing.T, noCache bool) (*prepNode, *sql.DB) {
	t.Helper()
	n := startPrepNode(t, noCache)
	mustExec(t, n.open(t, ""), "CREATE DATABASE p")
	return n, n.open(t, "p")
}

func setupItems(t *testing.T, c *sql.DB) {
	t.Helper()
	mustExec(t, c, "CREATE TABLE items (id INT PRIMARY KEY, k INT, c VARCHAR(20), d DECIMAL(10,2), KEY k_i (k))")
	for i := 1; i <= 50; i++ {
		var k any = i % 7
		if i%11 == 0 {
			k = nil
		}
		mustExec(t, c, "INSERT INTO items VALUES (?, ?, ?, ?)", i, k, fmt.Sprintf("c%02d", i), float64(i)/4)
	}
}

// TestPreparedMatchesUnprepared runs reads and writes through server-side prepared
// statements with changing parameters and compares every result with the same statement
// sent as text with the values inlined.
func TestPreparedMatchesUnprepared(t *testing.T) {
	n := startPrepNode(t, false)
	root := n.open(t, "")
	mustExec(t, root, "CREATE DATABASE p")
	c := n.open(t, "p")
	c.SetMaxOpenConns(1)
	setupItems(t, c)
	setupKinds(t, c)

	reads := []struct {
		q    string
		args [][]any
	}{
		{"SELECT c FROM items WHERE id = ?", [][]any{{1}, {2}, {50}, {300}, {-1}, {7}, {"8"}, {9.0}, {9.5}, {nil}, {1}}},
		{"SELECT id, c FROM items WHERE id BETWEEN ? AND ? ORDER BY c", [][]any{{1, 5}, {10, 20}, {20, 10}, {48, 60}, {3, 3}, {1, 5}}},
		{"SELECT SUM(d) FROM items WHERE id BETWEEN ? AND ?", [][]any{{1, 5}, {10, 20}, {7, 49}}},
		{"SELECT DISTINCT c FROM items WHERE id >= ? AND id < ? ORDER BY c DESC", [][]any{{1, 5}, {40, 45}}},
		{"SELECT id FROM items WHERE k = ? ORDER BY id", [][]any{{3}, {0}, {nil}, {6}, {"3"}, {3}}},
		{"SELECT id FROM items WHERE k <=> ? ORDER BY id", [][]any{{nil}, {2}, {nil}}},
		{"SELECT id FROM items WHERE k = ? AND id > ? ORDER BY id", [][]any{{3, 10}, {4, 0}, {4, 40}}},
		{"SELECT id, c FROM items WHERE c = ?", [][]any{{"c05"}, {"c49"}, {"C05"}, {"nope"}}},
		{"SELECT id + ?, c FROM items WHERE id = ?", [][]any{{1, 2}, {100, 3}, {0.5, 4}}},
		{"SELECT id FROM items WHERE k IN (?, ?) ORDER BY id", [][]any{{1, 2}, {3, 3}}},
		{"SELECT id FROM items WHERE id = ? OR id = ? ORDER BY id", [][]any{{1, 2}, {3, 3}}},
		{"SELECT id FROM items ORDER BY id LIMIT ?", [][]any{{2}, {3}}},
		{"SELECT id, c FROM items WHERE id IN (?, ?, ?) ORDER BY id", [][]any{{1, 2, 3}, {5, 5, 40}, {nil, 4, 9.5}, {"6", 7.0, 300}, {-1, 0, 1000}, {nil, nil, nil}, {50, 49, 48}}},
		{"SELECT id FROM items WHERE (id, k) IN ((?, ?), (?, ?)) ORDER BY id", [][]any{{1, 1, 2, 2}, {3, 0, 3, 3}, {7, 0, nil, 1}, {11, nil, 12, 5}, {1, 1, 1, 1}}},
		{"SELECT id FROM items WHERE (k, id) IN ((?, ?), (?, ?), (?, ?)) FOR UPDATE", [][]any{{1, 1, 2, 2, 3, 3}, {1, 8, 2, 9, 0, 14}, {nil, 11, 3, 3, 3, 3}}},
		{"SELECT id FROM items WHERE k = ? AND id IN (?, ?) ORDER BY id", [][]any{{1, 1, 8}, {1, 15, 22}, {nil, 11, 22}, {2, 2, 2}}},
		{"SELECT count(*) FROM items WHERE id = ? OR id = ? OR id > ?", [][]any{{1, 2, 48}, {3, 3, 100}, {nil, 4, 49}}},
		{"SELECT items.c, kinds.name FROM items, kinds WHERE kinds.k = ? AND items.k = kinds.k AND items.id = ?", [][]any{{1, 1}, {1, 8}, {2, 9}, {nil, 11}, {3, 3}, {9, 9}}},
		{"SELECT COUNT(DISTINCT items.k) FROM items JOIN kinds ON items.k = kinds.k WHERE items.id BETWEEN ? AND ? AND kinds.name <> ?", [][]any{{1, 20, "k3"}, {5, 6, "k5"}, {1, 50, "none"}}},
		{"SELECT items.id, kinds.name FROM items LEFT JOIN kinds ON kinds.k = items.k + ? WHERE items.id < ? ORDER BY items.id", [][]any{{0, 5}, {1, 12}, {nil, 3}, {-2, 8}}},
		{"SELECT kinds.name, items.id FROM kinds JOIN items ON items.k = kinds.k WHERE kinds.k IN (?, ?) AND items.id > ? ORDER BY items.id", [][]any{{1, 2, 30}, {0, 0, 0}, {6, nil, 10}}},
		// Aliases, one of them another table's name, and a table joined with itself.
		{"SELECT i.c FROM items i WHERE i.id BETWEEN ? AND ? ORDER BY i.c", [][]any{{1, 5}, {20, 10}, {48, 60}}},
		{"SELECT kinds.c FROM items kinds WHERE kinds.id = ?", [][]any{{3}, {4}, {nil}, {300}}},
		{"SELECT a.id, b.c FROM items a JOIN items b ON b.id = a.id + 1 WHERE a.id IN (?, ?) ORDER BY a.id", [][]any{{1, 2}, {49, 50}, {5, nil}}},
		{"SELECT a.id, b.id FROM items a JOIN items b ON b.k = a.k WHERE a.id = ? AND b.id < ? ORDER BY b.id", [][]any{{1, 20}, {8, 30}, {11, 50}, {2, 2}}},
		{"SELECT x.c, y.name FROM items AS x LEFT JOIN kinds AS y ON y.k = x.k WHERE x.id >= ? AND x.id < ? AND (y.k IS NULL OR y.k <> ?) ORDER BY x.id", [][]any{{1, 12, 3}, {9, 24, 0}}},
	}
	for _, r := range reads {
		s := prepare(t, c, r.q)
		for _, a := range r.args {
			got := stmtRows(t, s, a...)
			want := queryRows(t, c, inline(r.q, a...))
			if got != want {
				t.Errorf("%s %v: prepared %q, text %q", r.q, a, got, want)
			}
		}
	}

	// Writes: run each on the table and on a twin through text, then compare the tables.
	mustExec(t, c, "CREATE TABLE twin LIKE items")
	mustExec(t, c, "INSERT INTO twin SELECT * FROM items")
	writes := []struct {
		q    string
		args [][]any
	}{
		{"UPDATE %s SET k = k + 1 WHERE id = ?", [][]any{{1}, {2}, {2}, {99}, {"3"}}},
		{"UPDATE %s SET c = ? WHERE id = ?", [][]any{{"x", 4}, {"y", 5}, {nil, 6}, {"z", 4}}},
		{"UPDATE %s SET d = d * ? WHERE id BETWEEN ? AND ?", [][]any{{2, 10, 12}, {3, 11, 30}}},
		{"DELETE FROM %s WHERE id = ?", [][]any{{7}, {8}, {7}, {1000}}},
		{"DELETE FROM %s WHERE k = ? AND id < ?", [][]any{{1, 20}, {2, 30}}},
		{"INSERT INTO %s (id, k, c, d) VALUES (?, ?, ?, ?)", [][]any{{100, 1, "n1", 1.5}, {101, nil, "n2", 2}, {102, 3, nil, nil}}},
		{"UPDATE %s SET d = ? WHERE id IN (?, ?, ?)", [][]any{{1.25, 1, 2, 3}, {2, 3, 3, 40}, {nil, 5, nil, 100}}},
		{"UPDATE %s SET c = ? WHERE (id, k) IN ((?, ?), (?, ?))", [][]any{{"t1", 1, 1, 2, 2}, {"t2", 9, 2, 10, 3}, {"t3", 22, nil, 23, 2}}},
		{"UPDATE %s SET k = ? + 1 WHERE id = ?", [][]any{{5, 30}, {9223372036854775807, 31}, {-3, 32}}},
		{"UPDATE %s SET k = ? WHERE id = ?", [][]any{{4, 33}, {9999999999, 33}, {-9999999999, 34}, {7, 34}}},
		{"DELETE FROM %s WHERE id IN (?, ?)", [][]any{{40, 41}, {41, 42}, {nil, 43}}},
		{"DELETE FROM %s WHERE (id, k) IN ((?, ?), (?, ?))", [][]any{{44, 2, 45, 3}, {46, 4, 47, 0}}},
	}
	for _, w := range writes {
		s := prepare(t, c, fmt.Sprintf(w.q, "items"))
		for _, a := range w.args {
			r1, err1 := s.Exec(a...)
			r2, err2 := c.Exec(inline(fmt.Sprintf(w.q, "twin"), a...))
			if (err1 == nil) != (err2 == nil) || mysqlCode(err1) != mysqlCode(err2) {
				t.Fatalf("%s %v: prepared err %v, text err %v", w.q, a, err1, err2)
			}
			if err1 == nil {
				n1, _ := r1.RowsAffected()
				n2, _ := r2.RowsAffected()
				if n1 != n2 {
					t.Errorf("%s %v: rows affected %d vs %d", w.q, a, n1, n2)
				}
			}
		}
		if got, want := queryRows(t, c, "SELECT * FROM items ORDER BY id"), queryRows(t, c, "SELECT * FROM twin ORDER BY id"); got != want {
			t.Fatalf("after %s:\nprepared %s\ntext     %s", w.q, got, want)
		}
	}
	// A duplicate key fails with 1062 on the reuse path too, and leaves nothing behind.
	ins := prepare(t, c, "INSERT INTO items (id, c) VALUES (?, ?), (?, ?)")
	if _, err := ins.Exec(200, "a", 201, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := ins.Exec(202, "a", 200, "b"); mysqlCode(err) != 1062 {
		t.Fatalf("want 1062, got %v", err)
	}
	if got := queryRows(t, c, "SELECT count(*) FROM items WHERE id >= 200"); got != "2" {
		t.Fatalf("statement not atomic: %s", got)
	}
	st := n.st.PreparedStats()
	if st.Hits < 40 {
		t.Fatalf("plan cache barely used: %+v", st)
	}
	t.Logf("%+v", st)
}

// TestPreparedAnalysesOnce counts analyses: the first execution builds a template, the
// later ones analyse nothing.
func TestPreparedAnalysesOnce(t *testing.T) {
	n, c := startItems(t, false)
	setupKinds(t, c)
	conn, err := c.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s := prepare(t, conn, "SELECT c FROM items WHERE id = ?")
	before := n.st.PreparedStats()
	if got := stmtRows(t, s, 3); got != "c03" {
		t.Fatal(got)
	}
	first := n.st.PreparedStats()
	if first.Builds != before.Builds+1 || first.Fallbacks != before.Fallbacks || first.Hits != before.Hits+1 {
		t.Fatalf("first execution: %+v -> %+v", before, first)
	}
	for i := 4; i < 20; i++ {
		if got := stmtRows(t, s, i); got != fmt.Sprintf("c%02d", i) {
			t.Fatalf("id %d: %s", i, got)
		}
	}
	after := n.st.PreparedStats()
	if after.Builds != first.Builds || after.Fallbacks != first.Fallbacks || after.Hits != first.Hits+16 {
		t.Fatalf("later executions analysed: %+v -> %+v", first, after)
	}
	// IN lists and row IN lists are rebuilt from the new values too, and joins are reused.
	join := "SELECT items.c FROM items, kinds WHERE kinds.k = ? AND items.k = kinds.k AND items.id IN (?, ?) ORDER BY items.c"
	// Tables with aliases (as ORMs write them) too.
	aliased := []string{"SELECT it.c FROM items it WHERE it.id IN (?, ?) ORDER BY it.c",
		"SELECT i.c FROM items i, kinds k WHERE k.k = ? AND i.k = k.k AND i.id IN (?, ?) ORDER BY i.c",
		"SELECT i.c FROM items AS i JOIN kinds AS k ON i.k = k.k WHERE k.k = ? AND i.id IN (?, ?) ORDER BY i.c"}
	for _, q := range append([]string{"SELECT c FROM items WHERE id IN (?, ?) ORDER BY c", "SELECT c FROM items WHERE (id, k) IN ((?, ?), (?, ?)) ORDER BY c", join}, aliased...) {
		s := prepare(t, conn, q)
		st := n.st.PreparedStats()
		isJoin := strings.Contains(q, "kinds")
		for i := 1; i < 10; i++ {
			var got string
			switch {
			case isJoin:
				got = stmtRows(t, s, i%7, i, i+7)
			case strings.Count(q, "?") == 2:
				got = stmtRows(t, s, i, i+1)
			default:
				got = stmtRows(t, s, i, i%7, i+1, (i+1)%7)
			}
			want := fmt.Sprintf("c%02d c%02d", i, i+1)
			if isJoin {
				var ids []string
				for _, id := range []int{i, i + 7} {
					if id%11 != 0 && i%7 < 6 { // k is NULL for multiples of 11; no kind 6
						ids = append(ids, fmt.Sprintf("c%02d", id))
					}
				}
				want = strings.Join(ids, " ")
			}
			if got != want {
				t.Fatalf("%s at %d: %q, want %q", q, i, got, want)
			}
		}
		if now := n.st.PreparedStats(); now.Builds != st.Builds+1 || now.Hits != st.Hits+9 {
			t.Fatalf("%s: %+v -> %+v", q, st, now)
		}
	}
	after = n.st.PreparedStats()
	// A client that prepares, executes and closes each time reuses the plan too.
	for i := 1; i < 5; i++ {
		if got := queryRows(t, conn, "SELECT c FROM items WHERE id = ?", i); got != fmt.Sprintf("c%02d", i) {
			t.Fatal(got)
		}
	}
	if st := n.st.PreparedStats(); st.Builds != after.Builds || st.Fallbacks != after.Fallbacks {
		t.Fatalf("one-shot prepares analysed: %+v -> %+v", after, st)
	}
	// Without the cache every execution goes through GMS's normal path.
	off := startPrepNode(t, true)
	mustExec(t, off.open(t, ""), "CREATE DATABASE p")
	oc := off.open(t, "p")
	setupItems(t, oc)
	os := prepare(t, oc, "SELECT c FROM items WHERE id = ?")
	for i := 1; i < 5; i++ {
		stmtRows(t, os, i)
	}
	if st := off.st.PreparedStats(); st != (PreparedStats{}) {
		t.Fatalf("cache off used the cache: %+v", st)
	}
}

// TestPreparedInvalidation changes what plans depend on between executions.
func TestPreparedInvalidation(t *testing.T) {
	n := startPrepNode(t, false)
	root := n.open(t, "")
	mustExec(t, root, "CREATE DATABASE p")
	mustExec(t, root, "CREATE DATABASE q")
	c := n.open(t, "p")
	setupItems(t, c)
	qc := n.open(t, "q")
	mustExec(t, qc, "CREATE TABLE items (id INT PRIMARY KEY, k INT, c VARCHAR(20), d DECIMAL(10,2))")
	mustExec(t, qc, "INSERT INTO items VALUES (3, 0, 'other', 0)")

	ctx := context.Background()
	conn, err := c.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	byID := prepare(t, conn, "SELECT c FROM items WHERE id = ?")
	byK := prepare(t, conn, "SELECT count(*) FROM items WHERE k = ?")
	check := func(what string, s *sql.Stmt, arg any, want string) {
		t.Helper()
		if got := stmtRows(t, s, arg); got != want {
			t.Fatalf("%s: got %q, want %q", what, got, want)
		}
	}
	builds := func() uint64 { return n.st.PreparedStats().Builds }
	check("warm", byID, 3, "c03")
	check("warm", byID, 4, "c04")
	check("warm k", byK, 3, "7")

	// USE another database: the unqualified table is another one.
	mustExec(t, conn, "USE q")
	check("after USE", byID, 3, "other")
	mustExec(t, conn, "USE p")
	check("back", byID, 3, "c03")

	// ALTER TABLE (from another connection): a changed column type.
	b := builds()
	mustExec(t, c, "ALTER TABLE items MODIFY c VARCHAR(40)")
	mustExec(t, c, "UPDATE items SET c = CONCAT(c, '-longer-than-twenty') WHERE id = 3")
	check("after ALTER", byID, 3, "c03-longer-than-twenty")
	if builds() == b {
		t.Fatal("ALTER TABLE did not invalidate the plan")
	}

	// CREATE INDEX and DROP INDEX.
	b = builds()
	mustExec(t, c, "DROP INDEX k_i ON items")
	check("after DROP INDEX", byK, 3, "7")
	mustExec(t, c, "CREATE INDEX k_i2 ON items (k)")
	check("after CREATE INDEX", byK, 3, "7")
	if builds() < b+2 {
		t.Fatal("index changes did not invalidate the plan")
	}

	// DROP and CREATE: the new table's rows, not the old tree's.
	mustExec(t, c, "DROP TABLE items")
	if _, err := byID.Query(3); err == nil {
		t.Fatal("select from a dropped table succeeded")
	}
	mustExec(t, c, "CREATE TABLE items (id INT PRIMARY KEY, c VARCHAR(20), k INT)")
	mustExec(t, c, "INSERT INTO items VALUES (3, 'new', 1)")
	check("after DROP+CREATE", byID, 3, "new")
	check("after DROP+CREATE", byID, 4, "")

	// sql_mode and other session variables.
	b = builds()
	mustExec(t, conn, "SET sql_mode = 'ANSI_QUOTES'")
	check("after SET sql_mode", byID, 3, "new")
	if builds() != b+1 {
		t.Fatalf("SET sql_mode did not invalidate the plan (%d builds, was %d)", builds(), b)
	}
	check("again", byID, 3, "new")
	if builds() != b+1 {
		t.Fatal("plan rebuilt without a change")
	}

	// A temporary table hides the base table in this session only.
	mustExec(t, conn, "CREATE TEMPORARY TABLE items (id INT PRIMARY KEY, c VARCHAR(20))")
	mustExec(t, conn, "INSERT INTO items VALUES (3, 'temp')")
	check("temporary", byID, 3, "temp")
	mustExec(t, conn, "DROP TEMPORARY TABLE items")
	check("temporary dropped", byID, 3, "new")

	// Privileges: a user losing SELECT loses it on the reuse path too.
	mustExec(t, root, "CREATE USER u IDENTIFIED BY 'pw'")
	mustExec(t, root, "GRANT SELECT ON p.* TO u")
	uc, err := sql.Open("mysql", fmt.Sprintf("u:pw@tcp(%s)/p?interpolateParams=false", n.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	uc.SetMaxOpenConns(1)
	us := prepare(t, uc, "SELECT c FROM items WHERE id = ?")
	check("user", us, 3, "new")
	check("user", us, 3, "new")
	mustExec(t, root, "REVOKE SELECT ON p.* FROM u")
	if _, err := us.Query(3); err == nil {
		t.Fatal("revoked SELECT still allowed")
	}
}

// TestPreparedLocking checks that FOR UPDATE and UPDATE on the reuse path still lock.
func TestPreparedLocking(t *testing.T) {
	n, c := startItems(t, false)
	ctx := context.Background()

	a, err := c.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := c.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustExec(t, b, "SET innodb_lock_wait_timeout = 1")
	lockA := prepare(t, a, "SELECT c FROM items WHERE id = ? FOR UPDATE")
	lockB := prepare(t, b, "SELECT c FROM items WHERE id = ? FOR UPDATE")
	updB := prepare(t, b, "UPDATE items SET c = ? WHERE id = ?")
	// Warm both statements so that the locked executions below reuse plans.
	stmtRows(t, lockA, 1)
	stmtRows(t, lockB, 1)
	if _, err := updB.Exec("w", 2); err != nil {
		t.Fatal(err)
	}
	hits := n.st.PreparedStats().Hits

	mustExec(t, a, "BEGIN")
	if got := stmtRows(t, lockA, 5); got != "c05" {
		t.Fatal(got)
	}
	if _, err := lockB.Query(5); mysqlCode(err) != 1205 {
		t.Fatalf("FOR UPDATE on a locked row: want 1205, got %v", err)
	}
	if _, err := updB.Exec("x", 5); mysqlCode(err) != 1205 {
		t.Fatalf("UPDATE of a locked row: want 1205, got %v", err)
	}
	if got := stmtRows(t, lockB, 6); got != "c06" {
		t.Fatalf("other row: %s", got)
	}
	mustExec(t, a, "COMMIT")
	if _, err := updB.Exec("x", 5); err != nil {
		t.Fatal(err)
	}
	if st := n.st.PreparedStats(); st.Hits < hits+4 {
		t.Fatalf("locking statements did not reuse plans: %+v (hits were %d)", st, hits)
	}

	// Transactions: a prepared UPDATE rolled back is gone, committed it stays.
	upd := prepare(t, a, "UPDATE items SET k = ? WHERE id = ?")
	mustExec(t, a, "BEGIN")
	if _, err := upd.Exec(1000, 9); err != nil {
		t.Fatal(err)
	}
	mustExec(t, a, "ROLLBACK")
	if got := queryRows(t, c, "SELECT k FROM items WHERE id = 9"); got != "2" {
		t.Fatalf("rolled back update visible: %s", got)
	}
	mustExec(t, a, "SET autocommit = 0")
	if _, err := upd.Exec(1001, 9); err != nil {
		t.Fatal(err)
	}
	if got := queryRows(t, c, "SELECT k FROM items WHERE id = 9"); got != "2" {
		t.Fatalf("uncommitted update visible: %s", got)
	}
	mustExec(t, a, "COMMIT")
	if got := queryRows(t, c, "SELECT k FROM items WHERE id = 9"); got != "1001" {
		t.Fatalf("committed update: %s", got)
	}
}

// BenchmarkPreparedPointSelect compares a prepared point select with and without the plan
// cache: go test ./internal/sqlstore -run '^$' -bench PreparedPointSelect
func BenchmarkPreparedPointSelect(b *testing.B) {
	for _, mode := range []struct {
		name    string
		noCache bool
	}{{"cache=on", false}, {"cache=off", true}} {
		b.Run(mode.name, func(b *testing.B) {
			c := sbtestNode(b, mode.noCache)
			s, err := c.Prepare("SELECT c FROM sbtest1 WHERE id = ?")
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var out string
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := s.QueryRow(i%sbtestRows + 1).Scan(&out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPreparedInList: a prepared select of ten rows by an IN list on the primary key,
// as TPC-C's NEW_ORDER reads its items.
func BenchmarkPreparedInList(b *testing.B) {
	c := sbtestNode(b, false)
	s, err := c.Prepare("SELECT id, k FROM sbtest1 WHERE id IN (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	args := make([]any, 10)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range args {
			args[j] = (i*7+j*97)%sbtestRows + 1
		}
		rows, err := s.Query(args...)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Close(); err != nil || n != 10 {
			b.Fatalf("%d rows, %v", n, err)
		}
	}
}

const sbtestRows = 1000

// sbtestNode starts a node with sysbench's table of sbtestRows rows, and returns a client of
// one connection.
func sbtestNode(b *testing.B, noCache bool) *sql.DB {
	n := startPrepNode(b, noCache)
	root := n.open(b, "")
	if _, err := root.Exec("CREATE DATABASE sb"); err != nil {
		b.Fatal(err)
	}
	c := n.open(b, "sb")
	if _, err := c.Exec("CREATE TABLE sbtest1 (id INT NOT NULL AUTO_INCREMENT, k INT NOT NULL DEFAULT 0, c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', PRIMARY KEY (id), KEY k_1 (k))"); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < sbtestRows; i += 100 {
		var sb strings.Builder
		sb.WriteString("INSERT INTO sbtest1 (k, c, pad) VALUES ")
		for j := 0; j < 100; j++ {
			if j > 0 {
				sb.WriteString(",")
			}
			fmt.Fprintf(&sb, "(%d, '%s', '%s')", i+j, strings.Repeat("c", 119), strings.Repeat("p", 59))
		}
		if _, err := c.Exec(sb.String()); err != nil {
			b.Fatal(err)
		}
	}
	c.SetMaxOpenConns(1)
	return c
}

// TestPreparedKeepsBusyStatements executes more statement texts on one connection than the
// cache keeps, with one of them between every two others: that one is never planned again.
func TestPreparedKeepsBusyStatements(t *testing.T) {
	n, c := startItems(t, false)
	conn, err := c.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	busy := prepare(t, conn, "SELECT c FROM items WHERE id = ?")
	stmtRows(t, busy, 1)
	start := n.st.PreparedStats()
	others := maxStmtsPerConn + 20
	for i := 0; i < others; i++ {
		if got := queryRows(t, conn, fmt.Sprintf("SELECT c, %d FROM items WHERE id = ?", i), 2); got != fmt.Sprintf("c02,%d", i) {
			t.Fatal(got)
		}
		if got := stmtRows(t, busy, 3); got != "c03" {
			t.Fatal(got)
		}
	}
	if st := n.st.PreparedStats(); st.Builds != start.Builds+uint64(others) || st.Fallbacks != start.Fallbacks {
		t.Fatalf("%d other statements: %+v -> %+v", others, start, st)
	}
}

// TestPreparedStatisticsDrift: a prepared plan is made again when its table's statistics
// appear or its row count more than doubles, not whenever they are rebuilt.
func TestPreparedStatisticsDrift(t *testing.T) {
	n := startPrepNode(t, false)
	mustExec(t, n.open(t, ""), "CREATE DATABASE p")
	c := n.open(t, "p")
	conn, err := c.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mustExec(t, conn, "CREATE TABLE g (id INT PRIMARY KEY, k INT, KEY (k))")
	fill := func(from, to int) {
		t.Helper()
		var vals []string
		for i := from; i < to; i++ {
			vals = append(vals, fmt.Sprintf("(%d, %d)", i, i%10))
		}
		mustExec(t, conn, "INSERT INTO g VALUES "+strings.Join(vals, ","))
		mustExec(t, conn, "ANALYZE TABLE g")
	}
	s := prepare(t, conn, "SELECT count(*) FROM g WHERE k = ?")
	builds := func() uint64 { return n.st.PreparedStats().Builds }
	run := func(want string) uint64 {
		t.Helper()
		b := builds()
		if got := stmtRows(t, s, 3); got != want {
			t.Fatalf("count: %s, want %s", got, want)
		}
		return builds() - b
	}
	run("0")
	fill(0, 1000)
	if b := run("100"); b != 1 {
		t.Fatalf("statistics appeared: %d builds, want 1", b)
	}
	fill(1000, 1300)
	if b := run("130"); b != 0 {
		t.Fatalf("30%% more rows: %d builds, want 0", b)
	}
	fill(1300, 3000)
	if b := run("300"); b != 1 {
		t.Fatalf("rows more than doubled: %d builds, want 1", b)
	}
}

func TestStatsGenCostsLike(t *testing.T) {
	for _, c := range []struct {
		old, cur statsGen
		want     bool
	}{
		{statsGen{}, statsGen{}, true},
		{statsGen{}, statsGen{gen: 1, rows: 10}, false},
		{statsGen{gen: 1, rows: 10}, statsGen{}, false},
		{statsGen{gen: 1, rows: 1000}, statsGen{gen: 2, rows: 1999}, true},
		{statsGen{gen: 1, rows: 1000}, statsGen{gen: 2, rows: 2001}, false},
		{statsGen{gen: 1, rows: 1000}, statsGen{gen: 2, rows: 499}, false},
		{statsGen{gen: 1, rows: 1000}, statsGen{gen: 2, rows: 500}, true},
	} {
		if got := c.old.costsLike(c.cur); got != c.want {
			t.Errorf("%+v -> %+v: %v, want %v", c.old, c.cur, got, c.want)
		}
	}
}

// TestPreparedManyRows: results read by the statement's own goroutine (execDirect, from the
// second execution on) arrive whole, across batches of rowsBatch rows, empty ones with their
// columns, and with expressions in the select list evaluated.
func TestPreparedManyRows(t *testing.T) {
	_, c := startP(t, false)
	c.SetMaxOpenConns(1)
	mustExec(t, c, "CREATE TABLE big (id INT PRIMARY KEY, c VARCHAR(10), k INT, KEY (k))")
	var vals []string
	for i := 1; i <= 300; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'c%03d', %d)", i, (i*37)%300, i%7))
	}
	mustExec(t, c, "INSERT INTO big VALUES "+strings.Join(vals, ", "))
	for _, q := range []string{
		"SELECT id, c, id * 2 + ? FROM big WHERE id BETWEEN ? AND ? ORDER BY id",
		"SELECT c, CONCAT(c, ?) FROM big WHERE id >= ? AND id <= ? ORDER BY c",
		"SELECT id FROM big WHERE k = ? AND id > ? AND id < ? ORDER BY id DESC",
	} {
		s := prepare(t, c, q)
		for _, a := range [][]any{{1, 1, 300}, {0, 5, 4}, {6, 1, 1}, {2, 1, 127}, {3, 1, 128}, {4, 1, 129}, {5, 10, 266}, {1, 1, 300}} {
			got := stmtRows(t, s, a...)
			if want := queryRows(t, c, inline(q, a...)); got != want {
				t.Fatalf("%s %v: prepared %q, text %q", q, a, got, want)
			}
		}
		// An empty result still describes its columns.
		rows, err := s.Query(0, 10, 5)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := rows.Columns()
		rows.Close()
		if err != nil || len(cols) == 0 {
			t.Fatalf("%s with no rows: columns %v, %v", q, cols, err)
		}
	}
}

// TestPreparedTransactionControl: BEGIN, START TRANSACTION, COMMIT and ROLLBACK, prepared (as
// sysbench prepares them) or sent as text (as go-sql-driver sends them), reuse their plans,
// and still begin, commit and roll back.
func TestPreparedTransactionControl(t *testing.T) {
	for _, text := range []bool{false, true} {
		n, c := startItems(t, false)
		ctx := context.Background()
		conn, err := c.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// A statement of each kind, run as the mode says.
		control := func(q string) func() error {
			if text {
				return func() error { _, err := conn.ExecContext(ctx, q); return err }
			}
			s := prepare(t, conn, q)
			return func() error { _, err := s.Exec(); return err }
		}
		begin, begin2 := control("BEGIN"), control(" Start  Transaction ;")
		startRO := control("START TRANSACTION READ ONLY")
		commit, rollback := control("COMMIT"), control("rollback")
		update := prepare(t, conn, "UPDATE items SET c = ? WHERE id = ?")
		must := func(f func() error) {
			t.Helper()
			if err := f(); err != nil {
				t.Fatal(err)
			}
		}
		set := func(v string) func() error {
			return func() error { _, err := update.Exec(v, 5); return err }
		}
		other, err := n.open(t, "p").Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, other, "SET SESSION innodb_lock_wait_timeout = 1")
		read := func() string {
			t.Helper()
			return queryRows(t, other, "SELECT c FROM items WHERE id = ?", 5)
		}
		var start PreparedStats
		for i := 0; i < 6; i++ {
			if i == 1 {
				start = n.st.PreparedStats()
			}
			before := read()
			must(begin)
			must(set(fmt.Sprintf("r%d", i)))
			// The row is locked until the transaction ends.
			if _, err := other.ExecContext(ctx, "UPDATE items SET c = 'x' WHERE id = 5"); err == nil {
				t.Fatal("the row was not locked by the transaction")
			}
			if got := read(); got != before {
				t.Fatalf("text %v, round %d: uncommitted change seen: %q", text, i, got)
			}
			must(rollback)
			if got := read(); got != before {
				t.Fatalf("text %v, round %d: rolled back change seen: %q", text, i, got)
			}
			must(begin2)
			must(set(fmt.Sprintf("c%d", i)))
			must(commit)
			if got := read(); got != fmt.Sprintf("c%d", i) {
				t.Fatalf("text %v, round %d: committed %q, read %q", text, i, fmt.Sprintf("c%d", i), got)
			}
			must(startRO)
			if err := set("ro")(); err == nil || !strings.Contains(err.Error(), "1792") {
				t.Fatalf("text %v, round %d: an update in a read-only transaction: %v", text, i, err)
			}
			must(commit)
			must(commit) // with no transaction open
		}
		// Five rounds of ten statements (the failed update included) and four reads, all from
		// plans but for the text START TRANSACTION READ ONLY, which GMS plans each time.
		want := uint64(5 * 14)
		if text {
			want = 5 * 13
		}
		if st := n.st.PreparedStats(); st.Builds != start.Builds || st.Fallbacks != start.Fallbacks || st.Hits != start.Hits+want {
			t.Fatalf("text %v: %+v -> %+v", text, start, st)
		}
		other.Close()
		conn.Close()
	}
}

// TestTxnControlText: which texts take the plan cache.
func TestTxnControlText(t *testing.T) {
	for q, want := range map[string]bool{"BEGIN": true, "begin;": true, " COMMIT ; ": true, "Rollback": true,
		"START\tTRANSACTION": true, "START TRANSACTION READ ONLY": false, "COMMIT AND CHAIN": false,
		"BEGIN; COMMIT": false, "ROLLBACK TO SAVEPOINT a": false, "SELECT 1": false, "": false} {
		if got := txnControlText(q); got != want {
			t.Errorf("%q: %v, want %v", q, got, want)
		}
	}
}

// TestPreparedPointLookups: lookups of reused plans made as points, without the index
// builder, give the rows and the order of the same statements as text, over random values
// (duplicates, NULLs, numbers as strings, fractions, values out of the column's range, case
// and trailing spaces under the default collation).
func TestPreparedPointLookups(t *testing.T) {
	n, c := startP(t, false)
	c.SetMaxOpenConns(1)
	mustExec(t, c, "CREATE TABLE pts (a INT, b VARCHAR(8), u BIGINT UNSIGNED, v INT, PRIMARY KEY (a, b), UNIQUE KEY (u), KEY (v))")
	strs := []string{"x", "X", "x ", "y", "10", "é", "e"}
	for a := -3; a <= 12; a++ {
		for i, b := range strs {
			if (a+i)%3 == 0 && b != "X" && b != "x " && b != "e" { // the collation folds them into x and é
				mustExec(t, c, "INSERT INTO pts VALUES (?, ?, ?, ?)", a, b, (a+4)*10+i, (a*7+i)%5)
			}
		}
	}
	rng := rand.New(rand.NewSource(1))
	odd := []any{"4", "05", 2.0, 2.5, nil, int64(1) << 40, -1 << 40}
	ints := func() any {
		if rng.Intn(6) == 0 {
			return odd[rng.Intn(len(odd))]
		}
		return rng.Intn(17) - 3
	}
	val := func(col byte) any {
		switch col {
		case 'b':
			if rng.Intn(8) == 0 {
				return ints()
			}
			return strs[rng.Intn(len(strs))]
		case 'u':
			if rng.Intn(3) == 0 {
				return ints()
			}
			return uint64(10 + rng.Intn(170))
		}
		return ints()
	}
	stmts := []struct {
		q    string
		cols string // the column of each parameter
	}{
		{"SELECT a, b FROM pts WHERE a = ? AND b = ?", "ab"},
		{"SELECT a, b, u FROM pts WHERE (a, b) IN ((?, ?), (?, ?), (?, ?), (?, ?))", "abababab"},
		{"SELECT a, b FROM pts WHERE (b, a) IN ((?, ?), (?, ?), (?, ?))", "bababa"},
		{"SELECT a, b FROM pts WHERE a IN (?, ?, ?, ?)", "aaaa"},
		{"SELECT a, b FROM pts WHERE a = ? AND b IN (?, ?, ?)", "abbb"},
		{"SELECT a, u FROM pts WHERE u IN (?, ?, ?)", "uuu"},
		{"SELECT a, u FROM pts WHERE u = ?", "u"},
		{"SELECT a, b FROM pts WHERE a = ? OR a = ?", "aa"},
		{"SELECT a, b, v FROM pts WHERE v IN (?, ?)", "aa"},
		{"SELECT a, b FROM pts WHERE (a, b) IN ((?, ?), (?, ?)) FOR UPDATE", "abab"},
	}
	for _, st := range stmts {
		s := prepare(t, c, st.q)
		for i := 0; i < 60; i++ {
			args := make([]any, len(st.cols))
			for j := range args {
				args[j] = val(st.cols[j])
				for k := 0; k < j && rng.Intn(4) == 0; k++ {
					if st.cols[k] == st.cols[j] {
						args[j] = args[k] // a repeated value now and then
						break
					}
				}
			}
			got := stmtRows(t, s, args...)
			want := queryRows(t, c, inline(st.q, args...))
			if got != want {
				t.Fatalf("%s %v: prepared %q, text %q", st.q, args, got, want)
			}
		}
	}
	if st := n.st.PreparedStats(); st.Points < 250 {
		t.Fatalf("point lookups barely made: %+v", st)
	}
}

// TestPreparedCountsStatements: executions of reused plans count in Com_insert, Com_update
// and Com_delete as GMS's path counts them (its binder counts each statement it binds).
func TestPreparedCountsStatements(t *testing.T) {
	for _, noCache := range []bool{false, true} {
		n, c := startItems(t, noCache)
		conn, err := c.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		status := func(name string) int {
			t.Helper()
			var k string
			var v int
			if err := conn.QueryRowContext(context.Background(), "SHOW SESSION STATUS LIKE '"+name+"'").Scan(&k, &v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		names := []string{"Com_insert", "Com_update", "Com_delete"}
		before := map[string]int{}
		for _, name := range names {
			before[name] = status(name)
		}
		ins := prepare(t, conn, "INSERT INTO items (id, c) VALUES (?, ?)")
		upd := prepare(t, conn, "UPDATE items SET c = ? WHERE id = ?")
		del := prepare(t, conn, "DELETE FROM items WHERE id = ?")
		for i := 0; i < 5; i++ {
			for _, x := range []struct {
				s    *sql.Stmt
				args []any
			}{{ins, []any{100 + i, "n"}}, {upd, []any{"u", 100 + i}}, {del, []any{100 + i}}} {
				if _, err := x.s.Exec(x.args...); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, name := range names {
			if got := status(name) - before[name]; got != 5 {
				t.Errorf("cache off %v: %s counted %d executions of 5", noCache, name, got)
			}
		}
		if !noCache && n.st.PreparedStats().Hits < 15 {
			t.Fatalf("plans not reused: %+v", n.st.PreparedStats())
		}
		conn.Close()
	}
}

// TestPreparedTrailingDelimiter: a statement prepared with surrounding spaces or a trailing
// semicolon (GMS keys its parsed statement without them) reuses its plan too.
func TestPreparedTrailingDelimiter(t *testing.T) {
	n, c := startItems(t, false)
	c.SetMaxOpenConns(1)
	for _, q := range []string{"SELECT c FROM items WHERE id = ?;", "  SELECT c FROM items WHERE id = ? ; \n", "UPDATE items SET k = k WHERE id = ?;"} {
		s := prepare(t, c, q)
		before := n.st.PreparedStats()
		for i := 1; i <= 5; i++ {
			if strings.Contains(q, "UPDATE") {
				if _, err := s.Exec(i); err != nil {
					t.Fatal(err)
				}
			} else if got := stmtRows(t, s, i); got != fmt.Sprintf("c%02d", i) {
				t.Fatalf("%q: %s", q, got)
			}
		}
		if st := n.st.PreparedStats(); st.Builds != before.Builds+1 || st.Hits != before.Hits+5 || st.Fallbacks != before.Fallbacks {
			t.Errorf("%q: %+v -> %+v", q, before, st)
		}
	}
}
