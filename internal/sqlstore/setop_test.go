package sqlstore

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestSetOpsByCollation checks UNION, INTERSECT and EXCEPT against MySQL's answers: rows are
// equal when the result column's collation says so (setop.go).
func TestSetOpsByCollation(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE so")
	db := n.connect(t, "so")
	mustExec(t, db, "CREATE TABLE a (id INT PRIMARY KEY, c VARCHAR(10), k INT)")
	mustExec(t, db, "CREATE TABLE b (id INT PRIMARY KEY, c VARCHAR(10) COLLATE utf8mb4_bin)")
	mustExec(t, db, `INSERT INTO a VALUES (1,'a',1), (2,'A',2), (3,'á',1), (4,'b',3), (5,'b ',3), (6,NULL,NULL), (7,NULL,1)`)
	mustExec(t, db, `INSERT INTO b VALUES (1,'B'), (2,'a')`)
	checkQueries(t, db, []queryCase{
		{"SELECT c FROM a UNION SELECT c FROM a", "a b b  NULL"},
		{"SELECT c FROM a UNION SELECT 'B'", "a b b  NULL"},
		{"SELECT 'x' UNION SELECT 'X'", "x"},
		{"SELECT c FROM a UNION ALL SELECT c FROM a UNION SELECT 'A'", "a b b  NULL"},
		// A _bin column beside a _ci one of the same character set: the _bin collation.
		{"SELECT c FROM a UNION SELECT c FROM b", "a A á b b  NULL B"},
		// An explicit COLLATE decides over a column and a literal.
		{"SELECT c COLLATE utf8mb4_bin FROM a UNION SELECT 'A'", "a A á b b  NULL"},
		// A number beside a string column: the column's collation.
		{"SELECT c FROM a UNION SELECT id FROM b", "a b b  NULL 1 2"},
		{"SELECT c, k FROM a UNION SELECT 'A', 1", "a,1 A,2 b,3 b ,3 NULL,NULL NULL,1"},
		{"SELECT c FROM a INTERSECT SELECT 'A'", "a"},
		{"SELECT c FROM a INTERSECT ALL SELECT c FROM a WHERE id IN (2, 4)", "a b"},
		{"SELECT c FROM a EXCEPT SELECT 'A'", "b b  NULL"},
		{"SELECT c FROM a EXCEPT ALL SELECT 'A'", "A á b b  NULL NULL"},
		{"SELECT c FROM a EXCEPT SELECT NULL", "a b b "},
		{"SELECT c FROM a UNION SELECT c FROM a ORDER BY c DESC LIMIT 1 OFFSET 1", "b"},
		{"SELECT c FROM a UNION SELECT c FROM a LIMIT 2 OFFSET 1", "b b "},
		{"SELECT id FROM a UNION ALL SELECT id FROM b ORDER BY id DESC LIMIT 2 OFFSET 1", "6 5"},
		{"SELECT id FROM a UNION ALL SELECT id FROM b ORDER BY id LIMIT 3 OFFSET 2", "2 2 3"},
		{"SELECT COUNT(*) FROM (SELECT c FROM a UNION SELECT 'B') t", "4"},
		// In subqueries, whose rows carry the outer row before their own columns.
		{"SELECT (SELECT c FROM a WHERE id = 1 UNION SELECT 'A')", "a"},
		{"SELECT id, (SELECT c FROM a x WHERE x.id = a.id UNION SELECT 'A' LIMIT 1) FROM a WHERE id < 4", "1,a 2,A 3,á"},
	})
}

// TestSetOpsMatchModel runs random set operations over random strings and checks them against
// a model of MySQL's: the first of each set of equal rows, left before right, where under
// utf8mb4_0900_ai_ci case and accents do not count and trailing spaces do (NO PAD).
func TestSetOpsMatchModel(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE som")
	db := n.connect(t, "som")
	alphabet := []string{"a", "A", "á", "Á", "a ", "b", "B", "ab", "AB", "NULL"}
	key := func(v string) string { // equality under utf8mb4_0900_ai_ci
		if v == "NULL" {
			return v
		}
		r := strings.NewReplacer("á", "a", "Á", "a")
		return strings.ToLower(r.Replace(v))
	}
	rng := rand.New(rand.NewPCG(7, 11))
	tables := map[string][]string{}
	for _, name := range []string{"l", "r"} {
		mustExec(t, db, fmt.Sprintf("CREATE TABLE %s (id INT PRIMARY KEY, c VARCHAR(10))", name))
		var rows, vals []string
		for i := 1; i <= 12; i++ {
			v := alphabet[rng.IntN(len(alphabet))]
			vals = append(vals, v)
			lit := "NULL"
			if v != "NULL" {
				lit = "'" + v + "'"
			}
			rows = append(rows, fmt.Sprintf("(%d, %s)", i, lit))
		}
		mustExec(t, db, fmt.Sprintf("INSERT INTO %s VALUES %s", name, strings.Join(rows, ", ")))
		tables[name] = vals
	}
	for round := 0; round < 30; round++ {
		// Random subsets of each side, by id.
		pick := func(name string) ([]string, string) {
			lo, hi := 1+rng.IntN(12), 1+rng.IntN(12)
			if lo > hi {
				lo, hi = hi, lo
			}
			return tables[name][lo-1 : hi], fmt.Sprintf("SELECT c FROM %s WHERE id BETWEEN %d AND %d", name, lo, hi)
		}
		lv, lq := pick("l")
		rv, rq := pick("r")
		for _, op := range []string{"UNION", "INTERSECT", "EXCEPT", "INTERSECT ALL", "EXCEPT ALL"} {
			var want []string
			counts := map[string]int{}
			for _, v := range rv {
				counts[key(v)]++
			}
			seen := map[string]bool{}
			switch op {
			case "UNION":
				for _, v := range append(append([]string(nil), lv...), rv...) {
					if !seen[key(v)] {
						seen[key(v)] = true
						want = append(want, v)
					}
				}
			case "INTERSECT", "EXCEPT":
				for _, v := range lv {
					if !seen[key(v)] && (counts[key(v)] > 0) == (op == "INTERSECT") {
						seen[key(v)] = true
						want = append(want, v)
					}
				}
			default:
				for _, v := range lv {
					in := counts[key(v)] > 0
					if in {
						counts[key(v)]--
					}
					if in == (op == "INTERSECT ALL") {
						want = append(want, v)
					}
				}
			}
			q := lq + " " + op + " " + rq
			if got := queryRows(t, db, q); got != strings.Join(want, " ") {
				t.Errorf("%s: got %q, want %q", q, got, strings.Join(want, " "))
			}
		}
	}
}
