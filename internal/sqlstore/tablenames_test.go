package sqlstore

import (
	"database/sql"
	"fmt"
	"reflect"
	"testing"
)

// TestColumnTableAsWritten: a column's table in the result set's metadata is the alias or
// table name as the statement spells it, as in MySQL (GMS lowercased it); go-sql-driver's
// columnsWithAlias prefixes column names with it (the driver's TestColumnsWithAlias).
func TestColumnTableAsWritten(t *testing.T) {
	n := startNode(t, t.TempDir())
	root := n.connect(t, "")
	for _, q := range []string{"CREATE DATABASE d", "CREATE TABLE d.Tbl (a INT, b INT)", "INSERT INTO d.Tbl VALUES (1, 2)"} {
		mustExec(t, root, q)
	}
	db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(%s)/d?columnsWithAlias=true", n.addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, c := range []struct {
		q    string
		args []any
		want []string
	}{
		{"SELECT 1 AS A", nil, []string{"A"}},
		{"SELECT * FROM (SELECT 1 AS one) AS A", nil, []string{"A.one"}},
		{"SELECT X.a, y.b FROM Tbl AS X JOIN Tbl y ON X.a = y.a", nil, []string{"X.a", "y.b"}},
		{"SELECT a FROM Tbl", nil, []string{"Tbl.a"}},
		{"SELECT name FROM (SELECT a AS name FROM Tbl) AS A", nil, []string{"A.name"}},
		{"SELECT Q.a FROM Tbl Q WHERE Q.a = ?", []any{1}, []string{"Q.a"}}, // prepared
	} {
		rows, err := db.Query(c.q, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.q, err)
		}
		cols, err := rows.Columns()
		rows.Close()
		if err != nil || !reflect.DeepEqual(cols, c.want) {
			t.Errorf("%s: columns %q (%v), want %q", c.q, cols, err, c.want)
		}
	}
}
