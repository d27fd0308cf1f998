package sqlstore

import (
	"database/sql"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// TestHashJoinCollation: a hash join compares string keys in their collation, as lookup and
// nested-loop joins do: under utf8mb4_0900_ai_ci 'a' joins 'A' and 'á'; under utf8mb4_bin
// it does not; NULLs join nothing. The tables are large enough for GMS to pick a hash join
// (EXPLAIN shows it); the expected counts are computed here from the rows.
func TestHashJoinCollation(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.connect(t, "")
	mustExec(t, c, "CREATE DATABASE d")
	c = n.connect(t, "d")
	mustExec(t, c, "CREATE TABLE a (x INT, y VARCHAR(8) COLLATE utf8mb4_0900_ai_ci, z VARCHAR(8) COLLATE utf8mb4_bin)")
	mustExec(t, c, "CREATE TABLE b (x INT, y VARCHAR(8) COLLATE utf8mb4_0900_ai_ci, z VARCHAR(8) COLLATE utf8mb4_bin)")
	r := rand.New(rand.NewSource(5))
	words := []string{"a", "A", "á", "b", "B", "ab", "AB", "c"}
	fold := strings.NewReplacer("á", "a", "A", "a", "B", "b") // utf8mb4_0900_ai_ci on these words
	type row struct {
		x    int
		y, z sql.NullString
	}
	val := func() sql.NullString {
		if r.Intn(10) == 0 {
			return sql.NullString{}
		}
		return sql.NullString{String: words[r.Intn(len(words))], Valid: true}
	}
	lit := func(s sql.NullString) string {
		if !s.Valid {
			return "NULL"
		}
		return "'" + s.String + "'"
	}
	tables := map[string][]row{}
	for _, tb := range []string{"a", "b"} {
		var vals []string
		for i := 0; i < 400; i++ {
			rw := row{x: i % 20, y: val(), z: val()}
			tables[tb] = append(tables[tb], rw)
			vals = append(vals, fmt.Sprintf("(%d,%s,%s)", rw.x, lit(rw.y), lit(rw.z)))
		}
		mustExec(t, c, "INSERT INTO "+tb+" VALUES "+strings.Join(vals, ","))
	}
	ci := func(p, q sql.NullString) bool {
		return p.Valid && q.Valid && fold.Replace(p.String) == fold.Replace(q.String)
	}
	bin := func(p, q sql.NullString) bool { return p.Valid && q.Valid && p.String == q.String }
	for _, tc := range []struct {
		on    string
		match func(p, q row) bool
	}{
		{"a.y = b.y", func(p, q row) bool { return ci(p.y, q.y) }},
		{"a.x = b.x AND a.y = b.y", func(p, q row) bool { return p.x == q.x && ci(p.y, q.y) }},
		{"a.z = b.z", func(p, q row) bool { return bin(p.z, q.z) }},
		{"a.x = b.x AND a.z = b.z AND a.y = b.y", func(p, q row) bool { return p.x == q.x && bin(p.z, q.z) && ci(p.y, q.y) }},
	} {
		q := "SELECT COUNT(*) FROM a JOIN b ON " + tc.on
		if p := explainTree(t, c, q); !strings.Contains(p, "HashJoin") {
			t.Fatalf("%s: want a hash join, plan:\n%s", q, p)
		}
		want := 0
		for _, p := range tables["a"] {
			for _, q := range tables["b"] {
				if tc.match(p, q) {
					want++
				}
			}
		}
		if got := queryRows(t, c, q); got != fmt.Sprint(want) {
			t.Errorf("%s: %s rows, want %d", tc.on, got, want)
		}
	}
}
