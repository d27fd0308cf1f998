package sqlstore

import "testing"

// TestCastStringToInteger checks CAST of strings to SIGNED and UNSIGNED against MySQL's
// answers (intcast.go): the integer prefix, clipped to the type's range.
func TestCastStringToInteger(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE ic")
	db := n.connect(t, "ic")
	mustExec(t, db, "CREATE TABLE c (id INT PRIMARY KEY, code VARCHAR(20))")
	mustExec(t, db, "INSERT INTO c VALUES (1, '10'), (2, '9'), (3, '100a'), (4, 'abc'), (5, NULL), (6, ' 7 '), (7, '-3')")
	checkQueries(t, db, []queryCase{
		{"SELECT CAST('12abc' AS SIGNED), CAST('1.5' AS SIGNED), CAST('1e3' AS SIGNED), CAST(' 7 ' AS SIGNED), CAST('' AS SIGNED), CAST('-1' AS UNSIGNED)",
			"12,1,1,7,0,18446744073709551615"},
		{"SELECT CAST('99999999999999999999' AS SIGNED), CAST('-99999999999999999999' AS SIGNED), CAST('99999999999999999999' AS UNSIGNED), CAST('-9223372036854775808' AS SIGNED)",
			"9223372036854775807,-9223372036854775808,18446744073709551615,-9223372036854775808"},
		// Numbers are cast as before: rounded.
		{"SELECT CAST(1.5 AS SIGNED), CAST(-1.5 AS SIGNED), CAST(NULL AS SIGNED)", "2,-2,NULL"},
		{"SELECT id FROM c ORDER BY CAST(code AS UNSIGNED), id", "5 4 6 2 1 3 7"},
		{"SELECT CAST(code AS SIGNED) FROM c ORDER BY id", "10 9 100 0 NULL 7 -3"},
	})
}
