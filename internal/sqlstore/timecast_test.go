package sqlstore

import (
	"database/sql"
	"strings"
	"testing"
	"time"
)

// TestCastDatetimeToTime: CAST of a date-and-time string or TIMESTAMP literal to TIME is its
// time of day, as in MySQL (GMS returned NULL); other values cast as before.
func TestCastDatetimeToTime(t *testing.T) {
	n := startNode(t, t.TempDir())
	db := n.connect(t, "")
	checkQueries(t, db, []queryCase{
		{"SELECT CAST('2011-11-20 21:27:37' AS TIME)", "21:27:37"},
		{"SELECT CAST(TIMESTAMP '2011-11-20 21:27:37' AS TIME)", "21:27:37"},
		{"SELECT CAST('12:34:56' AS TIME)", "12:34:56"},
		{"SELECT CAST('-838:59:59' AS TIME)", "-838:59:59"},
		{"SELECT CAST('x' AS TIME)", "NULL"},
		{"SELECT CAST('0000-00-00' AS TIME)", "00:00:00"},
		{"SELECT CAST('2011-01-02' AS TIME)", "00:20:11"},
		{"SELECT CAST(CAST('2011-01-02' AS DATE) AS TIME)", "00:00:00"},
	})
}

// TestCastZeroTimeParamToTime: go-sql-driver/mysql sends a zero time.Time as '0000-00-00';
// a prepared CAST(? AS TIME) of it is 00:00:00, as in MySQL (the driver's TestDateTime).
func TestCastZeroTimeParamToTime(t *testing.T) {
	n := startNode(t, t.TempDir())
	db := n.connect(t, "")
	for _, v := range []any{time.Time{}, time.Date(2011, 11, 20, 21, 27, 37, 0, time.UTC)} {
		var got string
		if err := db.QueryRow("SELECT CAST(? AS TIME)", v).Scan(&got); err != nil {
			t.Fatalf("CAST(%v AS TIME): %v", v, err)
		}
		want := v.(time.Time).Format("15:04:05")
		if got != want {
			t.Errorf("CAST(%v AS TIME) = %s, want %s", v, got, want)
		}
	}
}

// TestFractionalSecondsPadded: a DATETIME(3), TIMESTAMP(2) or TIME value is written with
// its column's fractional digits, as in MySQL (GMS trimmed trailing zeros), in the text and
// the binary protocol.
func TestFractionalSecondsPadded(t *testing.T) {
	n := startNode(t, t.TempDir())
	db := n.connect(t, "")
	for _, q := range []string{"CREATE DATABASE f", "CREATE TABLE f.t (id INT PRIMARY KEY, d DATETIME(3), s TIMESTAMP(2), p DATETIME)",
		"INSERT INTO f.t VALUES (1, '2025-06-07 08:09:10', '2025-06-07 08:09:10.5', '2025-06-07 08:09:10'), (2, NULL, NULL, NULL)"} {
		mustExec(t, db, q)
	}
	want := "1 2025-06-07 08:09:10.000 2025-06-07 08:09:10.50 2025-06-07 08:09:10\n2 NULL NULL NULL"
	if got := mysqlCLI(t, n, "SELECT id, d, s, p FROM f.t ORDER BY id", "-N"); strings.ReplaceAll(strings.TrimSpace(got), "\t", " ") != want {
		t.Errorf("text protocol: %q, want %q", got, want)
	}
	raw, err := sql.Open("mysql", "root@tcp("+n.addr+")/f")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var bd, bs string
	if err := raw.QueryRow("SELECT d, s FROM t WHERE id = ?", 1).Scan(&bd, &bs); err != nil {
		t.Fatal(err)
	}
	if bd != "2025-06-07 08:09:10.000" || bs != "2025-06-07 08:09:10.50" {
		t.Errorf("binary protocol: %q %q", bd, bs)
	}
}
