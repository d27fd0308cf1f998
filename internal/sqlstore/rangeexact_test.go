package sqlstore

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestIndexRangesMatchScans: rows read through index ranges, which skip the per-row check when
// the key interval is exact (Index.exact), are the rows a scan with the same condition finds:
// over integer columns of several widths and signs, NULLs and duplicates, with bounds that are
// integers, decimals, strings and out of the column's range, as literals and as parameters,
// and for locking reads and updates that change the indexed column as they go.
func TestIndexRangesMatchScans(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE r")
	db := n.connect(t, "r")
	mustExec(t, db, `CREATE TABLE t (id INT PRIMARY KEY, a TINYINT, b INT UNSIGNED, c BIGINT,
		KEY kab (a, b), KEY kc (c))`)
	rng := rand.New(rand.NewPCG(3, 4))
	val := func(lo, hi int) string {
		if rng.IntN(8) == 0 {
			return "NULL"
		}
		return fmt.Sprint(lo + rng.IntN(hi-lo+1))
	}
	var rows []string
	for id := -20; id < 180; id++ {
		rows = append(rows, fmt.Sprintf("(%d, %s, %s, %s)", id, val(-10, 10), val(0, 12), val(-5, 5)))
	}
	mustExec(t, db, "INSERT INTO t VALUES "+strings.Join(rows, ", "))

	bound := func() string {
		switch rng.IntN(6) {
		case 0:
			return fmt.Sprintf("%d.5", rng.IntN(20)-10)
		case 1:
			return fmt.Sprintf("'%d'", rng.IntN(20)-10)
		case 2:
			return []string{"300", "-300", "5000000000", "-1"}[rng.IntN(4)]
		default:
			return fmt.Sprint(rng.IntN(24) - 12)
		}
	}
	cond := func(col string) string {
		switch rng.IntN(7) {
		case 0:
			return fmt.Sprintf("%s BETWEEN %s AND %s", col, bound(), bound())
		case 1:
			return fmt.Sprintf("%s < %s", col, bound())
		case 2:
			return fmt.Sprintf("%s >= %s", col, bound())
		case 3:
			return fmt.Sprintf("%s = %s", col, bound())
		case 4:
			return fmt.Sprintf("%s IN (%s, %s, %s)", col, bound(), bound(), bound())
		case 5:
			return col + " IS NULL"
		default:
			return fmt.Sprintf("%s > %s AND %s <= %s", col, bound(), col, bound())
		}
	}
	// The same condition on col+0 uses no index.
	scan := func(c string) string {
		for _, col := range []string{"id", "a", "b", "c"} {
			c = strings.ReplaceAll(c, col+" ", "("+col+"+0) ")
		}
		return c
	}
	for i := 0; i < 300; i++ {
		var c string
		switch rng.IntN(5) {
		case 0:
			c = cond("id")
		case 1:
			c = cond("a")
		case 2:
			// Ranges over both columns of kab: its key interval may bound only a prefix, and
			// GMS leaves the rest to the lookup.
			c = cond("a") + " AND " + cond("b")
		case 3:
			c = cond("c")
		default:
			c = cond("id") + " AND " + cond("c")
		}
		q := "SELECT id, a, b, c FROM t WHERE %s ORDER BY id"
		want := queryRows(t, db, fmt.Sprintf(q, scan(c)))
		if got := queryRows(t, db, fmt.Sprintf(q, c)); got != want {
			t.Fatalf("%s:\n got %s\nwant %s (scan)", c, got, want)
		}
		if got := queryRows(t, db, fmt.Sprintf(q+" FOR UPDATE", c)); got != want {
			t.Fatalf("%s FOR UPDATE:\n got %s\nwant %s (scan)", c, got, want)
		}
	}
	// As parameters: the prepared plans' lookups.
	for i := 0; i < 200; i++ {
		lo, hi := rng.IntN(30)-15, rng.IntN(30)-15
		args := []any{lo, hi}
		if rng.IntN(4) == 0 {
			args = []any{float64(lo) + 0.5, fmt.Sprint(hi)}
		}
		for _, col := range []string{"id", "a", "c"} {
			q := "SELECT id, a, b, c FROM t WHERE %s BETWEEN ? AND ? ORDER BY id"
			want := queryRows(t, db, fmt.Sprintf(q, "("+col+"+0)"), args...)
			if got := queryRows(t, db, fmt.Sprintf(q, col), args...); got != want {
				t.Fatalf("%s BETWEEN %v AND %v:\n got %s\nwant %s (scan)", col, args[0], args[1], got, want)
			}
		}
	}
	// An update that moves rows within the range it reads through an index (the Halloween
	// problem): each row is changed once, as a scan would.
	for _, col := range []string{"a", "c"} {
		mustExec(t, db, "CREATE TABLE u AS SELECT * FROM t")
		mustExec(t, db, fmt.Sprintf("UPDATE t SET %s = %s + 1 WHERE %s BETWEEN -3 AND 3", col, col, col))
		mustExec(t, db, fmt.Sprintf("UPDATE u SET %s = %s + 1 WHERE (%s+0) BETWEEN -3 AND 3", col, col, col))
		if got, want := queryRows(t, db, "SELECT * FROM t ORDER BY id"), queryRows(t, db, "SELECT * FROM u ORDER BY id"); got != want {
			t.Fatalf("UPDATE through %s:\n got %s\nwant %s (scan)", col, got, want)
		}
		mustExec(t, db, "DROP TABLE u")
	}
}
