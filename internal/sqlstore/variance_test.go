package sqlstore

import "testing"

// TestVarianceIsDouble checks the standard deviation and variance aggregates against MySQL's
// answers: DOUBLE whatever the argument's type (variance.go), NULL over no rows.
func TestVarianceIsDouble(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE va")
	db := n.connect(t, "va")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, i INT, d DECIMAL(10,2), g INT)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 5, 12.50, 1), (2, -3, -0.25, 1), (3, NULL, NULL, 2), (4, 5, 100.00, 2), (5, 0, 0.01, 3)")
	checkQueries(t, db, []queryCase{
		{"SELECT STDDEV_POP(i), STD(i), STDDEV(i) FROM t", "3.418698582794336,3.418698582794336,3.418698582794336"},
		{"SELECT VAR_POP(i), VARIANCE(i), VAR_SAMP(i), STDDEV_SAMP(i) FROM t", "11.6875,11.6875,15.583333333333334,3.947573094109004"},
		{"SELECT ROUND(STDDEV_POP(d), 6) FROM t", "41.850136"},
		{"SELECT STDDEV_POP(i), VAR_SAMP(i) FROM t WHERE id > 10", "NULL,NULL"},
		{"SELECT g, VAR_SAMP(i) FROM t GROUP BY g ORDER BY g", "1,32 2,NULL 3,NULL"},
		{"SELECT id, VAR_POP(i) OVER (ORDER BY id) FROM t WHERE id <= 2", "1,0 2,16"},
	})
	mustExec(t, db, "CREATE TABLE s AS SELECT STDDEV_POP(i) x FROM t")
	if got := queryRows(t, db, "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_NAME = 's'"); got != "double" {
		t.Errorf("CREATE TABLE … AS SELECT STDDEV_POP(i): column type %q, want double", got)
	}
}
