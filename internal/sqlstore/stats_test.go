package sqlstore

import (
	"fmt"
	"math/rand"
	randv2 "math/rand/v2"
	"strings"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
)

// TestStatisticsPickLookupJoin checks that, with index statistics, TPC-C's STOCK_LEVEL join
// looks each order line's item up in stock instead of hashing the whole warehouse's stock
// (GMS's choice when every range scan is guessed at half its table), and that its answer is
// the one computed from the data.
func TestStatisticsPickLookupJoin(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE d")
	c := n.connect(t, "d")
	mustExec(t, c, "CREATE TABLE stock (s_w_id INT, s_i_id INT, s_quantity INT, PRIMARY KEY (s_w_id, s_i_id))")
	mustExec(t, c, `CREATE TABLE order_line (ol_w_id INT, ol_d_id INT, ol_o_id INT, ol_number INT, ol_i_id INT,
		PRIMARY KEY (ol_w_id, ol_d_id, ol_o_id, ol_number))`)
	const items, orders = 20000, 300
	r := rand.New(rand.NewSource(7))
	qty := make([]int, items+1)
	var rows []string
	flush := func(table string) {
		if len(rows) > 0 {
			mustExec(t, c, "INSERT INTO "+table+" VALUES "+strings.Join(rows, ","))
			rows = rows[:0]
		}
	}
	for i := 1; i <= items; i++ {
		qty[i] = 10 + r.Intn(91)
		rows = append(rows, fmt.Sprintf("(1,%d,%d)", i, qty[i]))
		if len(rows) == 1000 {
			flush("stock")
		}
	}
	flush("stock")
	type line struct{ d, o, i int }
	var lines []line
	for d := 1; d <= 10; d++ {
		for o := 1; o <= orders; o++ {
			for k := 1; k <= 5+r.Intn(11); k++ {
				l := line{d, o, 1 + r.Intn(items)}
				lines = append(lines, l)
				rows = append(rows, fmt.Sprintf("(1,%d,%d,%d,%d)", d, o, k, l.i))
				if len(rows) == 1000 {
					flush("order_line")
				}
			}
		}
	}
	flush("order_line")

	q := `SELECT COUNT(DISTINCT (s_i_id)) FROM order_line, stock WHERE ol_w_id = 1 AND ol_d_id = ?
		AND ol_o_id < ? AND ol_o_id >= ? - 20 AND s_w_id = 1 AND s_i_id = ol_i_id AND s_quantity < ?`
	p := explainTree(t, c, strings.NewReplacer("?", "7").Replace(q))
	if !strings.Contains(p, "LookupJoin") || strings.Contains(p, "HashJoin") ||
		!strings.Contains(p, "keys: 1, order_line.ol_i_id") {
		t.Fatalf("want order lines driving lookups into stock, plan:\n%s", p)
	}
	for round := 0; round < 20; round++ {
		d, next, threshold := 1+r.Intn(10), 21+r.Intn(orders-20), 10+r.Intn(20)
		want := map[int]bool{}
		for _, l := range lines {
			if l.d == d && l.o < next && l.o >= next-20 && qty[l.i] < threshold {
				want[l.i] = true
			}
		}
		if got := queryRows(t, c, q, d, next, next, threshold); got != fmt.Sprint(len(want)) {
			t.Fatalf("d=%d next=%d threshold=%d: got %s, want %d", d, next, threshold, got, len(want))
		}
	}
	if got := queryRows(t, c, "ANALYZE TABLE stock, order_line"); !strings.Contains(got, "OK") {
		t.Fatalf("ANALYZE TABLE: %s", got)
	}
	if p := explainTree(t, c, strings.NewReplacer("?", "3").Replace(q)); !strings.Contains(p, "LookupJoin") {
		t.Fatalf("after ANALYZE TABLE, plan:\n%s", p)
	}
	// Tables named with their database need no current one (GMS answered 1046).
	nodb := n.connect(t, "")
	if got, want := queryRows(t, nodb, "ANALYZE TABLE d.stock, d.order_line"), "stock,analyze,status,OK order_line,analyze,status,OK"; got != want {
		t.Fatalf("ANALYZE TABLE without a current database: %q, want %q", got, want)
	}
	if _, err := nodb.Exec("ANALYZE TABLE d.nosuch"); mysqlCode(err) != 1146 {
		t.Fatalf("ANALYZE TABLE of a missing table: %v", err)
	}
}

// TestStatisticsDisjunctions runs OR and IN filters over a multi-column key of a table with
// statistics (GMS v0.20.0's histogram union panics on them, see stats.go) and checks their
// answers against the same rows in a table without indexes.
func TestStatisticsDisjunctions(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE d")
	c := n.connect(t, "d")
	mustExec(t, c, "CREATE TABLE k (w INT, d INT, o INT, v INT, PRIMARY KEY (w, d, o), KEY kv (v, d))")
	mustExec(t, c, "CREATE TABLE plain (w INT, d INT, o INT, v INT)")
	r := rand.New(rand.NewSource(3))
	var rows []string
	for d := 1; d <= 10; d++ {
		for o := 1; o <= 300; o++ {
			rows = append(rows, fmt.Sprintf("(1,%d,%d,%d)", d, o, r.Intn(50)))
		}
	}
	for _, tb := range []string{"k", "plain"} {
		for i := 0; i < len(rows); i += 1000 {
			mustExec(t, c, "INSERT INTO "+tb+" VALUES "+strings.Join(rows[i:min(i+1000, len(rows))], ","))
		}
	}
	mustExec(t, c, "ANALYZE TABLE k")
	for round := 0; round < 60; round++ {
		var tuples, ors []string
		for i := 0; i < 1+r.Intn(12); i++ {
			d, o := 1+r.Intn(11), r.Intn(320)
			tuples = append(tuples, fmt.Sprintf("(1,%d,%d)", d, o))
			ors = append(ors, fmt.Sprintf("(d = %d AND o = %d)", d, o))
		}
		wheres := []string{
			"(w, d, o) IN (" + strings.Join(tuples, ",") + ")",
			"w = 1 AND (" + strings.Join(ors, " OR ") + ")",
			fmt.Sprintf("d IN (%d, %d, %d) AND o < %d", r.Intn(11), r.Intn(11), r.Intn(11), r.Intn(300)),
			fmt.Sprintf("v = %d OR v = %d", r.Intn(50), r.Intn(50)),
		}
		for _, w := range wheres {
			q := "SELECT w, d, o, v FROM %s WHERE " + w + " ORDER BY d, o"
			if got, want := rowsOrCode(t, c, fmt.Sprintf(q, "k")), rowsOrCode(t, c, fmt.Sprintf(q, "plain")); got != want {
				t.Fatalf("%s: with statistics %q, without indexes %q", w, got, want)
			}
		}
	}
}

// TestStatisticsSampledLargeTable: a table above the exact-count threshold is counted and
// sampled from random leaves after a restart, reading fewer pages than one scan of it would,
// and its statistics still make STOCK_LEVEL look stock up by item, with the right answer.
func TestStatisticsSampledLargeTable(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	mustExec(t, n.connect(t, ""), "CREATE DATABASE d")
	c := n.connect(t, "d")
	mustExec(t, c, "CREATE TABLE stock (s_w_id INT, s_i_id INT, s_quantity INT, s_data VARCHAR(300), PRIMARY KEY (s_w_id, s_i_id))")
	mustExec(t, c, `CREATE TABLE order_line (ol_w_id INT, ol_d_id INT, ol_o_id INT, ol_number INT, ol_i_id INT,
		PRIMARY KEY (ol_w_id, ol_d_id, ol_o_id, ol_number))`)
	const warehouses, items = 3, 15000
	r := rand.New(rand.NewSource(11))
	qty := map[[2]int]int{}
	filler := strings.Repeat("x", 280)
	var rows []string
	flush := func(table string) {
		if len(rows) > 0 {
			mustExec(t, c, "INSERT INTO "+table+" VALUES "+strings.Join(rows, ","))
			rows = rows[:0]
		}
	}
	for w := 1; w <= warehouses; w++ {
		for i := 1; i <= items; i++ {
			q := 10 + r.Intn(91)
			qty[[2]int{w, i}] = q
			rows = append(rows, fmt.Sprintf("(%d,%d,%d,'%s')", w, i, q, filler))
			if len(rows) == 500 {
				flush("stock")
			}
		}
	}
	flush("stock")
	type line struct{ d, o, i int }
	var lines []line
	for d := 1; d <= 10; d++ {
		for o := 1; o <= 100; o++ {
			for k := 1; k <= 5+r.Intn(11); k++ {
				l := line{d, o, 1 + r.Intn(items)}
				lines = append(lines, l)
				rows = append(rows, fmt.Sprintf("(2,%d,%d,%d,%d)", d, o, k, l.i))
				if len(rows) == 1000 {
					flush("order_line")
				}
			}
		}
	}
	flush("order_line")
	n.stop()

	// A cold restart with a pool far smaller than stock. The first plan of STOCK_LEVEL counts
	// and samples both tables; then one full scan of stock, for comparison.
	n = startNodeWith(t, dir, 128)
	n.st.stats.exactRows = 2000
	c = n.connect(t, "d")
	pool := n.db.DB.Pool()
	q := `SELECT COUNT(DISTINCT (s_i_id)) FROM order_line, stock WHERE ol_w_id = 2 AND ol_d_id = ?
		AND ol_o_id < ? AND ol_o_id >= ? - 20 AND s_w_id = 2 AND s_i_id = ol_i_id AND s_quantity < ?`
	before := pool.Stats().Misses
	p := explainTree(t, c, strings.NewReplacer("?", "7").Replace(q))
	sampling := pool.Stats().Misses - before
	if !strings.Contains(p, "LookupJoin") || strings.Contains(p, "HashJoin") {
		t.Fatalf("want order lines driving lookups into stock, plan:\n%s", p)
	}
	before = pool.Stats().Misses
	if got := queryRows(t, c, "SELECT SUM(LENGTH(s_data)) FROM stock"); got != fmt.Sprint(280*warehouses*items) {
		t.Fatalf("scan of stock: %s", got)
	}
	scan := pool.Stats().Misses - before
	t.Logf("pages read: %d to count and sample both tables, %d to scan stock once", sampling, scan)
	if sampling*2 > scan {
		t.Fatalf("counting and sampling read %d pages, one scan of stock %d", sampling, scan)
	}
	est := queryRows(t, c, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'd' AND TABLE_NAME = 'stock'")
	var e float64
	fmt.Sscan(est, &e)
	if total := float64(warehouses * items); e < 0.8*total || e > 1.2*total {
		t.Fatalf("stock's estimated rows %s, it holds %.0f", est, total)
	}
	for round := 0; round < 10; round++ {
		d, next, threshold := 1+r.Intn(10), 21+r.Intn(80), 10+r.Intn(40)
		want := map[int]bool{}
		for _, l := range lines {
			if l.d == d && l.o < next && l.o >= next-20 && qty[[2]int{2, l.i}] < threshold {
				want[l.i] = true
			}
		}
		if got := queryRows(t, c, q, d, next, next, threshold); got != fmt.Sprint(len(want)) {
			t.Fatalf("d=%d next=%d threshold=%d: got %s, want %d", d, next, threshold, got, len(want))
		}
	}
}

// TestStatisticsSampleSpread: a large table is sampled a few rows from each of many leaves,
// not whole leaves. A leaf holds neighbouring keys, so whole leaves make a lumpy sample: with
// TPC-C's order_line some districts were estimated at several times their size, and GMS then
// read a district's order lines once per stock row in STOCK_LEVEL.
func TestStatisticsSampleSpread(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE d")
	c := n.connect(t, "d")
	mustExec(t, c, "CREATE TABLE t (a INT, b INT, pad VARCHAR(200), PRIMARY KEY (a, b))")
	const prefixes, perPrefix = 10, 2000
	n.st.stats.exactRows = 2000
	pad := strings.Repeat("p", 180)
	for a := 1; a <= prefixes; a++ {
		var rows []string
		for b := 1; b <= perPrefix; b++ {
			rows = append(rows, fmt.Sprintf("(%d,%d,'%s')", a, b, pad))
		}
		mustExec(t, c, "INSERT INTO t VALUES "+strings.Join(rows, ","))
	}
	ctx := sql.NewEmptyContext()
	db, err := n.st.Database(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	tbl, _, err := db.(*Database).GetTableInsensitive(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	tx, done, err := n.st.txnOf(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	const dives, limit = 32, 1024
	sample, est, small, err := diveRows(ctx, ourTable(tbl), tx, randv2.New(randv2.NewPCG(1, 2)), dives, limit)
	if err != nil || small {
		t.Fatalf("diveRows: small %v, %v", small, err)
	}
	if total := float64(prefixes * perPrefix); est < 0.7*total || est > 1.3*total {
		t.Errorf("estimated %.0f rows, the table holds %.0f", est, total)
	}
	if len(sample) != limit {
		t.Fatalf("sampled %d rows, want %d (%d from each of %d leaves)", len(sample), limit, limit/dives, dives)
	}
	got := map[[2]int32]bool{}
	perA := map[int32]int{}
	for _, r := range sample {
		k := [2]int32{r[0].(int32), r[1].(int32)}
		got[k] = true // two dives may meet one leaf
		perA[k[0]]++
	}
	// Whole leaves would make nearly every sampled row's neighbour sampled too.
	neighbours := 0
	for k := range got {
		if got[[2]int32{k[0], k[1] + 1}] {
			neighbours++
		}
	}
	t.Logf("%d leaves' rows per prefix: %v; %d of %d sampled rows have their neighbour sampled", dives, perA, neighbours, len(got))
	if neighbours*4 > len(got)*3 {
		t.Errorf("%d of %d sampled rows have their next row sampled too: whole leaves, not a few rows of each", neighbours, len(got))
	}
	if len(perA) != prefixes {
		t.Errorf("the sample covers %d of %d prefixes", len(perA), prefixes)
	}
}
