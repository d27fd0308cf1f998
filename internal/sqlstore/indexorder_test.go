package sqlstore

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// TestOrderByAfterEqualityPrefix checks that ORDER BY on the index columns after an
// equality-bound prefix reads the index in order (no sort), gives the rows a sort gives,
// and that FOR UPDATE with LIMIT locks only the rows returned.
func TestOrderByAfterEqualityPrefix(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.connect(t, "")
	mustExec(t, c, "CREATE DATABASE d")
	c = n.connect(t, "d")
	mustExec(t, c, "CREATE TABLE no (w INT, d INT, o INT, x VARCHAR(4) COLLATE utf8mb4_0900_ai_ci NOT NULL, v INT, PRIMARY KEY (w, d, o), KEY k_x (w, x))")
	mustExec(t, c, "CREATE TABLE nn (w INT, d INT, o INT, x VARCHAR(4) COLLATE utf8mb4_0900_ai_ci NOT NULL, v INT)")
	r := rand.New(rand.NewSource(3))
	xs := []string{"a", "B", "b", "c", "A", ""}
	var rows []string
	for w := 1; w <= 2; w++ {
		for d := 1; d <= 3; d++ {
			for o := 0; o < 30; o++ {
				rows = append(rows, fmt.Sprintf("(%d,%d,%d,'%s',%d)", w, d, 100+r.Intn(1000)*3+o%3, xs[r.Intn(len(xs))], r.Intn(3)))
			}
		}
	}
	for _, tb := range []string{"no", "nn"} {
		mustExec(t, c, "INSERT IGNORE INTO "+tb+" VALUES "+strings.Join(rows, ","))
	}
	mustExec(t, c, "DELETE FROM nn")
	mustExec(t, c, "INSERT INTO nn SELECT * FROM no")
	for _, q := range []string{
		"SELECT o FROM no WHERE w = 1 AND d = 2 ORDER BY o ASC LIMIT 1 FOR UPDATE",
		"SELECT o, v FROM no WHERE w = 1 AND d = 2 ORDER BY o DESC LIMIT 3",
		"SELECT o FROM no WHERE w = 2 AND d = 1 AND o > 500 ORDER BY o LIMIT 2",
	} {
		if p := explainTree(t, c, q); strings.Contains(p, "Sort") || strings.Contains(p, "TopN") {
			t.Fatalf("%s: want no sort, plan:\n%s", q, p)
		}
	}
	for round := 0; round < 60; round++ {
		dir := []string{"ASC", "DESC"}[r.Intn(2)]
		where := fmt.Sprintf("w = %d AND d = %d", 1+r.Intn(2), 1+r.Intn(4))
		if r.Intn(2) == 0 {
			where += fmt.Sprintf(" AND o %s %d", []string{">", "<", ">=", "<="}[r.Intn(4)], 100+r.Intn(3000))
		}
		if r.Intn(3) == 0 {
			where += fmt.Sprintf(" AND v = %d", r.Intn(3))
		}
		order := "o " + dir
		if r.Intn(4) == 0 { // a secondary index, with case-insensitive strings
			where = fmt.Sprintf("w = %d", 1+r.Intn(2))
			order = "x " + dir + ", d " + dir + ", o " + dir
		}
		q := "SELECT w, d, o, x, v FROM %s WHERE " + where + " ORDER BY " + order + fmt.Sprintf(" LIMIT %d", 1+r.Intn(40))
		got, want := queryRows(t, c, fmt.Sprintf(q, "no")), queryRows(t, c, fmt.Sprintf(q, "nn"))
		if !strings.HasPrefix(order, "x") && got != want {
			t.Fatalf("%s: with index %q, sorted %q", q, got, want)
		}
		if strings.HasPrefix(order, "x") && strings.Count(got, " ") != strings.Count(want, " ") {
			t.Fatalf("%s: with index %q, sorted %q", q, got, want)
		}
	}

	ctx := context.Background()
	a, err := c.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := c.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustExec(t, b, "SET innodb_lock_wait_timeout = 1")
	os := strings.Fields(queryRows(t, c, "SELECT o FROM nn WHERE w = 1 AND d = 1 ORDER BY o LIMIT 2"))
	mustExec(t, a, "BEGIN")
	if got := queryRows(t, a, "SELECT o FROM no WHERE w = 1 AND d = 1 ORDER BY o ASC LIMIT 1 FOR UPDATE"); got != os[0] {
		t.Fatalf("first order: %q, want %q", got, os[0])
	}
	mustExec(t, b, "BEGIN")
	if _, err := b.ExecContext(ctx, "SELECT o FROM no WHERE w = 1 AND d = 1 AND o = "+os[1]+" FOR UPDATE"); err != nil {
		t.Fatalf("the second row is free: %v", err)
	}
	if _, err := b.ExecContext(ctx, "SELECT o FROM no WHERE w = 1 AND d = 1 AND o = "+os[0]+" FOR UPDATE"); mysqlCode(err) != 1205 {
		t.Fatalf("the first row is held: want 1205, got %v", err)
	}
	mustExec(t, b, "ROLLBACK")
	mustExec(t, a, "ROLLBACK")
}
