package sqlstore

import (
	"fmt"
	"strings"
	"testing"
)

// TestDateNumbers checks integers compared with dates and cast to dates against MySQL's
// answers (datenumber.go): YYYYMMDD, YYMMDD and their forms with a time of day are dates,
// in WHERE (through an index), in the select list, in BETWEEN, in CAST, and as a prepared
// statement's parameter.
func TestDateNumbers(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE dn")
	db := openDB(t, fmt.Sprintf("root@tcp(%s)/dn?timeout=5s", n.addr))
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, d DATE, dt DATETIME, ts TIMESTAMP, KEY (d))")
	mustExec(t, db, `INSERT INTO t VALUES (1, '2024-01-31', '2024-01-31 10:00:00', '2024-01-31 10:00:00'),
		(2, '2023-12-31', '2023-12-31 23:59:59', '2023-12-31 23:59:59'), (3, NULL, NULL, NULL),
		(4, '1999-05-01', '1999-05-01 00:00:00', '1999-05-01 00:00:00')`)
	checkQueries(t, db, []queryCase{
		{"SELECT id, d = 20240131, d > 20240101, 20240101 < d, d <=> 20240131, 240131 = d FROM t ORDER BY id",
			"1,1,1,1,1,1 2,0,0,0,0,0 3,NULL,NULL,NULL,0,NULL 4,0,0,0,0,0"},
		{"SELECT id FROM t WHERE d >= 20240101", "1"},
		{"SELECT id FROM t WHERE d < 20000101 ORDER BY id", "4"},
		{"SELECT id FROM t WHERE d = 990501", "4"},
		{"SELECT id FROM t WHERE d BETWEEN 20231201 AND 20240131 ORDER BY id", "1 2"},
		{"SELECT id FROM t WHERE dt > 20240131095959 AND ts <= 20240131100000", "1"},
		{"SELECT id FROM t WHERE dt >= 20231231 ORDER BY id", "1 2"},
		{"SELECT CAST(20240131 AS DATE), CAST(240131 AS DATE), CAST(20240131103000 AS DATETIME)",
			"2024-01-31,2024-01-31,2024-01-31 10:30:00"},
		{"SELECT CAST(20240230 AS DATE)", "NULL"},
		{"SELECT DATE(20240131), YEAR(20240131), MONTH(240131), DAYOFWEEK(20240131), WEEK(20240131, 3), YEARWEEK(20240131, 1)",
			"2024-01-31,2024,1,4,5,202405"},
		{"SELECT LAST_DAY(20240215), MONTHNAME(20240131), DAYNAME(20240131), TO_DAYS(20240131), WEEKOFYEAR(20240131)",
			"2024-02-29,January,Wednesday,739281,5"},
		{"SELECT DATE_FORMAT(20240131, '%Y/%m/%d'), DATEDIFF(20240301, 20240201), QUARTER(20240501), DAYOFYEAR(20240201), WEEKDAY(20240131)",
			"2024/01/31,29,2,32,2"},
		{"SELECT DATE_ADD(20240131, INTERVAL 1 DAY), ADDDATE(20240131, 1), DATE_SUB(20240131, INTERVAL 1 MONTH), SUBDATE(20240131, 1)",
			"2024-02-01,2024-02-01,2023-12-31,2024-01-30"},
		{"SELECT DATE_ADD(20240131103000, INTERVAL 1 HOUR)", "2024-01-31 11:30:00"},
	})
	if got := queryRows(t, db, "SELECT id FROM t WHERE d >= ? ORDER BY id", 20231231); got != "1 2" {
		t.Errorf("prepared d >= 20231231: got %q", got)
	}
	// One prepared statement run with other values must read each (a plan kept for the
	// first value would answer it again).
	stmt, err := db.Prepare("SELECT COUNT(*) FROM t WHERE d >= ?")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	for _, c := range []struct{ v, want int }{{20240101, 1}, {20231231, 2}, {19990501, 3}, {20240101, 1}} {
		var got int
		if err := stmt.QueryRow(c.v).Scan(&got); err != nil || got != c.want {
			t.Errorf("prepared d >= %d: %d rows (%v), want %d", c.v, got, err, c.want)
		}
	}
	if p := explainTree(t, db, "SELECT id FROM t WHERE d >= 20240101"); !strings.Contains(p, "IndexedTableAccess") {
		t.Errorf("d >= 20240101 reads no index:\n%s", p)
	}
}
