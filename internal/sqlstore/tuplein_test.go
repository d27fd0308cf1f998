package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// explainTree returns the plan of q.
func explainTree(t *testing.T, c *sql.DB, q string) string {
	t.Helper()
	rows, err := c.Query("EXPLAIN FORMAT=TREE " + q)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", q, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// wantLookup fails unless q's plan reads table through an index and scans no table whole.
func wantLookup(t *testing.T, c *sql.DB, q, table string) {
	t.Helper()
	p := explainTree(t, c, q)
	if !strings.Contains(p, "IndexedTableAccess("+table+")") || strings.Contains(p, "name: "+table) {
		t.Fatalf("%s: want an index lookup on %s, plan:\n%s", q, table, p)
	}
}

// rowsOrCode returns q's rows as queryRows does, or its error code (GMS refuses some
// conversions that MySQL makes with a warning, with and without indexes alike).
func rowsOrCode(t *testing.T, c *sql.DB, q string, args ...any) string {
	t.Helper()
	rows, err := c.Query(q, args...)
	if err != nil {
		if code := mysqlCode(err); code != 0 {
			return fmt.Sprintf("error %d", code)
		}
		t.Fatalf("%s: %v", q, err)
	}
	rows.Close()
	return queryRows(t, c, q, args...)
}

// TestRowConstructorLookups checks that row equality and row IN lists are index lookups,
// and that they select the same rows as the same predicate over a table without indexes,
// on random data with NULLs, duplicates, case-insensitive strings and literals of other types.
func TestRowConstructorLookups(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.connect(t, "")
	mustExec(t, c, "CREATE DATABASE d")
	c = n.connect(t, "d")
	mustExec(t, c, "CREATE TABLE tp (w INT, i INT, q INT, PRIMARY KEY (w, i))")
	mustExec(t, c, "CREATE TABLE np (w INT, i INT, q INT)")
	mustExec(t, c, "CREATE TABLE ts (id INT PRIMARY KEY, a INT NULL, b VARCHAR(8) COLLATE utf8mb4_0900_ai_ci NULL, c INT, KEY k_ab (a, b))")
	mustExec(t, c, "CREATE TABLE ns (id INT, a INT NULL, b VARCHAR(8) COLLATE utf8mb4_0900_ai_ci NULL, c INT)")
	r := rand.New(rand.NewSource(1))
	var vp, vs []string
	for w := 1; w <= 3; w++ {
		for i := 1; i <= 40; i++ {
			vp = append(vp, fmt.Sprintf("(%d,%d,%d)", w, i, r.Intn(5)))
		}
	}
	strs := []string{"NULL", "'x'", "'X'", "'y'", "'Y'", "''", "'x '", "'xy'"}
	for id := 1; id <= 300; id++ {
		a := "NULL"
		if r.Intn(6) > 0 {
			a = fmt.Sprint(r.Intn(5))
		}
		vs = append(vs, fmt.Sprintf("(%d,%s,%s,%d)", id, a, strs[r.Intn(len(strs))], r.Intn(3)))
	}
	for _, tb := range []string{"tp", "np"} {
		mustExec(t, c, "INSERT INTO "+tb+" VALUES "+strings.Join(vp, ","))
	}
	for _, tb := range []string{"ts", "ns"} {
		mustExec(t, c, "INSERT INTO "+tb+" VALUES "+strings.Join(vs, ","))
	}

	// Plans.
	wantLookup(t, c, "SELECT * FROM tp WHERE (w, i) IN ((1,5),(1,77),(2,9)) FOR UPDATE", "tp")
	wantLookup(t, c, "SELECT * FROM tp WHERE (w, i) = (1, 5)", "tp")
	wantLookup(t, c, "SELECT * FROM tp WHERE (i, w) IN ((5,1),(6,2))", "tp")
	wantLookup(t, c, "SELECT * FROM ts WHERE (a, b) IN ((1,'x'),(2,'y'))", "ts")
	wantLookup(t, c, "SELECT * FROM ts WHERE (a, b, c) IN ((1,'x',1),(2,'y',0))", "ts") // the index is a prefix
	wantLookup(t, c, "UPDATE tp SET q = q + 1 WHERE (w, i) IN ((1,5),(2,6))", "tp")
	wantLookup(t, c, "DELETE FROM tp WHERE (w, i) IN ((1,5),(2,6))", "tp")
	wantLookup(t, c, "SELECT * FROM tp JOIN ts ON (tp.w, tp.i) = (ts.a, ts.c) WHERE ts.id = 3", "tp")

	// Results against the tables without indexes.
	ints := []string{"0", "1", "2", "3", "4", "5", "NULL", "'1'", "'2'", "1.0", "2.5", "'3x'"}
	pick := func(vals []string) string { return vals[r.Intn(len(vals))] }
	rowList := func(k int, gen func() string) string {
		var items []string
		for j := 0; j < k; j++ {
			items = append(items, gen())
		}
		return strings.Join(items, ",")
	}
	for round := 0; round < 60; round++ {
		k := 1 + r.Intn(6)
		type pred struct{ tb, nb, cols, where string }
		p := rowList(k, func() string { return "(" + pick(ints) + "," + pick(append(ints, "17", "40")) + ")" })
		s := rowList(k, func() string { return "(" + pick(ints) + "," + pick(strs) + ")" })
		bs := rowList(k, func() string { return "(" + pick(strs) + "," + pick(ints) + ")" })
		ac := rowList(k, func() string { return "(" + pick(ints) + "," + pick(ints) + ")" })
		const pc, sc = "w, i, q", "id, a, b, c"
		for _, pr := range []pred{
			{"tp", "np", pc, "(w, i) IN (" + p + ")"},
			{"tp", "np", pc, "(w, i) = (" + pick(ints) + "," + pick(ints) + ")"},
			{"ts", "ns", sc, "(a, b) IN (" + s + ")"},
			{"ts", "ns", sc, "(b, a) IN (" + bs + ")"},
			{"ts", "ns", sc, "(a, c) IN (" + ac + ") AND id > 10"},
			{"ts", "ns", sc, "(a, b) = (" + pick(ints) + "," + pick(strs) + ")"},
		} {
			tb, nb, cols := pr.tb, pr.nb, pr.cols
			wh := [1]string{pr.where}
			got := rowsOrCode(t, c, "SELECT "+cols+" FROM "+tb+" WHERE "+wh[0]+" ORDER BY "+cols)
			want := rowsOrCode(t, c, "SELECT "+cols+" FROM "+nb+" WHERE "+wh[0]+" ORDER BY "+cols)
			if got != want {
				t.Fatalf("%s: with index %q, without %q", wh[0], got, want)
			}
			// The same through a server-side prepared statement (plan templates), twice.
			for rep := 0; rep < 2; rep++ {
				got = rowsOrCode(t, c, "SELECT "+cols+" FROM "+tb+" WHERE "+wh[0]+" AND ? = ? ORDER BY "+cols, rep, rep)
				if got != want {
					t.Fatalf("%s (prepared): with index %q, without %q", wh[0], got, want)
				}
			}
		}
	}
	// Case-insensitive matches, with duplicates in the list.
	if got, want := queryRows(t, c, "SELECT id FROM ts WHERE (a, b) IN ((1,'X'),(1,'x'),(2,'Y')) ORDER BY id"),
		queryRows(t, c, "SELECT id FROM ns WHERE (a = 1 AND LOWER(b) = 'x') OR (a = 2 AND LOWER(b) = 'y') ORDER BY id"); got != want || got == "" {
		t.Fatalf("case-insensitive: %q, want %q", got, want)
	}

	// Writes through the lookups change the same rows as without indexes.
	for _, q := range []string{
		"UPDATE %s SET q = q + 10 WHERE (w, i) IN ((1,5),(2,6),(3,40),(4,1),(1,NULL))",
		"DELETE FROM %s WHERE (w, i) IN ((1,7),(2,'8'),(3,9.0))",
	} {
		mustExec(t, c, fmt.Sprintf(q, "tp"))
		mustExec(t, c, fmt.Sprintf(q, "np"))
	}
	if got, want := queryRows(t, c, "SELECT * FROM tp ORDER BY w, i"), queryRows(t, c, "SELECT * FROM np ORDER BY w, i"); got != want {
		t.Fatalf("after writes:\n%s\nwant\n%s", got, want)
	}
}

// TestRowINLocksOnlyItsRows checks that SELECT ... FOR UPDATE, UPDATE and DELETE over a
// row IN list lock the listed rows and no others.
func TestRowINLocksOnlyItsRows(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.connect(t, "")
	mustExec(t, c, "CREATE DATABASE d")
	c = n.connect(t, "d")
	mustExec(t, c, "CREATE TABLE s (w INT, i INT, q INT, PRIMARY KEY (w, i))")
	mustExec(t, c, "INSERT INTO s VALUES (1,1,0),(1,2,0),(1,3,0),(2,1,0),(2,2,0)")
	ctx := context.Background()
	conn := func() *sql.Conn {
		cn, err := c.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cn.Close() })
		return cn
	}
	a, b := conn(), conn()
	mustExec(t, b, "SET innodb_lock_wait_timeout = 1")
	for _, holder := range []string{
		"SELECT q FROM s WHERE (w, i) IN ((1,2),(2,1)) FOR UPDATE",
		"UPDATE s SET q = q + 1 WHERE (w, i) IN ((1,2),(2,1))",
		"DELETE FROM s WHERE (w, i) IN ((1,2),(2,1))",
	} {
		mustExec(t, a, "BEGIN")
		mustExec(t, a, holder)
		mustExec(t, b, "BEGIN")
		// Rows outside the list are free.
		for _, q := range []string{
			"SELECT q FROM s WHERE w = 1 AND i = 1 FOR UPDATE",
			"UPDATE s SET q = 5 WHERE w = 2 AND i = 2",
			"SELECT q FROM s WHERE (w, i) IN ((1,3)) FOR UPDATE",
		} {
			if _, err := b.ExecContext(ctx, q); err != nil {
				t.Fatalf("after %q, %q: %v", holder, q, err)
			}
		}
		// Listed rows are held.
		if _, err := b.ExecContext(ctx, "SELECT q FROM s WHERE w = 2 AND i = 1 FOR UPDATE"); mysqlCode(err) != 1205 {
			t.Fatalf("after %q, a listed row: want 1205, got %v", holder, err)
		}
		mustExec(t, b, "ROLLBACK")
		mustExec(t, a, "ROLLBACK")
	}
}
