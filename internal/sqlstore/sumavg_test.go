package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
)

// TestSumAvgTypes: SUM and AVG give MySQL 8's types and values (GMS summed every
// non-DECIMAL value as a float64 and typed both functions DOUBLE: SUM(2000000) was 2e+06, a
// BIGINT sum past 2^53 was rounded, a DECIMAL(10,2) sum lost its scale), over the text and
// the binary protocol, in groups, windows, derived tables, views and CREATE TABLE … SELECT.
func TestSumAvgTypes(t *testing.T) {
	n := startNode(t, t.TempDir())
	root := n.connect(t, "")
	mustExec(t, root, "CREATE DATABASE s")
	db := n.connect(t, "s")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, g INT, a DECIMAL(10,2), b BIGINT, u BIGINT UNSIGNED, f DOUBLE, s VARCHAR(10), d DATE)")
	mustExec(t, db, `INSERT INTO t VALUES
		(1, 1, 100.50, 9007199254740993, 18446744073709551615, 1.5, '3', '2024-01-31'),
		(2, 1, 0.50, 0, 1, 2.5, 'x', NULL),
		(3, 2, 30.50, 1, NULL, 1, '4abc', '2024-02-01')`)

	for _, c := range []struct{ q, want string }{
		{"SELECT SUM(2000000) FROM t", "6000000"},
		{"SELECT SUM(b), AVG(b) FROM t", "9007199254740994,3002399751580331.3333"},
		{"SELECT SUM(u), AVG(u) FROM t", "18446744073709551616,9223372036854775808.0000"},
		{"SELECT SUM(a), AVG(a), SUM(id), AVG(id) FROM t", "131.50,43.833333,6,2.0000"},
		{"SELECT SUM(f), AVG(f), SUM(s), AVG(s) FROM t", "5,1.6666666666666667,7,2.3333333333333335"},
		{"SELECT SUM(d), AVG(d) FROM t", "40480332,20240166.0000"},
		{"SELECT g, SUM(a), AVG(a) FROM t GROUP BY g ORDER BY g", "1,101.00,50.500000 2,30.50,30.500000"},
		{"SELECT g, SUM(a) AS s FROM t GROUP BY g HAVING s > 31 ORDER BY SUM(a)", "1,101.00"},
		{"SELECT SUM(DISTINCT g), AVG(DISTINCT g) FROM t", "3,1.5000"},
		{"SELECT x FROM (SELECT SUM(a) AS x FROM t GROUP BY g) dt ORDER BY x", "30.50 101.00"},
		{"SELECT (SELECT SUM(a) FROM t) + 1", "132.50"},
		{"SELECT id, SUM(a) OVER (ORDER BY id), AVG(b) OVER () FROM t ORDER BY id",
			"1,100.50,3002399751580331.3333 2,101.00,3002399751580331.3333 3,131.50,3002399751580331.3333"},
		{"SELECT SUM(a), AVG(a), SUM(f) FROM t WHERE id > 10", "NULL,NULL,NULL"},
	} {
		if got := queryRows(t, db, c.q); got != c.want {
			t.Errorf("%s = %s, want %s", c.q, got, c.want)
		}
		// The same through a prepared statement (binary protocol).
		stmt, err := db.Prepare(c.q)
		if err != nil {
			t.Fatalf("prepare %s: %v", c.q, err)
		}
		if got := queryRows(t, preparedQuerier{stmt}, c.q); got != c.want {
			t.Errorf("prepared %s = %s, want %s", c.q, got, c.want)
		}
		stmt.Close()
	}

	// Result-set metadata: DECIMAL with MySQL's precision and scale, DOUBLE otherwise.
	rows, err := db.QueryContext(context.Background(), "SELECT SUM(a), AVG(a), SUM(b), AVG(id), SUM(f), AVG(s) FROM t")
	if err != nil {
		t.Fatal(err)
	}
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ct := range cts {
		p, s, ok := ct.DecimalSize()
		if ct.DatabaseTypeName() == "DECIMAL" && ok {
			got = append(got, fmt.Sprintf("DECIMAL(%d,%d)", p, s))
		} else {
			got = append(got, ct.DatabaseTypeName())
		}
	}
	rows.Close()
	if want := "DECIMAL(32,2) DECIMAL(14,6) DECIMAL(41,0) DECIMAL(14,4) DOUBLE DOUBLE"; strings.Join(got, " ") != want {
		t.Errorf("column types %v, want %s", got, want)
	}

	// A view and CREATE TABLE … SELECT keep the types.
	mustExec(t, db, "CREATE VIEW v AS SELECT g, SUM(a) AS s, AVG(id) AS av FROM t GROUP BY g")
	if got, want := queryRows(t, db, "SELECT * FROM v ORDER BY g"), "1,101.00,1.5000 2,30.50,3.0000"; got != want {
		t.Errorf("view: %s, want %s", got, want)
	}
	mustExec(t, db, "CREATE TABLE c AS SELECT g, SUM(a) AS s, AVG(b) AS ab, SUM(f) AS sf FROM t GROUP BY g")
	ddl := queryRows(t, db, "SHOW CREATE TABLE c")
	for _, want := range []string{"`s` decimal(32,2)", "`ab` decimal(23,4)", "`sf` double"} {
		if !strings.Contains(ddl, want) {
			t.Errorf("SHOW CREATE TABLE c: %s\nwant %s", ddl, want)
		}
	}
	if got, want := queryRows(t, db, "SELECT s, ab FROM c ORDER BY g"), "101.00,4503599627370496.5000 30.50,1.0000"; got != want {
		t.Errorf("CREATE TABLE … SELECT rows: %s, want %s", got, want)
	}

	// The mysql client prints what MySQL prints (the example: 2e+06).
	out := mysqlCLI(t, n, "SELECT SUM(2000000), SUM(a) FROM s.t GROUP BY g ORDER BY g;\n")
	if want := "SUM(2000000)\tSUM(a)\n4000000\t101.00\n2000000\t30.50\n"; out != want {
		t.Errorf("mysql client printed %q, want %q", out, want)
	}
}

// preparedQuerier runs a prepared statement (the binary protocol) where queryRows wants a
// querier; the query text is the statement's own.
type preparedQuerier struct{ *sql.Stmt }

func (p preparedQuerier) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return p.Stmt.QueryContext(ctx, args...)
}
