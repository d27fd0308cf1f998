package sqlstore

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// TestSecondaryIndexOverPrimaryPrefix checks that equalities binding more columns of a
// secondary index than of the primary key read that index, and that they select the same
// rows as without indexes (NULLs, duplicates, a case-insensitive collation, literals of
// other types), directly and through prepared statements.
func TestSecondaryIndexOverPrimaryPrefix(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.connect(t, "")
	mustExec(t, c, "CREATE DATABASE d")
	c = n.connect(t, "d")
	mustExec(t, c, `CREATE TABLE cu (w INT, d INT, id INT, last VARCHAR(16) COLLATE utf8mb4_0900_ai_ci NULL,
		first VARCHAR(16), PRIMARY KEY (w, d, id), KEY k_last (w, d, last, first))`)
	mustExec(t, c, `CREATE TABLE nc (w INT, d INT, id INT, last VARCHAR(16) COLLATE utf8mb4_0900_ai_ci NULL, first VARCHAR(16))`)
	r := rand.New(rand.NewSource(2))
	lasts := []string{"NULL", "'BAR'", "'bar'", "'OUGHT'", "'Able'", "'ABLE'", "''"}
	var rows []string
	for w := 1; w <= 2; w++ {
		for d := 1; d <= 3; d++ {
			for id := 1; id <= 40; id++ {
				rows = append(rows, fmt.Sprintf("(%d,%d,%d,%s,'f%d')", w, d, id, lasts[r.Intn(len(lasts))], r.Intn(5)))
			}
		}
	}
	for _, tb := range []string{"cu", "nc"} {
		mustExec(t, c, "INSERT INTO "+tb+" VALUES "+strings.Join(rows, ","))
	}
	p := explainTree(t, c, "SELECT id FROM cu WHERE w = 1 AND d = 2 AND last = 'BAR' ORDER BY first")
	if !strings.Contains(p, "index: [cu.w,cu.d,cu.last,cu.first]") {
		t.Fatalf("want the lookup on k_last, plan:\n%s", p)
	}
	// A whole primary key still wins.
	p = explainTree(t, c, "SELECT id FROM cu WHERE w = 1 AND d = 2 AND id = 3 AND last = 'BAR'")
	if !strings.Contains(p, "index: [cu.w,cu.d,cu.id]") {
		t.Fatalf("want the primary key lookup, plan:\n%s", p)
	}
	vals := []string{"1", "2", "3", "'1'", "2.0", "NULL"}
	pick := func(v []string) string { return v[r.Intn(len(v))] }
	for round := 0; round < 80; round++ {
		where := fmt.Sprintf("w = %s AND d = %s AND last = %s", pick(vals), pick(vals), pick(lasts))
		if r.Intn(2) == 0 {
			where += " AND first >= 'f2'"
		}
		q := "SELECT w, d, id, last, first FROM %s WHERE " + where + " ORDER BY w, d, id"
		got, want := rowsOrCode(t, c, fmt.Sprintf(q, "cu")), rowsOrCode(t, c, fmt.Sprintf(q, "nc"))
		if got != want {
			t.Fatalf("%s: with indexes %q, without %q", where, got, want)
		}
		pq := "SELECT w, d, id, last, first FROM cu WHERE w = ? AND d = ? AND last = ? ORDER BY w, d, id"
		for rep := 0; rep < 2; rep++ {
			w, d, l := 1+r.Intn(2), 1+r.Intn(3), strings.Trim(pick(lasts[1:]), "'")
			got := queryRows(t, c, pq, w, d, l)
			want := queryRows(t, c, strings.Replace(pq, "cu", "nc", 1), w, d, l)
			if got != want {
				t.Fatalf("prepared %d,%d,%q: with indexes %q, without %q", w, d, l, got, want)
			}
		}
	}
}
