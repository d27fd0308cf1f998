package sqlstore

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// decorrData fills o (the outer rows) and i, j (the subqueries' tables) with random rows:
// keys in small ranges with duplicates, NULLs and values without partners on the other side.
func decorrData(t *testing.T, c *dbsql.DB, seed int64, outer, inner int) {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	maybe := func(v string) string {
		if r.Intn(8) == 0 {
			return "NULL"
		}
		return v
	}
	var os, is, js []string
	for id := 1; id <= outer; id++ {
		os = append(os, fmt.Sprintf("(%d,%s,%s,%s,%s)", id, maybe(fmt.Sprint(r.Intn(14)-2)), maybe(fmt.Sprint(r.Intn(4))),
			maybe(fmt.Sprint(r.Intn(12))), maybe(fmt.Sprintf("'s%d'", r.Intn(10)))))
	}
	for id := 1; id <= inner; id++ {
		is = append(is, fmt.Sprintf("(%d,%s,%s,%s,%d,%s,%s)", id, maybe(fmt.Sprint(r.Intn(12))), maybe(fmt.Sprint(r.Intn(4))),
			maybe(fmt.Sprint(r.Intn(12))), r.Intn(3), maybe(fmt.Sprintf("%d.%02d", r.Intn(200)-50, r.Intn(100))), maybe(fmt.Sprintf("'s%d'", r.Intn(10)))))
		if r.Intn(3) > 0 {
			js = append(js, fmt.Sprintf("(%d,%d)", id, r.Intn(100)))
		}
	}
	mustExec(t, c, "INSERT INTO o VALUES "+strings.Join(os, ","))
	mustExec(t, c, "INSERT INTO i VALUES "+strings.Join(is, ","))
	mustExec(t, c, "INSERT INTO j VALUES "+strings.Join(js, ","))
}

func decorrSchema(t *testing.T, c *dbsql.DB) {
	t.Helper()
	mustExec(t, c, "CREATE TABLE o (id INT PRIMARY KEY, k1 INT NULL, k2 BIGINT NULL, u INT UNSIGNED NULL, s VARCHAR(10) NULL)")
	mustExec(t, c, "CREATE TABLE i (id INT PRIMARY KEY, a INT NULL, b BIGINT NULL, u INT UNSIGNED NULL, w INT NOT NULL, v DECIMAL(8,2) NULL, s VARCHAR(10) NULL, KEY iw (w))")
	mustExec(t, c, "CREATE TABLE j (id INT PRIMARY KEY, x INT NOT NULL)")
}

// perRow returns q's rows with the rule off: GMS's own evaluation, once per outer row.
func perRow(t *testing.T, n *node, c *dbsql.DB, q string, args ...any) string {
	t.Helper()
	n.st.decor.off.Store(true)
	defer n.st.decor.off.Store(false)
	return queryRows(t, c, q, args...)
}

// TestGroupedSubqueryAggregates checks that correlated scalar aggregates keyed by integer
// equalities on the outer row are answered from a grouped pass (the plan says so, and
// passes are counted), with the answers of the per-row evaluation: NULL and duplicate keys,
// keys without rows, COUNT, SUM, AVG, MIN, MAX, joins, filters and outer expressions.
func TestGroupedSubqueryAggregates(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE d")
	c := n.connect(t, "d")
	decorrSchema(t, c)
	decorrData(t, c, 7, 120, 600)

	grouped := []string{
		`SELECT o.id, (SELECT SUM(v) FROM i WHERE i.a = o.k1) s,
			(SELECT COUNT(*) FROM i WHERE i.a = o.k1 AND i.b = o.k2) n,
			(SELECT COUNT(v) FROM i WHERE i.w = 1 AND o.k1 = i.a) nv,
			(SELECT MIN(v) FROM i WHERE i.a = o.k1 AND i.v > 0) mn,
			(SELECT MAX(s) FROM i WHERE i.b = o.k2 AND i.a = o.k1) mx,
			(SELECT AVG(v) FROM i WHERE i.w = 2 AND i.a = o.k1) av,
			(SELECT COUNT(DISTINCT b) FROM i WHERE i.a = o.k1) cd,
			(SELECT SUM(DISTINCT v) FROM i WHERE i.a = o.k1) sd
			FROM o ORDER BY o.id`,
		// Unsigned keys, an outer expression, a key that is an inner expression.
		`SELECT o.id, (SELECT SUM(v) FROM i WHERE i.u = o.u) s,
			(SELECT COUNT(*) FROM i WHERE i.a = o.k1 + 1) n,
			(SELECT SUM(id) FROM i WHERE i.a * 2 = o.k1) t
			FROM o ORDER BY o.id`,
		// A join inside the subquery, the key on either table.
		`SELECT o.id, (SELECT SUM(j.x) FROM i JOIN j ON j.id = i.id WHERE i.a = o.k1 AND i.w = 1) s,
			(SELECT COUNT(*) FROM i, j WHERE j.id = i.id AND j.x = o.k1) n
			FROM o ORDER BY o.id`,
		// In a filter, and in a derived table filtered on the subquery (TPC-C 3.3.2.10).
		`SELECT COUNT(*) FROM o WHERE (SELECT SUM(v) FROM i WHERE i.a = o.k1) > 100 OR o.k1 IS NULL`,
		`SELECT COUNT(*), SUM(sm) FROM (SELECT o.id, o.k1 * 10 c1, (SELECT SUM(v) FROM i WHERE i.w = 1 AND i.a = o.k1) sm,
			(SELECT COUNT(*) FROM i WHERE i.w = 1 AND i.a = o.k1 AND i.b = o.k2) smh FROM o WHERE o.id > 5) t WHERE c1 <> sm - smh`,
	}
	for _, q := range grouped {
		if p := explainTree(t, c, q); !strings.Contains(p, "GroupedSubquery") {
			t.Fatalf("want grouped subqueries, plan:\n%s", p)
		}
		before := n.st.decor.passes.Load()
		got := queryRows(t, c, q)
		if n.st.decor.passes.Load() == before {
			t.Fatalf("no grouped pass ran for %s", q)
		}
		if want := perRow(t, n, c, q); got != want {
			t.Fatalf("%s:\ngrouped\n%s\nper row\n%s", q, got, want)
		}
	}

	// MySQL's EXPLAIN lists the subqueries as it does without the rule.
	if got, want := queryRows(t, c, "EXPLAIN "+grouped[0]), perRow(t, n, c, "EXPLAIN "+grouped[0]); got != want || !strings.Contains(got, "DEPENDENT SUBQUERY") {
		t.Fatalf("EXPLAIN:\n%s\nwithout the rule:\n%s", got, want)
	}

	// Left as they are: keys an index answers, non-integer or mixed-sign keys, other
	// references to the outer row, LIMIT, HAVING, grouping, several aggregates.
	mustExec(t, c, "CREATE TABLE ia (id INT PRIMARY KEY, a INT, v INT, KEY (a))")
	mustExec(t, c, "INSERT INTO ia SELECT id, a, id FROM i WHERE a IS NOT NULL")
	untouched := []string{
		`SELECT o.id, (SELECT SUM(v) FROM ia WHERE ia.a = o.k1) FROM o ORDER BY o.id`,
		`SELECT o.id, (SELECT SUM(v) FROM i WHERE i.s = o.s) FROM o ORDER BY o.id`,
		`SELECT o.id, (SELECT SUM(v) FROM i WHERE i.u = o.k1) FROM o ORDER BY o.id`,
		`SELECT o.id, (SELECT SUM(v) FROM i WHERE i.a = o.k1 AND i.b < o.k2) FROM o ORDER BY o.id`,
		`SELECT o.id, (SELECT SUM(v + o.k2) FROM i WHERE i.a = o.k1) FROM o ORDER BY o.id`,
		`SELECT o.id, (SELECT SUM(v) FROM i WHERE i.a = o.k1 LIMIT 1) FROM o ORDER BY o.id`,
		`SELECT o.id, (SELECT SUM(v) FROM i WHERE i.a = o.k1 HAVING COUNT(*) > 3) FROM o ORDER BY o.id`,
		`SELECT o.id, (SELECT SUM(v) + COUNT(*) FROM i WHERE i.a = o.k1) FROM o ORDER BY o.id`,
		`SELECT o.id, (SELECT SUM(v) FROM i LEFT JOIN j ON j.id = i.id AND j.x = o.k1 WHERE i.w = 1) FROM o ORDER BY o.id`,
	}
	for _, q := range untouched {
		if p := explainTree(t, c, q); strings.Contains(p, "GroupedSubquery") {
			t.Fatalf("want the subquery left alone, plan:\n%s", p)
		}
		if got, want := queryRows(t, c, q), perRow(t, n, c, q); got != want {
			t.Fatalf("%s:\n%s\nper row\n%s", q, got, want)
		}
	}

	// A statement that writes is left alone.
	if p := explainTree(t, c, `UPDATE o SET k2 = (SELECT COUNT(*) FROM i WHERE i.a = o.k1)`); strings.Contains(p, "GroupedSubquery") {
		t.Fatalf("UPDATE: want the subquery left alone, plan:\n%s", p)
	}
}

// TestGroupedSubqueryAdaptive checks that a few outer rows (adaptiveMinRows) are evaluated
// per row without a grouped pass, and that a pass with more groups than the bound gives up for per-row
// evaluation with the same answers.
func TestGroupedSubqueryAdaptive(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE d")
	c := n.connect(t, "d")
	decorrSchema(t, c)
	decorrData(t, c, 11, 100, 400)

	q := `SELECT o.id, (SELECT SUM(v) FROM i WHERE i.a = o.k1 AND i.b = o.k2) FROM o WHERE o.id <= %d ORDER BY o.id`
	small := fmt.Sprintf(q, adaptiveMinRows)
	before := n.st.decor.passes.Load()
	got := queryRows(t, c, small)
	if n.st.decor.passes.Load() != before {
		t.Fatalf("%d outer rows: want no grouped pass", adaptiveMinRows)
	}
	if want := perRow(t, n, c, small); got != want {
		t.Fatalf("grouped\n%s\nper row\n%s", got, want)
	}

	n.st.decor.maxGroups.Store(5)
	big := fmt.Sprintf(q, 100)
	abandoned := n.st.decor.abandoned.Load()
	got = queryRows(t, c, big)
	if n.st.decor.abandoned.Load() == abandoned {
		t.Fatalf("want the grouped pass abandoned past %d groups", n.st.decor.maxGroups.Load())
	}
	if want := perRow(t, n, c, big); got != want {
		t.Fatalf("grouped\n%s\nper row\n%s", got, want)
	}
}

// TestGroupedSubqueryExecutions checks that each execution of a prepared statement, and
// each statement of a transaction, computes its groups afresh from what it sees: data
// changed between executions, by the transaction itself, and by another connection.
func TestGroupedSubqueryExecutions(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE d")
	c := n.connect(t, "d")
	decorrSchema(t, c)
	decorrData(t, c, 3, 100, 600)
	ctx := context.Background()

	q := `SELECT COUNT(*), SUM(s), SUM(n) FROM (SELECT o.id, (SELECT SUM(v) FROM i WHERE i.w = ? AND i.a = o.k1) s,
		(SELECT COUNT(*) FROM i WHERE i.a = o.k1 AND i.b = o.k2) n FROM o WHERE o.id > ?) t WHERE s > n`
	conn, err := c.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stmt, err := conn.PrepareContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	run := func() string {
		t.Helper()
		before := n.st.decor.passes.Load()
		rows, err := stmt.QueryContext(ctx, 1, 10)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var a, b, d dbsql.NullString
		for rows.Next() {
			if err := rows.Scan(&a, &b, &d); err != nil {
				t.Fatal(err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if n.st.decor.passes.Load()-before < 2 {
			t.Fatalf("want two grouped passes per execution")
		}
		return strings.Join([]string{a.String, b.String, d.String}, " ")
	}
	want := func() string {
		t.Helper()
		n.st.decor.off.Store(true)
		defer n.st.decor.off.Store(false)
		var a, b, d dbsql.NullString
		if err := conn.QueryRowContext(ctx, strings.NewReplacer("i.w = ?", "i.w = 1", "o.id > ?", "o.id > 10").Replace(q)).Scan(&a, &b, &d); err != nil {
			t.Fatal(err)
		}
		return strings.Join([]string{a.String, b.String, d.String}, " ")
	}
	// step runs the statement and checks it against the per-row answer and, after a change
	// of the data, that the answer changed.
	step := func(what, prev string) string {
		t.Helper()
		got := run()
		if prev != "" && got == prev {
			t.Fatalf("%s: the answer %s of before the data changed", what, got)
		}
		if w := want(); got != w {
			t.Fatalf("%s %s, per row %s", what, got, w)
		}
		return got
	}
	first := step("first execution", "")
	// Another connection changes the groups.
	mustExec(t, c, "UPDATE i SET v = v + 7, a = 3 WHERE id % 5 = 0")
	mustExec(t, c, "INSERT INTO i SELECT id + 10000, a, b, u, w, 99.5, s FROM i WHERE id % 3 = 0")
	second := step("second execution", first)
	// The connection's own transaction changes them: it sees its writes, then not after
	// the rollback.
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "DELETE FROM i WHERE a = 3 OR b = 1"); err != nil {
		t.Fatal(err)
	}
	step("in the transaction", second)
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if fourth := run(); fourth != second {
		t.Fatalf("after the rollback %s, want %s", fourth, second)
	}
}
