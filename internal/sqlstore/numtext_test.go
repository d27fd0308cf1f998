package sqlstore

import (
	"strings"
	"testing"
)

// TestNumericText checks strings compared with numbers against MariaDB 10.11's answers
// (numtext.go): a constant that is not wholly a number reads as the number it starts with,
// through an index lookup too (GMS failed with 1366), and a string column compared with a
// number is read row by row as one.
func TestNumericText(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE nt")
	db := n.connect(t, "nt")
	mustExec(t, db, "CREATE TABLE n (i INT PRIMARY KEY, k INT, d DECIMAL(5,2), s VARCHAR(10), KEY (k), KEY (s))")
	mustExec(t, db, "INSERT INTO n VALUES (1, 1, 1.00, '1abc'), (2, 2, 2.50, '2'), (10, 10, 0, 'abc')")
	var cases []queryCase
	for _, c := range []struct{ where, want string }{
		{"i = '1abc'", "1"}, {"i > '9a'", "10"}, {"i = 'abc'", "NULL"}, {"i = ''", "NULL"},
		{"i = '1.5'", "NULL"}, {"i IN ('1abc', '2')", "1,2"}, {"i NOT IN ('1abc')", "2,10"},
		{"k = '2x'", "2"}, {"i + 0 = '1abc'", "1"}, {"'1abc' = i", "1"}, {"i <=> '1z'", "1"},
		{"d = '2.5 euros'", "2"}, {"d = 'abc'", "10"},
		{"s = 1", "1"}, {"s = 0", "10"}, {"s > 1", "2"}, {"s = i", "1,2"}, {"1 = s", "1"},
		{"s = 1.0", "1"}, {"s = 'abc'", "10"},
	} {
		cases = append(cases, queryCase{"SELECT GROUP_CONCAT(i ORDER BY i) FROM n WHERE " + c.where, c.want})
	}
	checkQueries(t, db, cases)
	// The lookup still reads the index.
	if plan := queryRows(t, db, "EXPLAIN FORMAT=TREE SELECT * FROM n WHERE k = '2x'"); !strings.Contains(plan, "IndexedTableAccess") {
		t.Errorf("k = '2x' does not read the index:\n%s", plan)
	}
}
