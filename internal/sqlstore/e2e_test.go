package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"strata/internal/localdb"
)

// node is a Strata node serving MySQL on loopback over a data directory.
type node struct {
	dir  string
	db   *localdb.DB
	st   *Store
	addr string
	stop func()
}

func startNode(t *testing.T, dir string) *node { return startNodeWith(t, dir, 0) }

func startNodeWith(t *testing.T, dir string, frames int) *node {
	t.Helper()
	return startNodeEngine(t, dir, frames, EngineOptions{})
}

func startNodeEngine(t *testing.T, dir string, frames int, o EngineOptions) *node {
	t.Helper()
	return startNodeDB(t, localdb.Options{Dir: dir, PoolFrames: frames}, o)
}

// startNodeDB serves a local database opened with lo (quiet, a 2 s lock wait) on loopback.
func startNodeDB(t testing.TB, lo localdb.Options, o EngineOptions) *node {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := lo.Dir
	lo.Logger, lo.LockWaitTimeout = quiet, 2*time.Second
	db, err := localdb.Open(ctx, lo)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Open(ctx, db.DB, quiet)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := st.NewSQLEngineWith(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := st.Serve(eng, l)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{dir: dir, db: db, st: st, addr: l.Addr().String()}
	stopped := false
	n.stop = func() {
		if stopped {
			return
		}
		stopped = true
		srv.Close()
		db.Close()
	}
	t.Cleanup(n.stop)
	return n
}

func (n *node) connect(t *testing.T, dbname string) *sql.DB {
	t.Helper()
	c, err := sql.Open("mysql", fmt.Sprintf("root@tcp(%s)/%s?parseTime=true&timeout=5s", n.addr, dbname))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustExec(t *testing.T, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func queryRows(t *testing.T, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, q string, args ...any) string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			if v.Valid {
				parts = append(parts, v.String)
			} else {
				parts = append(parts, "NULL")
			}
		}
		out = append(out, strings.Join(parts, ","))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return strings.Join(out, " ")
}

func mysqlCode(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

func TestSQLBasics(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	c := n.connect(t, "")
	mustExec(t, c, "CREATE DATABASE shop")
	mustExec(t, c, "USE shop")
	c = n.connect(t, "shop")
	mustExec(t, c, `CREATE TABLE items (
		id BIGINT PRIMARY KEY AUTO_INCREMENT,
		sku VARCHAR(32) NOT NULL,
		name VARCHAR(100),
		price DECIMAL(10,2),
		qty INT DEFAULT 0,
		UNIQUE KEY sku_u (sku),
		KEY name_i (name))`)
	mustExec(t, c, "INSERT INTO items (sku, name, price, qty) VALUES ('a-1', 'apple', 1.50, 10), ('b-2', 'banana', 0.25, 5), ('c-3', 'cherry', 7.00, NULL)")
	if got := queryRows(t, c, "SELECT id, sku, name, price, qty FROM items ORDER BY id"); got != "1,a-1,apple,1.50,10 2,b-2,banana,0.25,5 3,c-3,cherry,7.00,NULL" {
		t.Fatalf("select: %q", got)
	}
	// Duplicate unique key: 1062, and the statement leaves nothing behind.
	_, err := c.Exec("INSERT INTO items (sku, name) VALUES ('d-4', 'date'), ('a-1', 'again')")
	if mysqlCode(err) != 1062 {
		t.Fatalf("want 1062, got %v", err)
	}
	if got := queryRows(t, c, "SELECT count(*) FROM items"); got != "3" {
		t.Fatalf("partial statement: %q", got)
	}
	// Index lookups and ranges.
	if got := queryRows(t, c, "SELECT name FROM items WHERE sku = 'b-2'"); got != "banana" {
		t.Fatalf("unique lookup: %q", got)
	}
	if got := queryRows(t, c, "SELECT name FROM items WHERE name >= 'b' ORDER BY name DESC"); got != "cherry banana" {
		t.Fatalf("range: %q", got)
	}
	if got := queryRows(t, c, "EXPLAIN PLAN SELECT name FROM items WHERE sku = 'b-2'"); !strings.Contains(got, "IndexedTableAccess") {
		t.Fatalf("plan does not use the index: %s", got)
	}
	mustExec(t, c, "UPDATE items SET qty = qty + 1 WHERE qty IS NOT NULL")
	mustExec(t, c, "DELETE FROM items WHERE sku = 'c-3'")
	if got := queryRows(t, c, "SELECT sku, qty FROM items ORDER BY sku"); got != "a-1,11 b-2,6" {
		t.Fatalf("after update/delete: %q", got)
	}
	// Transactions.
	tx, err := c.Begin()
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, "INSERT INTO items (sku) VALUES ('tx-1')")
	mustExec(t, tx, "SAVEPOINT s1")
	mustExec(t, tx, "INSERT INTO items (sku) VALUES ('tx-2')")
	mustExec(t, tx, "ROLLBACK TO SAVEPOINT s1")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := queryRows(t, c, "SELECT sku FROM items WHERE sku LIKE 'tx%'"); got != "tx-1" {
		t.Fatalf("savepoint: %q", got)
	}
	// Keyless table with duplicate rows.
	mustExec(t, c, "CREATE TABLE log (msg VARCHAR(20))")
	mustExec(t, c, "INSERT INTO log VALUES ('x'), ('x'), ('y')")
	mustExec(t, c, "DELETE FROM log WHERE msg = 'x' LIMIT 1")
	if got := queryRows(t, c, "SELECT msg FROM log ORDER BY msg"); got != "x y" {
		t.Fatalf("keyless: %q", got)
	}
	// Everything survives a restart, including the auto-increment position.
	n.stop()
	n = startNode(t, dir)
	c = n.connect(t, "shop")
	mustExec(t, c, "INSERT INTO items (sku) VALUES ('after')")
	if got := queryRows(t, c, "SELECT id, sku FROM items ORDER BY id"); got != "1,a-1 2,b-2 6,tx-1 7,after" && got != "1,a-1 2,b-2 5,tx-1 6,after" {
		t.Fatalf("after restart: %q", got)
	}
	if got := queryRows(t, c, "SHOW TABLES"); got != "items log" {
		t.Fatalf("tables: %q", got)
	}
}

// TestLargerThanBufferPool stores far more data than the buffer pool holds and reads it back
// through full scans and index lookups.
func TestLargerThanBufferPool(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), 64) // 1 MiB of buffer pool
	c := n.connect(t, "")
	mustExec(t, c, "CREATE DATABASE big")
	db := n.connect(t, "big")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, g INT, body VARCHAR(1000), KEY g (g))")
	const rows = 6000 // about 6 MB
	body := strings.Repeat("b", 900)
	for start := 0; start < rows; start += 200 {
		var sb strings.Builder
		sb.WriteString("INSERT INTO t VALUES ")
		for i := start; i < start+200; i++ {
			if i > start {
				sb.WriteString(",")
			}
			fmt.Fprintf(&sb, "(%d, %d, '%s%d')", i, i%10, body, i)
		}
		mustExec(t, db, sb.String())
	}
	if got := queryRows(t, db, "SELECT count(*), CAST(sum(id) AS SIGNED), CAST(sum(length(body)) AS SIGNED) FROM t"); got != fmt.Sprintf("%d,%d,%d", rows, rows*(rows-1)/2, rows*900+sumDigits(rows)) {
		t.Fatalf("scan: %q", got)
	}
	if got := queryRows(t, db, "SELECT count(*) FROM t WHERE g = 3"); got != fmt.Sprint(rows/10) {
		t.Fatalf("index lookup: %q", got)
	}
	if st := n.db.Pool().Stats(); st.Evictions == 0 {
		t.Fatalf("no evictions: %+v", st)
	}
}

// sumDigits is the total number of decimal digits of 0..n-1.
func sumDigits(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += len(fmt.Sprint(i))
	}
	return s
}

// queryCase is a query and its rows as queryRows writes them.
type queryCase struct{ q, want string }

// checkQueries runs each case's query on db and reports every answer that differs.
func checkQueries(t *testing.T, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, cases []queryCase) {
	t.Helper()
	for _, c := range cases {
		if got := queryRows(t, db, c.q); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.q, got, c.want)
		}
	}
}
