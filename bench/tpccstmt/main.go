// Command tpccstmt times each statement of go-tpc's TPC-C transactions and consistency
// checks, one at a time, against one or more MySQL-compatible servers loaded by
// `go-tpc tpcc prepare` (warehouse 1), and prints a table of per-statement times side by side,
// optionally with each statement's plan (EXPLAIN FORMAT=TREE, or EXPLAIN where the server has
// no tree format).
//
// Statements run as go-tpc runs them: server-side prepared, with random parameters drawn as
// go-tpc draws them (the same ones on every server). Statements that write or lock run in a
// transaction that is rolled back, so the data stay as loaded.
//
//	go run ./bench/tpccstmt -server strata='root@tcp(127.0.0.1:3306)/tpcc' \
//	    -server mariadb='root@tcp(127.0.0.1:3307)/tpcc' -explain -checks
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

// stmt is one statement of a TPC-C transaction.
type stmt struct {
	name  string
	query string
	// args draws the statement's parameters.
	args func(r *rand.Rand, d *data) []any
	// txn runs the statement inside a transaction that is rolled back.
	txn bool
}

// data are the values drawn from the loaded database that parameters need.
type data struct {
	lastNames []string    // c_last values of warehouse 1, district 1
	minNoOID  map[int]int // district -> oldest undelivered order
	nextOID   map[int]int // district -> d_next_o_id
}

func d10(r *rand.Rand) int { return 1 + r.Intn(10) }
func cid(r *rand.Rand) int { return 1 + r.Intn(3000) }
func iid(r *rand.Rand) int { return 1 + r.Intn(100000) }
func oid(r *rand.Rand) int { return 1 + r.Intn(2100) } // delivered orders of the initial load
func amt(r *rand.Rand) any { return float64(1+r.Intn(500000)) / 100 }
func last(r *rand.Rand, d *data) string {
	if len(d.lastNames) == 0 {
		return "BARBARBAR"
	}
	return d.lastNames[r.Intn(len(d.lastNames))]
}

func list(n int, item string) string {
	return strings.TrimSuffix(strings.Repeat(item+",", n), ",")
}

func distinctItems(r *rand.Rand, n int) []int {
	seen := map[int]bool{}
	var out []int
	for len(out) < n {
		if i := iid(r); !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out
}

func deliveryArgs(r *rand.Rand, d *data, first ...any) []any {
	args := append([]any(nil), first...)
	for dist := 1; dist <= 10; dist++ {
		args = append(args, 1, dist, d.minNoOID[dist])
	}
	return args
}

var stmts = []stmt{
	{name: "new_order: customer+warehouse", query: `SELECT c_discount, c_last, c_credit, w_tax FROM customer, warehouse WHERE w_id = ? AND c_w_id = w_id AND c_d_id = ? AND c_id = ?`,
		args: func(r *rand.Rand, _ *data) []any { return []any{1, d10(r), cid(r)} }},
	{name: "new_order: district FOR UPDATE", txn: true, query: `SELECT d_next_o_id, d_tax FROM district WHERE d_id = ? AND d_w_id = ? FOR UPDATE`,
		args: func(r *rand.Rand, _ *data) []any { return []any{d10(r), 1} }},
	{name: "new_order: UPDATE district", txn: true, query: `UPDATE district SET d_next_o_id = ? + 1 WHERE d_id = ? AND d_w_id = ?`,
		args: func(r *rand.Rand, d *data) []any { dist := d10(r); return []any{d.nextOID[dist], dist, 1} }},
	{name: "new_order: INSERT orders", txn: true, query: `INSERT INTO orders (o_id, o_d_id, o_w_id, o_c_id, o_entry_d, o_ol_cnt, o_all_local) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		args: func(r *rand.Rand, _ *data) []any {
			return []any{1_000_000 + r.Intn(1_000_000), d10(r), 1, cid(r), time.Now().Format("2006-01-02 15:04:05"), 10, 1}
		}},
	{name: "new_order: INSERT new_order", txn: true, query: `INSERT INTO new_order (no_o_id, no_d_id, no_w_id) VALUES (?, ?, ?)`,
		args: func(r *rand.Rand, _ *data) []any { return []any{1_000_000 + r.Intn(1_000_000), d10(r), 1} }},
	{name: "new_order: item IN (10)", query: `SELECT i_price, i_name, i_data, i_id FROM item WHERE i_id IN (` + list(10, "?") + `)`,
		args: func(r *rand.Rand, _ *data) []any {
			var a []any
			for _, i := range distinctItems(r, 10) {
				a = append(a, i)
			}
			return a
		}},
	{name: "new_order: stock (w,i) IN (10) FOR UPDATE", txn: true, query: `SELECT s_i_id, s_quantity, s_data, s_dist_01, s_dist_02, s_dist_03, s_dist_04, s_dist_05, s_dist_06, s_dist_07, s_dist_08, s_dist_09, s_dist_10 FROM stock WHERE (s_w_id, s_i_id) IN (` + list(10, "(?,?)") + `) FOR UPDATE`,
		args: func(r *rand.Rand, _ *data) []any {
			var a []any
			for _, i := range distinctItems(r, 10) {
				a = append(a, 1, i)
			}
			return a
		}},
	{name: "new_order: UPDATE stock", txn: true, query: `UPDATE stock SET s_quantity = ?, s_ytd = s_ytd + ?, s_order_cnt = s_order_cnt + 1, s_remote_cnt = s_remote_cnt + ? WHERE s_i_id = ? AND s_w_id = ?`,
		args: func(r *rand.Rand, _ *data) []any { return []any{50, 5, 0, iid(r), 1} }},
	{name: "new_order: INSERT order_line (10)", txn: true, query: `INSERT into order_line (ol_o_id, ol_d_id, ol_w_id, ol_number, ol_i_id, ol_supply_w_id, ol_quantity, ol_amount, ol_dist_info) VALUES ` + list(10, "(?,?,?,?,?,?,?,?,?)"),
		args: func(r *rand.Rand, _ *data) []any {
			o, dist := 1_000_000+r.Intn(1_000_000), d10(r)
			var a []any
			for n := 1; n <= 10; n++ {
				a = append(a, o, dist, 1, n, iid(r), 1, 5, amt(r), "abcdefghijklmnopqrstuvwx")
			}
			return a
		}},
	{name: "payment: UPDATE district", txn: true, query: `UPDATE district SET d_ytd = d_ytd + ? WHERE d_w_id = ? AND d_id = ?`,
		args: func(r *rand.Rand, _ *data) []any { return []any{amt(r), 1, d10(r)} }},
	{name: "payment: district", query: `SELECT d_street_1, d_street_2, d_city, d_state, d_zip, d_name FROM district WHERE d_w_id = ? AND d_id = ?`,
		args: func(r *rand.Rand, _ *data) []any { return []any{1, d10(r)} }},
	{name: "payment: UPDATE warehouse", txn: true, query: `UPDATE warehouse SET w_ytd = w_ytd + ? WHERE w_id = ?`,
		args: func(r *rand.Rand, _ *data) []any { return []any{amt(r), 1} }},
	{name: "payment: warehouse", query: `SELECT w_street_1, w_street_2, w_city, w_state, w_zip, w_name FROM warehouse WHERE w_id = ?`,
		args: func(r *rand.Rand, _ *data) []any { return []any{1} }},
	{name: "payment: customers by last name", query: `SELECT c_id FROM customer WHERE c_w_id = ? AND c_d_id = ? AND c_last = ? ORDER BY c_first`,
		args: func(r *rand.Rand, d *data) []any { return []any{1, 1, last(r, d)} }},
	{name: "payment: customer FOR UPDATE", txn: true, query: `SELECT c_first, c_middle, c_last, c_street_1, c_street_2, c_city, c_state, c_zip, c_phone, c_credit, c_credit_lim, c_discount, c_balance, c_since FROM customer WHERE c_w_id = ? AND c_d_id = ? AND c_id = ? FOR UPDATE`,
		args: func(r *rand.Rand, _ *data) []any { return []any{1, d10(r), cid(r)} }},
	{name: "payment: UPDATE customer", txn: true, query: `UPDATE customer SET c_balance = c_balance - ?, c_ytd_payment = c_ytd_payment + ?, c_payment_cnt = c_payment_cnt + 1 WHERE c_w_id = ? AND c_d_id = ? AND c_id = ?`,
		args: func(r *rand.Rand, _ *data) []any { return []any{amt(r), amt(r), 1, d10(r), cid(r)} }},
	{name: "payment: customer c_data", query: `SELECT c_data FROM customer WHERE c_w_id = ? AND c_d_id = ? AND c_id = ?`,
		args: func(r *rand.Rand, _ *data) []any { return []any{1, d10(r), cid(r)} }},
	{name: "payment: INSERT history", txn: true, query: `INSERT INTO history (h_c_d_id, h_c_w_id, h_c_id, h_d_id, h_w_id, h_date, h_amount, h_data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		args: func(r *rand.Rand, _ *data) []any {
			return []any{d10(r), 1, cid(r), d10(r), 1, time.Now().Format("2006-01-02 15:04:05"), amt(r), "abcdefghij    klmnopqrst"}
		}},
	{name: "order_status: count by last name", query: `SELECT count(c_id) namecnt FROM customer WHERE c_w_id = ? AND c_d_id = ? AND c_last = ?`,
		args: func(r *rand.Rand, d *data) []any { return []any{1, 1, last(r, d)} }},
	{name: "order_status: customers by last name", query: `SELECT c_balance, c_first, c_middle, c_id FROM customer WHERE c_w_id = ? AND c_d_id = ? AND c_last = ? ORDER BY c_first`,
		args: func(r *rand.Rand, d *data) []any { return []any{1, 1, last(r, d)} }},
	{name: "order_status: customer by id", query: `SELECT c_balance, c_first, c_middle, c_last FROM customer WHERE c_w_id = ? AND c_d_id = ? AND c_id = ?`,
		args: func(r *rand.Rand, _ *data) []any { return []any{1, d10(r), cid(r)} }},
	{name: "order_status: latest order", query: `SELECT o_id, o_carrier_id, o_entry_d FROM orders WHERE o_w_id = ? AND o_d_id = ? AND o_c_id = ? ORDER BY o_id DESC LIMIT 1`,
		args: func(r *rand.Rand, _ *data) []any { return []any{1, d10(r), cid(r)} }},
	{name: "order_status: order lines", query: `SELECT ol_i_id, ol_supply_w_id, ol_quantity, ol_amount, ol_delivery_d FROM order_line WHERE ol_w_id = ? AND ol_d_id = ? AND ol_o_id = ?`,
		args: func(r *rand.Rand, _ *data) []any { return []any{1, d10(r), oid(r)} }},
	{name: "delivery: oldest new_order LIMIT 1 FOR UPDATE", txn: true, query: `SELECT no_o_id FROM new_order WHERE no_w_id = ? AND no_d_id = ? ORDER BY no_o_id ASC LIMIT 1 FOR UPDATE`,
		args: func(r *rand.Rand, _ *data) []any { return []any{1, d10(r)} }},
	{name: "delivery: DELETE new_order (w,d,o) IN (10)", txn: true, query: `DELETE FROM new_order WHERE (no_w_id, no_d_id, no_o_id) IN (` + list(10, "(?,?,?)") + `)`,
		args: func(r *rand.Rand, d *data) []any { return deliveryArgs(r, d) }},
	{name: "delivery: UPDATE orders (w,d,o) IN (10)", txn: true, query: `UPDATE orders SET o_carrier_id = ? WHERE (o_w_id, o_d_id, o_id) IN (` + list(10, "(?,?,?)") + `)`,
		args: func(r *rand.Rand, d *data) []any { return deliveryArgs(r, d, d10(r)) }},
	{name: "delivery: orders (w,d,o) IN (10)", query: `SELECT o_d_id, o_c_id FROM orders WHERE (o_w_id, o_d_id, o_id) IN (` + list(10, "(?,?,?)") + `)`,
		args: func(r *rand.Rand, d *data) []any { return deliveryArgs(r, d) }},
	{name: "delivery: UPDATE order_line (w,d,o) IN (10)", txn: true, query: `UPDATE order_line SET ol_delivery_d = ? WHERE (ol_w_id, ol_d_id, ol_o_id) IN (` + list(10, "(?,?,?)") + `)`,
		args: func(r *rand.Rand, d *data) []any {
			return deliveryArgs(r, d, time.Now().Format("2006-01-02 15:04:05"))
		}},
	{name: "delivery: SUM order_line (w,d,o) IN (10)", query: `SELECT ol_d_id, SUM(ol_amount) FROM order_line WHERE (ol_w_id, ol_d_id, ol_o_id) IN (` + list(10, "(?,?,?)") + `) GROUP BY ol_d_id`,
		args: func(r *rand.Rand, d *data) []any { return deliveryArgs(r, d) }},
	{name: "delivery: UPDATE customer", txn: true, query: `UPDATE customer SET c_balance = c_balance + ?, c_delivery_cnt = c_delivery_cnt + 1 WHERE c_w_id = ? AND c_d_id = ? AND c_id = ?`,
		args: func(r *rand.Rand, _ *data) []any { return []any{amt(r), 1, d10(r), cid(r)} }},
	{name: "stock_level: district", query: `SELECT d_next_o_id FROM district WHERE d_w_id = ? AND d_id = ?`,
		args: func(r *rand.Rand, _ *data) []any { return []any{1, d10(r)} }},
	{name: "stock_level: COUNT(DISTINCT) join", query: `SELECT /*+ TIDB_INLJ(order_line,stock) */ COUNT(DISTINCT (s_i_id)) stock_count FROM order_line, stock WHERE ol_w_id = ? AND ol_d_id = ? AND ol_o_id < ? AND ol_o_id >= ? - 20 AND s_w_id = ? AND s_i_id = ol_i_id AND s_quantity < ?`,
		args: func(r *rand.Rand, d *data) []any {
			dist := d10(r)
			return []any{1, dist, d.nextOID[dist], d.nextOID[dist], 1, 10 + r.Intn(11)}
		}},
}

// checks are go-tpc's consistency checks (tpcc/check.go), for warehouse 1.
var checks = []struct{ name, query string }{
	{"3.3.2.1", "SELECT sum(d_ytd) - max(w_ytd) diff FROM district, warehouse WHERE d_w_id = w_id AND w_id = 1 group by d_w_id"},
	{"3.3.2.2", "SELECT POWER((d_next_o_id -1 - mo), 2) + POWER((d_next_o_id -1 - mno), 2) diff FROM district dis, (SELECT o_d_id,max(o_id) mo FROM orders WHERE o_w_id= 1 GROUP BY o_d_id) q, (select no_d_id,max(no_o_id) mno from new_order where no_w_id= 1 group by no_d_id) no where d_w_id = 1 and q.o_d_id=dis.d_id and no.no_d_id=dis.d_id"},
	{"3.3.2.3", "SELECT max(no_o_id)-min(no_o_id)+1 - count(*) diff from new_order where no_w_id = 1 group by no_d_id"},
	{"3.3.2.4", "SELECT count(*) FROM (SELECT o_d_id, SUM(o_ol_cnt) sm1, MAX(cn) as cn FROM orders,(SELECT ol_d_id, COUNT(*) cn FROM order_line WHERE ol_w_id = 1 GROUP BY ol_d_id) ol WHERE o_w_id = 1 AND ol_d_id=o_d_id GROUP BY o_d_id) t1 WHERE sm1<>cn"},
	{"3.3.2.5", "SELECT count(*) FROM orders LEFT JOIN new_order ON (no_w_id=o_w_id AND o_d_id=no_d_id AND o_id=no_o_id) where o_w_id = 1 and ((o_carrier_id IS NULL and no_o_id IS  NULL) OR (o_carrier_id IS NOT NULL and no_o_id IS NOT NULL  )) "},
	{"3.3.2.6", `SELECT COUNT(*) FROM (SELECT o_ol_cnt, order_line_count FROM orders LEFT JOIN (SELECT ol_w_id, ol_d_id, ol_o_id, count(*) order_line_count FROM order_line GROUP BY ol_w_id, ol_d_id, ol_o_id ORDER by ol_w_id, ol_d_id, ol_o_id) AS order_line ON orders.o_w_id = order_line.ol_w_id AND orders.o_d_id = order_line.ol_d_id AND orders.o_id = order_line.ol_o_id WHERE orders.o_w_id = 1) AS T WHERE T.o_ol_cnt != T.order_line_count`},
	{"3.3.2.7", "SELECT count(*) FROM orders, order_line WHERE o_id=ol_o_id AND o_d_id=ol_d_id AND ol_w_id=o_w_id AND o_w_id = 1 AND ((ol_delivery_d IS NULL and o_carrier_id IS NOT NULL) or (o_carrier_id IS NULL and ol_delivery_d IS NOT NULL ))"},
	{"3.3.2.8", "SELECT count(*) cn FROM (SELECT w_id,w_ytd,SUM(h_amount) sm FROM history,warehouse WHERE h_w_id=w_id and w_id = 1 GROUP BY w_id) t1 WHERE w_ytd<>sm"},
	{"3.3.2.9", "SELECT COUNT(*) FROM (select d_id,d_w_id,sum(d_ytd) s1 from district group by d_id,d_w_id) d,(select h_d_id,h_w_id,sum(h_amount) s2 from history WHERE  h_w_id = 1 group by h_d_id, h_w_id) h WHERE h_d_id=d_id AND d_w_id=h_w_id and d_w_id= 1 and s1<>s2"},
	{"3.3.2.10", `SELECT count(*) FROM (SELECT c.c_id, c.c_d_id, c.c_w_id, c.c_balance c1, (SELECT sum(ol_amount) FROM orders STRAIGHT_JOIN order_line WHERE OL_W_ID=O_W_ID AND OL_D_ID = O_D_ID AND OL_O_ID = O_ID AND OL_DELIVERY_D IS NOT NULL AND O_W_ID=1 AND O_D_ID=c.C_D_ID AND O_C_ID=c.C_ID) sm, (SELECT sum(h_amount) from history WHERE H_C_W_ID=1 AND H_C_D_ID=c.C_D_ID AND H_C_ID=c.C_ID) smh FROM customer c WHERE c.c_w_id = 1 ) t WHERE c1<>sm-smh`},
	{"3.3.2.11", `SELECT count(*) FROM (SELECT * FROM (SELECT o_w_id, o_d_id, count(*) order_count FROM orders GROUP BY o_w_id, o_d_id) orders JOIN (SELECT no_w_id, no_d_id, count(*) new_order_count FROM new_order GROUP BY no_w_id, no_d_id) new_order ON orders.o_w_id = new_order.no_w_id AND orders.o_d_id = new_order.no_d_id) order_new_order JOIN (SELECT c_w_id, c_d_id, count(*) customer_count FROM customer GROUP BY c_w_id, c_d_id) customer ON order_new_order.no_w_id = customer.c_w_id AND order_new_order.no_d_id = customer.c_d_id WHERE c_w_id = 1 AND order_count - 2100 != new_order_count`},
	{"3.3.2.12", `SELECT count(*) FROM (SELECT c.c_id, c.c_d_id, c.c_balance c1, c_ytd_payment, (SELECT sum(ol_amount) FROM orders STRAIGHT_JOIN order_line WHERE OL_W_ID=O_W_ID AND OL_D_ID = O_D_ID AND OL_O_ID = O_ID AND OL_DELIVERY_D IS NOT NULL AND O_W_ID=1 AND O_D_ID=c.C_D_ID AND O_C_ID=c.C_ID) sm FROM customer c WHERE c.c_w_id = 1) t1 WHERE c1+c_ytd_payment <> sm`},
}

type server struct {
	name string
	db   *sql.DB
	tree bool // EXPLAIN FORMAT=TREE works
	d    *data
}

type serverFlags []string

func (s *serverFlags) String() string     { return strings.Join(*s, " ") }
func (s *serverFlags) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	var servers serverFlags
	flag.Var(&servers, "server", "name=DSN of a server loaded by go-tpc tpcc prepare (repeat)")
	runs := flag.Int("n", 30, "runs of each statement (at most)")
	budget := flag.Duration("budget", 3*time.Second, "time budget per statement and server")
	explain := flag.Bool("explain", false, "print each statement's plan")
	doChecks := flag.Bool("checks", false, "time go-tpc's consistency check queries too")
	checkTimeout := flag.Duration("check-timeout", 2*time.Minute, "time limit per check query")
	only := flag.String("only", "", "only statements whose name contains this")
	flag.Parse()
	if len(servers) == 0 {
		fmt.Fprintln(os.Stderr, "tpccstmt: give at least one -server name=DSN")
		os.Exit(2)
	}
	ctx := context.Background()
	var srvs []*server
	for _, s := range servers {
		name, dsn, ok := strings.Cut(s, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "tpccstmt: -server %q is not name=DSN\n", s)
			os.Exit(2)
		}
		srv, err := open(ctx, name, dsn)
		if err != nil {
			fmt.Fprintf(os.Stderr, "tpccstmt: %s: %v\n", name, err)
			os.Exit(1)
		}
		srvs = append(srvs, srv)
	}
	type result struct {
		median, mean time.Duration
		n            int
		err          error
	}
	header := fmt.Sprintf("%-46s", "statement")
	for _, s := range srvs {
		header += fmt.Sprintf(" | %12s", s.name+" ms")
	}
	if len(srvs) > 1 {
		header += fmt.Sprintf(" | %s/%s", srvs[0].name, srvs[1].name)
	}
	var table []string
	for i, st := range stmts {
		if *only != "" && !strings.Contains(st.name, *only) {
			continue
		}
		line := fmt.Sprintf("%-46s", st.name)
		var res []result
		for _, s := range srvs {
			if *explain {
				printPlan(ctx, s, st.query, st.args(rand.New(rand.NewSource(int64(i))), s.d))
			}
			med, mean, n, err := s.time(ctx, st, int64(i), *runs, *budget)
			res = append(res, result{med, mean, n, err})
			if err != nil {
				line += fmt.Sprintf(" | %12s", "error")
				fmt.Fprintf(os.Stderr, "%s on %s: %v\n", st.name, s.name, err)
				continue
			}
			line += fmt.Sprintf(" | %12.3f", ms(med))
		}
		if len(res) > 1 && res[0].err == nil && res[1].err == nil && res[1].median > 0 {
			line += fmt.Sprintf(" | %.1fx", float64(res[0].median)/float64(res[1].median))
		}
		table = append(table, line)
	}
	if *doChecks {
		for _, c := range checks {
			if *only != "" && !strings.Contains("check "+c.name, *only) {
				continue
			}
			line := fmt.Sprintf("%-46s", "check "+c.name)
			var ds []time.Duration
			for _, s := range srvs {
				if *explain {
					printPlan(ctx, s, c.query, nil)
				}
				cctx, cancel := context.WithTimeout(ctx, *checkTimeout)
				t0 := time.Now()
				err := drain(s.db.QueryContext(cctx, c.query))
				d := time.Since(t0)
				timedOut := errors.Is(err, context.DeadlineExceeded) || cctx.Err() != nil
				cancel()
				switch {
				case timedOut:
					line += fmt.Sprintf(" | %12s", ">"+checkTimeout.String())
					ds = append(ds, 0)
				case err != nil:
					line += fmt.Sprintf(" | %12s", "error")
					fmt.Fprintf(os.Stderr, "check %s on %s: %v\n", c.name, s.name, err)
					ds = append(ds, 0)
				default:
					line += fmt.Sprintf(" | %12.3f", ms(d))
					ds = append(ds, d)
				}
			}
			if len(ds) > 1 && ds[0] > 0 && ds[1] > 0 {
				line += fmt.Sprintf(" | %.1fx", float64(ds[0])/float64(ds[1]))
			}
			table = append(table, line)
		}
	}
	fmt.Println(header)
	fmt.Println(strings.Repeat("-", len(header)))
	for _, l := range table {
		fmt.Println(l)
	}
	fmt.Println("(median of up to", *runs, "runs per statement within", budget.String()+"; checks: one run each)")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func open(ctx context.Context, name, dsn string) (*server, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	s := &server{name: name, db: db, d: &data{minNoOID: map[int]int{}, nextOID: map[int]int{}}}
	if err := drain(db.QueryContext(ctx, "EXPLAIN FORMAT=TREE SELECT 1")); err == nil {
		s.tree = true
	}
	rows, err := db.QueryContext(ctx, "SELECT DISTINCT c_last FROM customer WHERE c_w_id = 1 AND c_d_id = 1")
	if err != nil {
		return nil, fmt.Errorf("read last names: %w", err)
	}
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			rows.Close()
			return nil, err
		}
		s.d.lastNames = append(s.d.lastNames, l)
	}
	rows.Close()
	sort.Strings(s.d.lastNames) // the same draws on every server
	for dist := 1; dist <= 10; dist++ {
		var o, next int
		if err := db.QueryRowContext(ctx, "SELECT MIN(no_o_id) FROM new_order WHERE no_w_id = 1 AND no_d_id = ?", dist).Scan(&o); err != nil {
			return nil, fmt.Errorf("read new orders: %w", err)
		}
		if err := db.QueryRowContext(ctx, "SELECT d_next_o_id FROM district WHERE d_w_id = 1 AND d_id = ?", dist).Scan(&next); err != nil {
			return nil, fmt.Errorf("read districts: %w", err)
		}
		s.d.minNoOID[dist], s.d.nextOID[dist] = o, next
	}
	return s, nil
}

// time runs st up to runs times within budget and returns the median and mean time.
func (s *server) time(ctx context.Context, st stmt, seed int64, runs int, budget time.Duration) (median, mean time.Duration, n int, err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	defer conn.Close()
	ps, err := conn.PrepareContext(ctx, st.query)
	if err != nil {
		return 0, 0, 0, err
	}
	defer ps.Close()
	r := rand.New(rand.NewSource(seed))
	var ds []time.Duration
	start := time.Now()
	for len(ds) < runs && (len(ds) == 0 || time.Since(start) < budget) {
		args := st.args(r, s.d)
		if st.txn {
			if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
				return 0, 0, 0, err
			}
		}
		t0 := time.Now()
		err := drain(ps.QueryContext(ctx, args...))
		ds = append(ds, time.Since(t0))
		if st.txn {
			if _, rerr := conn.ExecContext(ctx, "ROLLBACK"); rerr != nil && err == nil {
				err = rerr
			}
		}
		if err != nil {
			return 0, 0, 0, err
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return ds[len(ds)/2], sum / time.Duration(len(ds)), len(ds), nil
}

func drain(rows *sql.Rows, err error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

// printPlan prints the plan of query with args written into it as literals.
func printPlan(ctx context.Context, s *server, query string, args []any) {
	q := query
	for _, a := range args {
		var lit string
		switch v := a.(type) {
		case string:
			lit = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		default:
			lit = fmt.Sprint(v)
		}
		q = strings.Replace(q, "?", lit, 1)
	}
	prefix := "EXPLAIN "
	if s.tree {
		prefix = "EXPLAIN FORMAT=TREE "
	}
	fmt.Printf("--- %s: %s\n", s.name, oneLine(q))
	rows, err := s.db.QueryContext(ctx, prefix+q)
	if err != nil {
		fmt.Printf("    (explain failed: %v)\n", err)
		return
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			fmt.Printf("    (explain failed: %v)\n", err)
			return
		}
		var parts []string
		for _, v := range vals {
			parts = append(parts, v.String)
		}
		fmt.Println("    " + strings.Join(parts, " | "))
	}
}

func oneLine(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 200 {
		q = q[:200] + "..."
	}
	return q
}
