package sqlstore

import (
	"fmt"
	"testing"
)

// TestTemporalAsText checks dates and times read by string functions against MySQL's
// answers (temporaltext.go).
func TestTemporalAsText(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE tt")
	db := n.connect(t, "tt")
	// Strings as the server writes them, not as go-sql-driver's parseTime reads them.
	text := openDB(t, fmt.Sprintf("root@tcp(%s)/tt?timeout=5s", n.addr))
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, d DATE, dt DATETIME, tm TIME)")
	mustExec(t, db, "INSERT INTO t VALUES (1, '2024-01-31', '2024-01-31 10:00:00', '10:11:12'), (2, '1999-12-31', '2000-01-01 00:00:01', '-01:30:00'), (3, NULL, NULL, NULL)")
	checkQueries(t, text, []queryCase{
		{"SELECT CONCAT(d), CAST(d AS CHAR), LENGTH(d), REPLACE(d, '-', ''), CONVERT(d, CHAR) FROM t ORDER BY id",
			"2024-01-31,2024-01-31,10,20240131,2024-01-31 1999-12-31,1999-12-31,10,19991231,1999-12-31 NULL,NULL,NULL,NULL,NULL"},
		{"SELECT CONCAT_WS('/', d, dt, tm) FROM t ORDER BY id", "2024-01-31/2024-01-31 10:00:00/10:11:12 1999-12-31/2000-01-01 00:00:01/-01:30:00 "},
		{"SELECT CONCAT('at ', tm), LPAD(d, 12, '*'), UPPER(d), CAST(dt AS CHAR(10)) FROM t WHERE id = 1", "at 10:11:12,**2024-01-31,2024-01-31,2024-01-31"},
		{"SELECT GROUP_CONCAT(d ORDER BY d) FROM t", "1999-12-31,2024-01-31"},
		{"SELECT CONCAT(TIME(dt)), CONCAT(DATE(dt)) FROM t WHERE id = 1", "10:00:00,2024-01-31"},
	})
}
