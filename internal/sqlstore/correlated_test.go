package sqlstore

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// TestCorrelatedSubqueryLookup checks that a correlated subquery whose equalities on the
// outer row and on constants bind a longer index prefix than its constants alone reads that
// index keyed by the outer row (TPC-C check 3.3.2.12's shape, a join inside the subquery
// included), and that its answers equal those over tables without indexes.
func TestCorrelatedSubqueryLookup(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE d")
	c := n.connect(t, "d")
	for _, sfx := range []string{"", "_plain"} {
		keys := []string{", PRIMARY KEY (o_w_id, o_d_id, o_id), KEY idx_order (o_w_id, o_d_id, o_c_id, o_id)",
			", PRIMARY KEY (ol_w_id, ol_d_id, ol_o_id, ol_number)", ", PRIMARY KEY (c_w_id, c_d_id, c_id)"}
		if sfx != "" {
			keys = []string{"", "", ""}
		}
		mustExec(t, c, "CREATE TABLE orders"+sfx+" (o_w_id INT, o_d_id INT, o_id INT, o_c_id INT NULL"+keys[0]+")")
		mustExec(t, c, "CREATE TABLE order_line"+sfx+" (ol_w_id INT, ol_d_id INT, ol_o_id INT, ol_number INT, ol_amount DECIMAL(6,2), ol_delivery_d DATETIME NULL"+keys[1]+")")
		mustExec(t, c, "CREATE TABLE customer"+sfx+" (c_w_id INT, c_d_id INT, c_id INT, c_balance DECIMAL(8,2)"+keys[2]+")")
	}
	r := rand.New(rand.NewSource(5))
	var os, ols, cs []string
	for w := 1; w <= 2; w++ {
		for d := 1; d <= 3; d++ {
			for id := 1; id <= 40; id++ {
				cs = append(cs, fmt.Sprintf("(%d,%d,%d,%d.%02d)", w, d, id, r.Intn(100), r.Intn(100)))
			}
			for o := 1; o <= 60; o++ {
				cid := "NULL"
				if r.Intn(10) > 0 {
					cid = fmt.Sprint(1 + r.Intn(45))
				}
				os = append(os, fmt.Sprintf("(%d,%d,%d,%s)", w, d, o, cid))
				for k := 1; k <= 1+r.Intn(5); k++ {
					dd := "NULL"
					if r.Intn(3) > 0 {
						dd = "'2026-01-02 03:04:05'"
					}
					ols = append(ols, fmt.Sprintf("(%d,%d,%d,%d,%d.%02d,%s)", w, d, o, k, r.Intn(100), r.Intn(100), dd))
				}
			}
		}
	}
	for _, sfx := range []string{"", "_plain"} {
		mustExec(t, c, "INSERT INTO orders"+sfx+" VALUES "+strings.Join(os, ","))
		mustExec(t, c, "INSERT INTO order_line"+sfx+" VALUES "+strings.Join(ols, ","))
		mustExec(t, c, "INSERT INTO customer"+sfx+" VALUES "+strings.Join(cs, ","))
	}
	q := `SELECT c.c_w_id, c.c_d_id, c.c_id, c.c_balance, (SELECT SUM(ol_amount) FROM orders%[1]s STRAIGHT_JOIN order_line%[1]s
		WHERE ol_w_id = o_w_id AND ol_d_id = o_d_id AND ol_o_id = o_id AND ol_delivery_d IS NOT NULL
		AND o_w_id = %[2]d AND o_d_id = c.c_d_id AND o_c_id = c.c_id) sm,
		(SELECT COUNT(*) FROM orders%[1]s WHERE o_w_id = %[2]d AND o_d_id = c.c_d_id AND o_c_id = c.c_id) n,
		(SELECT COUNT(*) FROM orders%[1]s WHERE o_w_id = %[2]d AND o_d_id > 1 AND o_c_id = c.c_id) n2,
		(SELECT MAX(o_id) FROM orders%[1]s WHERE o_w_id = c.c_w_id AND o_d_id = c.c_d_id AND o_id > 30) n3
		FROM customer%[1]s c WHERE c.c_w_id = %[2]d ORDER BY 1, 2, 3`
	p := explainTree(t, c, fmt.Sprintf(q, "", 1))
	if strings.Count(p, "keys: 1, c.c_d_id, c.c_id") < 2 {
		t.Fatalf("want the subqueries to read idx_order by the outer row, plan:\n%s", p)
	}
	for w := 1; w <= 3; w++ {
		got, want := queryRows(t, c, fmt.Sprintf(q, "", w)), queryRows(t, c, fmt.Sprintf(q, "_plain", w))
		if got != want {
			t.Fatalf("warehouse %d: with indexes\n%s\nwithout\n%s", w, got, want)
		}
	}
}
