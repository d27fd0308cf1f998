package sqlstore

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestRowINWithNulls checks (a, b) [NOT] IN (list) against SQL's three-valued model on random
// rows and lists with NULLs on both sides (rowin.go), in WHERE and as a value.
func TestRowINWithNulls(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE ri")
	db := n.connect(t, "ri")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT)")
	rng := rand.New(rand.NewPCG(9, 4))
	val := func() *int {
		if rng.IntN(4) == 0 {
			return nil
		}
		v := rng.IntN(3)
		return &v
	}
	lit := func(v *int) string {
		if v == nil {
			return "NULL"
		}
		return fmt.Sprint(*v)
	}
	type pair struct{ a, b *int }
	var rows []pair
	var vals []string
	for i := 1; i <= 40; i++ {
		p := pair{val(), val()}
		rows = append(rows, p)
		vals = append(vals, fmt.Sprintf("(%d, %s, %s)", i, lit(p.a), lit(p.b)))
	}
	mustExec(t, db, "INSERT INTO t VALUES "+strings.Join(vals, ", "))
	// eq is SQL's x = y: 1 true, 0 false, -1 NULL.
	eq := func(x, y *int) int {
		if x == nil || y == nil {
			return -1
		}
		if *x == *y {
			return 1
		}
		return 0
	}
	in := func(p pair, list []pair) int {
		res := 0
		for _, e := range list {
			ea, eb := eq(p.a, e.a), eq(p.b, e.b)
			switch {
			case ea == 1 && eb == 1:
				return 1
			case ea != 0 && eb != 0:
				res = -1
			}
		}
		return res
	}
	for round := 0; round < 40; round++ {
		var list []pair
		var lits []string
		for k := 1 + rng.IntN(3); k > 0; k-- {
			p := pair{val(), val()}
			list = append(list, p)
			lits = append(lits, fmt.Sprintf("(%s, %s)", lit(p.a), lit(p.b)))
		}
		cond := "(a, b) IN (" + strings.Join(lits, ", ") + ")"
		var whereIn, whereNot, values []string
		for i, p := range rows {
			r := in(p, list)
			switch r {
			case 1:
				whereIn = append(whereIn, fmt.Sprint(i+1))
				values = append(values, "1")
			case 0:
				whereNot = append(whereNot, fmt.Sprint(i+1))
				values = append(values, "0")
			default:
				values = append(values, "NULL")
			}
		}
		for _, c := range []struct{ q, want string }{
			{"SELECT id FROM t WHERE " + cond + " ORDER BY id", strings.Join(whereIn, " ")},
			{"SELECT id FROM t WHERE NOT " + cond + " ORDER BY id", strings.Join(whereNot, " ")},
			{"SELECT " + cond + " FROM t ORDER BY id", strings.Join(values, " ")},
		} {
			if got := queryRows(t, db, c.q); got != c.want {
				t.Fatalf("%s:\n got %q\nwant %q", c.q, got, c.want)
			}
		}
	}
}
