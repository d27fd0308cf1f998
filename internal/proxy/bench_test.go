package proxy

import (
	"context"
	gosql "database/sql"
	"fmt"
	"testing"
)

// BenchmarkPointSelect runs sysbench's point select (a prepared primary-key lookup) on one
// connection, straight to an in-process read-write node and through the proxy in front of
// it: the proxy's cost per statement is the difference.
//
//	go test ./internal/proxy -run XXX -bench PointSelect -cpuprofile cpu.out
func BenchmarkPointSelect(b *testing.B) {
	rw := startRW(b, b.TempDir())
	setup, err := gosql.Open("mysql", "root@tcp("+rw.addr+")/")
	if err != nil {
		b.Fatal(err)
	}
	defer setup.Close()
	for _, q := range []string{"CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY, k INT, c CHAR(120))"} {
		if _, err := setup.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 1000 {
		if _, err := setup.Exec("INSERT INTO d.t VALUES (?, ?, REPEAT('x', 120))", i, i); err != nil {
			b.Fatal(err)
		}
	}
	px := startProxy(b, single(rw), nil)
	for _, target := range []struct{ name, addr string }{{"direct", rw.addr}, {"proxy", px.Addr().String()}} {
		b.Run(target.name, func(b *testing.B) {
			db, err := gosql.Open("mysql", "root@tcp("+target.addr+")/d")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			c, err := db.Conn(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			st, err := c.PrepareContext(context.Background(), "SELECT c FROM t WHERE id = ?")
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			var s string
			b.ResetTimer()
			for i := range b.N {
				if err := st.QueryRow(i % 1000).Scan(&s); err != nil {
					b.Fatal(fmt.Errorf("select %d: %w", i, err))
				}
			}
		})
	}
}
