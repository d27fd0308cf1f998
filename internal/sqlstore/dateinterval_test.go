package sqlstore

import (
	"fmt"
	"testing"
)

// TestDateIntervalTypes checks dates plus or minus intervals against MySQL's answers
// (dateinterval.go): a DATE stays a DATE, a DATETIME keeps its fractional digits.
func TestDateIntervalTypes(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE di")
	// Values as the server writes them, not as go-sql-driver's parseTime reads them.
	db := openDB(t, fmt.Sprintf("root@tcp(%s)/di?timeout=5s", n.addr))
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, d DATE, dt DATETIME, d3 DATETIME(3), ts TIMESTAMP)")
	mustExec(t, db, "INSERT INTO t VALUES (1, '2024-01-31', '2024-01-31 10:00:00', '2024-01-31 10:00:00.250', '2024-01-31 10:00:00'), (2, NULL, NULL, NULL, NULL)")
	checkQueries(t, db, []queryCase{
		{"SELECT d + INTERVAL 1 DAY, INTERVAL 1 DAY + d, d - INTERVAL 1 MONTH, d + INTERVAL 1 HOUR FROM t ORDER BY id",
			"2024-02-01,2024-02-01,2023-12-31,2024-01-31 01:00:00 NULL,NULL,NULL,NULL"},
		{"SELECT dt - INTERVAL 1 DAY, dt + INTERVAL 1 SECOND, DATE_SUB(dt, INTERVAL 1 DAY), DATE_ADD(dt, INTERVAL 90 MINUTE) FROM t WHERE id = 1",
			"2024-01-30 10:00:00,2024-01-31 10:00:01,2024-01-30 10:00:00,2024-01-31 11:30:00"},
		{"SELECT d3 + INTERVAL 1 DAY, ts - INTERVAL 1 HOUR, DATE_ADD(dt, INTERVAL 1 MICROSECOND) FROM t WHERE id = 1",
			"2024-02-01 10:00:00.250,2024-01-31 09:00:00,2024-01-31 10:00:00.000001"},
		{"SELECT COUNT(*) FROM t WHERE d + INTERVAL 1 DAY > '2024-01-31' AND dt - INTERVAL 1 HOUR < dt", "1"},
	})
}
