package sqlstore

import (
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// BenchmarkAsOf times a point select and a full scan of a 10,000-row table, on the present
// and as of a moment before the table was rewritten 20 times, through go-sql-driver on
// loopback (prepared statements; the moment is written in the statement). The past view is
// opened by the first statement and shared by the rest: "first" times a statement that opens
// it.
//
//	go test ./internal/sqlstore -run '^$' -bench BenchmarkAsOf -benchtime 2000x
func BenchmarkAsOf(b *testing.B) {
	n := startHistoryNode(b)
	db, err := sql.Open("mysql", "root@tcp("+n.addr+")/")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{"CREATE DATABASE h", "USE h", "CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL, pad VARCHAR(100) NOT NULL)",
		"CREATE TABLE u (id INT PRIMARY KEY, v INT NOT NULL)", "INSERT INTO u VALUES (1, 0)"} {
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	const rows = 10000
	for i := 0; i < rows; i += 500 {
		q := "INSERT INTO t VALUES "
		for j := i; j < i+500; j++ {
			if j > i {
				q += ","
			}
			q += fmt.Sprintf("(%d, 0, REPEAT('x', 100))", j)
		}
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(2 * time.Millisecond)
	at := time.Now().Format("2006-01-02 15:04:05.000000")
	time.Sleep(2 * time.Millisecond)
	for range 20 {
		if _, err := db.Exec("UPDATE t SET v = v + 1"); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct{ name, asOf string }{{"present", ""}, {"past", " AS OF '" + at + "'"}} {
		point, err := db.Prepare("SELECT v FROM t" + c.asOf + " WHERE id = ?")
		if err != nil {
			b.Fatal(err)
		}
		b.Run("point/"+c.name, func(b *testing.B) {
			var v int
			for i := range b.N {
				if err := point.QueryRow(i * 7919 % rows).Scan(&v); err != nil {
					b.Fatal(err)
				}
			}
			if want := map[string]int{"present": 20, "past": 0}[c.name]; v != want {
				b.Fatalf("v = %d, want %d", v, want)
			}
		})
		point.Close()
		b.Run("scan/"+c.name, func(b *testing.B) {
			for range b.N {
				var cnt, sum int
				if err := db.QueryRow("SELECT COUNT(*), SUM(v) FROM t"+c.asOf).Scan(&cnt, &sum); err != nil || cnt != rows {
					b.Fatal(cnt, err)
				}
			}
		})
	}
	b.Run("first/past", func(b *testing.B) {
		for range b.N {
			// A commit elsewhere, then its moment: a position of its own, a view to open.
			b.StopTimer()
			if _, err := db.Exec("UPDATE u SET v = v + 1"); err != nil {
				b.Fatal(err)
			}
			time.Sleep(time.Millisecond)
			m := time.Now().Format("2006-01-02 15:04:05.000000")
			b.StartTimer()
			var v int
			if err := db.QueryRow("SELECT v FROM t AS OF '" + m + "' WHERE id = 1").Scan(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
