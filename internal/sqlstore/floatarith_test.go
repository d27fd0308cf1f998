package sqlstore

import (
	"strings"
	"testing"
)

// TestFloatArithOverflow: a DOUBLE +, -, * or / past DOUBLE's range is error 1690 with
// MySQL's message, in a SELECT and in an UPDATE (which changes nothing); results in range,
// and division by zero (NULL), are as before.
func TestFloatArithOverflow(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.connect(t, "")
	mustExec(t, c, "CREATE DATABASE d")
	c = n.connect(t, "d")
	mustExec(t, c, "CREATE TABLE f (id INT PRIMARY KEY, d DOUBLE)")
	mustExec(t, c, "INSERT INTO f VALUES (1, 1e200), (2, -3.5), (3, NULL)")
	for _, tc := range []struct{ q, text string }{
		{"SELECT 1e300 * 1e10", "DOUBLE value is out of range in '(1e300 * 1e10)'"},
		{"SELECT -1e300 * 1e10", "DOUBLE value is out of range in"},
		{"SELECT 1.7e308 + 1.7e308", "DOUBLE value is out of range in"},
		{"SELECT -1.7e308 - 1.7e308", "DOUBLE value is out of range in"},
		{"SELECT 1e300 / 1e-10", "DOUBLE value is out of range in"},
		{"SELECT d * d FROM f WHERE id = 1", "DOUBLE value is out of range in '(`d`.`f`.`d` * `d`.`f`.`d`)'"},
		{"SELECT d / 1e-200 FROM f WHERE id = 1", "DOUBLE value is out of range in '(`d`.`f`.`d` / 1e-200)'"},
		{"SELECT id FROM f WHERE d * 1e200 > 0", "DOUBLE value is out of range in"},
		{"SELECT POW(10, 400)", "DOUBLE value is out of range in 'pow(10,400)'"},
		{"SELECT POWER(d, 2) FROM f WHERE id = 1", "DOUBLE value is out of range in 'pow(`d`.`f`.`d`,2)'"},
		{"SELECT EXP(1000)", "DOUBLE value is out of range in 'exp(1000)'"},
		{"SELECT POW(0, -1)", "DOUBLE value is out of range in 'pow(0,-1)'"},
		{"SELECT POW(-8, 1e0 / 3)", "DOUBLE value is out of range in"},
	} {
		_, err := c.Exec(tc.q)
		if mysqlCode(err) != erDataOutOfRange || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: got %v, want 1690 %q", tc.q, err, tc.text)
		}
	}
	if _, err := c.Exec("UPDATE f SET d = d * 1e200 WHERE id IN (1, 2)"); mysqlCode(err) != erDataOutOfRange {
		t.Fatalf("UPDATE past DOUBLE's range: got %v, want 1690", err)
	}
	// go-sql-driver reads DOUBLEs as numbers and prints them its way (1e+200).
	for q, want := range map[string]string{
		"SELECT id, d FROM f ORDER BY id":                   "1,1e+200 2,-3.5 3,NULL",
		"SELECT 1e300 * 10, 2.5 * 4e0, 1e0 / 0, 1e300 / 10": "1e+301,10,NULL,1e+299",
		"SELECT d * 2 FROM f ORDER BY id":                   "2e+200 -7 NULL",
		"SELECT COUNT(*) FROM f WHERE d * 1e100 > 0":        "1",
	} {
		if got := queryRows(t, c, q); got != want {
			t.Errorf("%s: got %q, want %q", q, got, want)
		}
	}
}

// TestFoldedOperations: operations GMS folds while planning (constants in a WHERE) are
// computed as MySQL does: an integer overflow is error 1690 rather than wrapped, and the
// index lookup a folded constant allows is kept.
func TestFoldedOperations(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.connect(t, "")
	mustExec(t, c, "CREATE DATABASE d")
	c = n.connect(t, "d")
	mustExec(t, c, "CREATE TABLE k (id BIGINT PRIMARY KEY, u BIGINT UNSIGNED)")
	mustExec(t, c, "INSERT INTO k VALUES (1, 18446744073709551615), (2, 3), (3, 0)")
	for _, q := range []string{
		"SELECT COUNT(*) FROM k WHERE id > 9223372036854775807 + 1 - 9223372036854775807",
		"SELECT COUNT(*) FROM k WHERE id = 1e300 * 1e10",
	} {
		if _, err := c.Exec(q); mysqlCode(err) != erDataOutOfRange {
			t.Errorf("%s: got %v, want 1690", q, err)
		}
	}
	for q, want := range map[string]string{
		"SELECT id FROM k WHERE u & ~1 = 18446744073709551614": "1",
		"SELECT id FROM k WHERE id = 1 + 1":                    "2",
		"SELECT id FROM k WHERE id = 1 | 2":                    "3",
	} {
		if got := queryRows(t, c, q); got != want {
			t.Errorf("%s: got %q, want %q", q, got, want)
		}
	}
	for _, q := range []string{"SELECT id FROM k WHERE id = 1 + 1", "SELECT id FROM k WHERE id = 1 | 2"} {
		if p := explainTree(t, c, q); !strings.Contains(p, "IndexedTableAccess") {
			t.Errorf("%s: want an index lookup, plan:\n%s", q, p)
		}
	}
}
