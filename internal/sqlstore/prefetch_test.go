package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"strata/internal/localdb"
)

// TestPrefetchJoin: lookup joins over a table larger than the buffer pool read their inner
// leaves ahead (the pool's Prefetched count grows), and every answer equals the one from
// copies of the tables without indexes (no lookup join to read ahead for), over random
// data with NULLs, duplicates, case-insensitive strings, lookups converting strings to
// integers, LEFT JOINs, LIMITs and an outer scope. A locking read does not read ahead.
// TestPrefetchJoin: lookup joins over a table larger than the buffer pool read their inner
// leaves ahead (the pool's Prefetched count grows), and every answer equals the one of a
// second node with the same data that does not read ahead, and the one from copies of the
// tables without indexes (no lookup join), over random data with NULLs, duplicates,
// case-insensitive strings, lookups converting strings to integers, LEFT JOINs, LIMITs and an
// outer scope; and rows read through a secondary index. A locking read does not read ahead.
func TestPrefetchJoin(t *testing.T) {
	// 1 MiB of buffer pool; one node reads ahead as over remote Page Stores.
	n := startNodeDB(t, localdb.Options{Dir: t.TempDir(), PoolFrames: 64, RemotePages: true}, EngineOptions{})
	plain := startNodeDB(t, localdb.Options{Dir: t.TempDir(), PoolFrames: 64}, EngineOptions{})
	c, p := prefetchTables(t, n), prefetchTables(t, plain)

	queries := []string{
		"SELECT o.id, i.a, i.b, i.q FROM %[1]s o JOIN %[2]s i ON i.a = o.x AND i.b = o.y ORDER BY o.id, i.a, i.b",
		"SELECT o.id, i.a, i.b FROM %[1]s o JOIN %[2]s i ON i.a = o.x ORDER BY o.id, i.a, i.b",
		"SELECT o.id, i.a, i.b, length(i.pad) FROM %[1]s o LEFT JOIN %[2]s i ON i.a = o.x AND i.b = o.y WHERE o.id < 400 ORDER BY o.id, i.a, i.b",
		"SELECT COUNT(DISTINCT i.a), SUM(i.q) FROM %[1]s o JOIN %[2]s i ON i.a = o.z WHERE o.id BETWEEN 100 AND 500",
		"SELECT o.id, i.q FROM %[1]s o JOIN %[2]s i ON i.q = o.id ORDER BY o.id, i.a, i.b",
		"SELECT o.id, (SELECT COUNT(*) FROM %[1]s o2 JOIN %[2]s i ON i.a = o2.x AND i.b = o2.y WHERE o2.id BETWEEN o.id AND o.id + 30) FROM %[1]s o WHERE o.id < 40 ORDER BY o.id",
		"SELECT o.id, i.a, i.b FROM %[1]s o JOIN %[2]s i ON i.a = o.x AND i.b = o.y WHERE o.id > 77 LIMIT 3",
		"SELECT o.id, i.a, i.b FROM %[1]s o JOIN %[2]s i ON i.a = o.x AND i.b = o.y WHERE o.id > 590 LIMIT 3",
	}
	for _, q := range queries {
		before := n.db.Pool().Stats()
		got := queryRows(t, c, fmt.Sprintf(q, "outr", "inr"))
		after := n.db.Pool().Stats()
		if want := queryRows(t, p, fmt.Sprintf(q, "outr", "inr")); got != want {
			t.Fatalf("%s:\n got  %.300s\n want %.300s (without read-ahead)", q, got, want)
		}
		plan := explainTree(t, c, fmt.Sprintf(q, "outr", "inr"))
		if strings.Contains(plan, "LookupJoin") && !strings.Contains(q, "LIMIT") && after.Prefetched == before.Prefetched {
			t.Errorf("%s: a lookup join read nothing ahead (misses %d)", q, after.Misses-before.Misses)
		}
		if plan != explainTree(t, p, fmt.Sprintf(q, "outr", "inr")) {
			t.Errorf("%s: EXPLAIN differs with read-ahead:\n%s", q, plan)
		}
	}
	if plan := explainTree(t, c, fmt.Sprintf(queries[0], "outr", "inr")); !strings.Contains(plan, "LookupJoin") {
		t.Fatalf("want a lookup join, plan:\n%s", plan)
	}

	// A prepared lookup join keeps its analysed plan (prepared.go) and reads ahead.
	conn, err := c.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const prepJoin = "SELECT outr.id, inr.a, inr.b FROM outr JOIN inr ON inr.a = outr.x AND inr.b = outr.y WHERE outr.id = %s"
	if plan := explainTree(t, c, fmt.Sprintf(prepJoin, "7")); !strings.Contains(plan, "LookupJoin") {
		t.Fatalf("want a lookup join, plan:\n%s", plan)
	}
	stmt, err := conn.PrepareContext(context.Background(), fmt.Sprintf(prepJoin, "?"))
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	start := n.st.PreparedStats()
	for i := 0; i < 5; i++ {
		id := 3 + 97*i
		got := queryRows(t, stmt2q{stmt}, "", id)
		if want := queryRows(t, p, fmt.Sprintf(prepJoin, fmt.Sprint(id))); got != want {
			t.Fatalf("prepared, id %d: got %q, want %q", id, got, want)
		}
	}
	if st := n.st.PreparedStats(); st.Fallbacks != start.Fallbacks || st.Hits != start.Hits+5 {
		t.Fatalf("the prepared lookup join was analysed again: %+v -> %+v", start, st)
	}

	// Rows found through a secondary index are read ahead too.
	for _, q := range []string{
		"SELECT a, b, q, length(pad) FROM inr WHERE q BETWEEN 10 AND 90 ORDER BY a, b",
		"SELECT a, b, length(pad) FROM inr WHERE q IS NULL ORDER BY a, b",
		"SELECT a, b FROM inr WHERE q IN (5, 77, 150, 299) AND b = 'a' ORDER BY a, b",
		"SELECT a, b, q FROM inr WHERE q > 250 ORDER BY q DESC, a, b LIMIT 7",
	} {
		mustExec(t, c, "SELECT COUNT(*) FROM inr_n") // evict inr's pages
		before := n.db.Pool().Stats()
		got := queryRows(t, c, q)
		after := n.db.Pool().Stats()
		if want := queryRows(t, p, q); got != want {
			t.Fatalf("%s:\n got  %.300s\n want %.300s (without read-ahead)", q, got, want)
		}
		if !strings.Contains(q, "LIMIT") && after.Prefetched == before.Prefetched {
			t.Errorf("%s: read nothing ahead (misses %d)", q, after.Misses-before.Misses)
		}
	}

	// A locking read reads no outer row ahead.
	tx, err := c.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	mustExec(t, c, "SELECT COUNT(*) FROM inr_n") // evict inr's pages
	before := n.db.Pool().Stats()
	if _, err := tx.Exec("SELECT o.id, i.a FROM outr o JOIN inr i ON i.a = o.x AND i.b = o.y WHERE o.id < 200 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	after := n.db.Pool().Stats()
	if after.Prefetched != before.Prefetched {
		t.Fatalf("a locking read prefetched %d pages", after.Prefetched-before.Prefetched)
	}
	if after.Misses == before.Misses {
		t.Fatal("the locking read missed no page: the test shows nothing")
	}
}

// stmt2q runs a prepared statement where queryRows wants a QueryContext (the text is unused).
type stmt2q struct{ s *sql.Stmt }

func (q stmt2q) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return q.s.QueryContext(ctx, args...)
}

// prefetchTables creates TestPrefetchJoin's tables on n, the same on every call: inr (about
// 1.6 MB, more than a 64-frame pool) and outr, and copies of both without indexes.
func prefetchTables(t *testing.T, n *node) *sql.DB {
	c := n.connect(t, "")
	mustExec(t, c, "CREATE DATABASE d")
	c = n.connect(t, "d")
	mustExec(t, c, "CREATE TABLE inr (a INT NOT NULL, b VARCHAR(8) COLLATE utf8mb4_0900_ai_ci NOT NULL, q INT, pad VARCHAR(600), PRIMARY KEY (a, b), KEY kq (q))")
	mustExec(t, c, "CREATE TABLE outr (id INT PRIMARY KEY, x INT, y VARCHAR(8) COLLATE utf8mb4_0900_ai_ci, z VARCHAR(12))")
	mustExec(t, c, "CREATE TABLE inr_n (a INT NOT NULL, b VARCHAR(8) COLLATE utf8mb4_0900_ai_ci NOT NULL, q INT, pad VARCHAR(600))")
	r := rand.New(rand.NewSource(11))
	bs := []string{"a", "A", "b", "B", "c"}
	const inner = 2500
	for start := 0; start < inner; start += 250 {
		var vals []string
		for i := start; i < start+250; i++ {
			q := "NULL"
			if r.Intn(5) > 0 {
				q = fmt.Sprint(r.Intn(300))
			}
			vals = append(vals, fmt.Sprintf("(%d,'%s',%s,'%s')", i/2, bs[i%2+2*(i%3)/2], q, strings.Repeat("p", 500+r.Intn(100))))
		}
		mustExec(t, c, "INSERT IGNORE INTO inr VALUES "+strings.Join(vals, ","))
	}
	var vals []string
	for id := 0; id < 600; id++ {
		x, y, z := "NULL", "NULL", "NULL"
		if r.Intn(8) > 0 {
			x = fmt.Sprint(r.Intn(inner/2 + 50)) // some past the inner table's keys
		}
		if r.Intn(8) > 0 {
			y = "'" + bs[r.Intn(len(bs))] + "'"
		}
		if r.Intn(8) > 0 {
			z = fmt.Sprintf("'%d%s'", r.Intn(inner/2), []string{"", "", " ", "x"}[r.Intn(4)])
		}
		vals = append(vals, fmt.Sprintf("(%d,%s,%s,%s)", id, x, y, z))
	}
	mustExec(t, c, "INSERT INTO outr VALUES "+strings.Join(vals, ","))
	mustExec(t, c, "INSERT INTO inr_n SELECT * FROM inr")
	return c
}
