package sqlstore

import (
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// TestBinaryProtocolDates: over the binary protocol (prepared statements, go-sql-driver's
// default), zero dates come back as MySQL sends them, a value of length 0: the text
// "0000-00-00" and, with parseTime, Go's zero time.Time (they came back as -0001-11-30).
// TIME values scan as strings, with and without parseTime.
func TestBinaryProtocolDates(t *testing.T) {
	n := startNode(t, t.TempDir())
	setup := n.connect(t, "")
	mustExec(t, setup, "CREATE DATABASE bd")
	for _, parse := range []bool{false, true} {
		db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(%s)/bd?parseTime=%v&timeout=5s", n.addr, parse))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		db.SetMaxOpenConns(1)
		table := fmt.Sprintf("d%v", parse)
		mustExec(t, db, "SET SESSION sql_mode = ''")
		mustExec(t, db, "CREATE TABLE "+table+" (id INT PRIMARY KEY, a DATE, b DATETIME, c TIMESTAMP NULL, d DATETIME(3), e TIME)")
		mustExec(t, db, "INSERT INTO "+table+" VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '00:00:00'),"+
			" (2, '2024-01-02', '2024-01-02 03:04:05', '2024-01-02 03:04:05', '2024-01-02 03:04:05.250', '-838:59:59'),"+
			" (3, '2024-01-02', '2024-01-02 03:04:05', '2024-01-02 03:04:05', '2024-01-02 03:04:05.250', '100:02:03')")
		rows, err := db.Query("SELECT a, b, c, d, e, e FROM "+table+" WHERE id > ? ORDER BY id", 0) // binary protocol
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var e1 string
			var e2 []byte
			if parse {
				var a, b, c, d time.Time
				if err := rows.Scan(&a, &b, &c, &d, &e1, &e2); err != nil {
					t.Fatalf("parseTime scan: %v", err)
				}
				got = append(got, fmt.Sprintf("%s|%s|%s|%s|%s|%s", a.Format(time.RFC3339Nano), b.Format(time.RFC3339Nano),
					c.Format(time.RFC3339Nano), d.Format(time.RFC3339Nano), e1, e2))
			} else {
				var a, b, c, d string
				if err := rows.Scan(&a, &b, &c, &d, &e1, &e2); err != nil {
					t.Fatalf("scan: %v", err)
				}
				got = append(got, fmt.Sprintf("%s|%s|%s|%s|%s|%s", a, b, c, d, e1, e2))
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		want := []string{
			"0000-00-00|0000-00-00 00:00:00|0000-00-00 00:00:00|0000-00-00 00:00:00.000|00:00:00|00:00:00",
			"2024-01-02|2024-01-02 03:04:05|2024-01-02 03:04:05|2024-01-02 03:04:05.250|-838:59:59|-838:59:59",
			"2024-01-02|2024-01-02 03:04:05|2024-01-02 03:04:05|2024-01-02 03:04:05.250|100:02:03|100:02:03",
		}
		if parse {
			want = []string{
				"0001-01-01T00:00:00Z|0001-01-01T00:00:00Z|0001-01-01T00:00:00Z|0001-01-01T00:00:00Z|00:00:00|00:00:00",
				"2024-01-02T00:00:00Z|2024-01-02T03:04:05Z|2024-01-02T03:04:05Z|2024-01-02T03:04:05.25Z|-838:59:59|-838:59:59",
				"2024-01-02T00:00:00Z|2024-01-02T03:04:05Z|2024-01-02T03:04:05Z|2024-01-02T03:04:05.25Z|100:02:03|100:02:03",
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("parseTime=%v:\n got %q\nwant %q", parse, got, want)
		}
	}
}
