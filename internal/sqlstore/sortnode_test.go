package sqlstore

import (
	"context"
	gosql "database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
)

// TestCompareASCIIMatchesCollations: for every collation of a utf8 character set, the
// table comparison of ASCII strings orders them as GMS's string type does.
func TestCompareASCIIMatchesCollations(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := "aAbBzZ09 -_.,~\t\x00\x7f"
	str := func() string {
		b := make([]byte, rng.IntN(6))
		for i := range b {
			if rng.IntN(4) == 0 {
				b[i] = byte(rng.IntN(128))
			} else {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		return string(b)
	}
	ctx := context.Background()
	tested := 0
	it := sql.NewCollationsIterator()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		typ, err := types.CreateString(sqltypes.VarChar, 100, c.ID)
		if err != nil {
			continue
		}
		w := asciiWeights(typ)
		if cs := c.ID.CharacterSet(); cs != sql.CharacterSet_utf8mb4 && cs != sql.CharacterSet_utf8mb3 {
			if w != nil {
				t.Fatalf("%s: weights for a character set that is not utf8", c.Name)
			}
			continue
		}
		if w == nil {
			t.Fatalf("%s: no ASCII weights", c.Name)
		}
		tested++
		for i := 0; i < 2000; i++ {
			a, b := str(), str()
			want, err := typ.Compare(ctx, a, b)
			if err != nil {
				t.Fatal(err)
			}
			if got := compareASCII(w, a, b); got != want {
				t.Fatalf("%s: compare(%q, %q) = %d, GMS %d", c.Name, a, b, got, want)
			}
		}
	}
	if tested < 10 {
		t.Fatalf("only %d utf8 collations tested", tested)
	}
}

// TestSortNodeMatchesGMS: ORDER BY and DISTINCT … ORDER BY over columns (sortNode) give the
// rows GMS's own Sort and Distinct give, which run when the sort key is an expression
// (`c COLLATE` its own collation).
func TestSortNodeMatchesGMS(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE so")
	db := n.connect(t, "so")
	mustExec(t, db, `CREATE TABLE t (id INT PRIMARY KEY, k INT, c VARCHAR(20), b VARCHAR(20) COLLATE utf8mb4_bin,
		d DECIMAL(6,2))`)
	words := []string{"a", "A", "á", "b", "B", "ab", "a b", "a-b", "ß", "ss", "z", "Z", "日本", "", " ", "a ", "10", "9", "x\ty"}
	rng := rand.New(rand.NewPCG(5, 6))
	pick := func() string {
		if rng.IntN(8) == 0 {
			return "NULL"
		}
		return "'" + words[rng.IntN(len(words))] + "'"
	}
	var rows []string
	for id := 1; id <= 300; id++ {
		k := "NULL"
		if rng.IntN(8) != 0 {
			k = fmt.Sprint(rng.IntN(7) - 3)
		}
		rows = append(rows, fmt.Sprintf("(%d, %s, %s, %s, %d.%02d)", id, k, pick(), pick(), rng.IntN(5), rng.IntN(3)*50))
	}
	mustExec(t, db, "INSERT INTO t VALUES "+strings.Join(rows, ", "))
	ctx := context.Background()
	ai, _ := types.CreateString(sqltypes.VarChar, 20, sql.Collation_utf8mb4_0900_ai_ci)
	bin, _ := types.CreateString(sqltypes.VarChar, 20, sql.Collation_utf8mb4_bin)
	colType := map[string]sql.Type{"c": ai, "b": bin, "k": types.Int32}
	// distinct keeps the first of each run of rows equal in the columns' collations: what
	// MySQL's DISTINCT returns (GMS's Distinct compares strings by their bytes).
	distinct := func(rows [][]*string, cols []string) [][]*string {
		var out [][]*string
		for _, r := range rows {
			if len(out) > 0 {
				prev, same := out[len(out)-1], true
				for i, c := range cols {
					switch {
					case (r[i] == nil) != (prev[i] == nil):
						same = false
					case r[i] != nil:
						var a, b any = *prev[i], *r[i]
						if c == "k" {
							a, b = mustAtoi(t, *prev[i]), mustAtoi(t, *r[i])
						}
						if cmp, err := colType[c].Compare(ctx, a, b); err != nil || cmp != 0 {
							same = false
						}
					}
				}
				if same {
					continue
				}
			}
			out = append(out, r)
		}
		return out
	}
	for _, q := range []struct {
		sel, order, ref string
		distinct        []string
	}{
		{"id, c", "c", "c COLLATE utf8mb4_0900_ai_ci", nil},
		{"id, c", "c DESC", "c COLLATE utf8mb4_0900_ai_ci DESC", nil},
		{"id, b", "b", "b COLLATE utf8mb4_bin", nil},
		{"id, k, c", "k DESC, c", "k DESC, c COLLATE utf8mb4_0900_ai_ci", nil},
		{"id, d", "d, id DESC", "d + 0, id DESC", nil},
		{"id, c", "c LIMIT 5", "c COLLATE utf8mb4_0900_ai_ci LIMIT 5", nil},
		{"DISTINCT d", "d", "d + 0", nil},
		{"DISTINCT c", "c", "c COLLATE utf8mb4_0900_ai_ci", []string{"c"}},
		{"DISTINCT c, k", "c DESC, k", "c COLLATE utf8mb4_0900_ai_ci DESC, k", []string{"c", "k"}},
		{"DISTINCT b", "b", "b COLLATE utf8mb4_bin", []string{"b"}},
	} {
		for _, where := range []string{"", " WHERE id BETWEEN 20 AND 140"} {
			got := queryTable(t, db, "SELECT "+q.sel+" FROM t"+where+" ORDER BY "+q.order)
			want := queryTable(t, db, "SELECT "+q.sel+" FROM t"+where+" ORDER BY "+q.ref)
			if q.distinct != nil {
				want = distinct(want, q.distinct)
			}
			if show(got) != show(want) {
				t.Fatalf("SELECT %s%s ORDER BY %s:\n got %s\nwant %s", q.sel, where, q.order, show(got), show(want))
			}
		}
	}
	// EXPLAIN shows the plan GMS would have made.
	plan := queryRows(t, db, "EXPLAIN FORMAT=TREE SELECT DISTINCT c FROM t ORDER BY c")
	if !strings.Contains(plan, "Sort(t.c ASC)") || !strings.Contains(plan, "Distinct") {
		t.Fatalf("EXPLAIN: %s", plan)
	}
}

// queryTable returns q's rows, a nil for each NULL.
func queryTable(t *testing.T, db *gosql.DB, q string) [][]*string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]*string
	for rows.Next() {
		vals := make([]gosql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]*string, len(cols))
		for i, v := range vals {
			if v.Valid {
				s := v.String
				row[i] = &s
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func show(rows [][]*string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString("(")
		for i, v := range r {
			if i > 0 {
				b.WriteString(", ")
			}
			if v == nil {
				b.WriteString("NULL")
			} else {
				fmt.Fprintf(&b, "%q", *v)
			}
		}
		b.WriteString(") ")
	}
	return b.String()
}

func mustAtoi(t *testing.T, s string) int32 {
	var v int32
	if _, err := fmt.Sscan(s, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDistinctByCollation: SELECT DISTINCT and COUNT(DISTINCT) tell strings apart as their collation does, as
// MySQL does: 'a', 'A' and 'á' are one value under utf8mb4_0900_ai_ci, three under
// utf8mb4_bin, and 'b' differs from 'b ' (NO PAD).
func TestDistinctByCollation(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE dc")
	db := n.connect(t, "dc")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, c VARCHAR(10), b VARCHAR(10) COLLATE utf8mb4_bin, k INT)")
	mustExec(t, db, `INSERT INTO t VALUES (1,'a','a',1), (2,'A','A',1), (3,'á','á',2), (4,'b','b',1),
		(5,'b ','b ',1), (6,'B','B',1), (7,NULL,NULL,NULL), (8,'a','a',NULL), (9,NULL,NULL,NULL)`)
	checkQueries(t, db, []queryCase{
		{"SELECT DISTINCT c FROM t", "a b b  NULL"},
		{"SELECT DISTINCT b FROM t", "a A á b b  B NULL"},
		{"SELECT DISTINCT c, k FROM t", "a,1 á,2 b,1 b ,1 NULL,NULL a,NULL"},
		{"SELECT DISTINCT UPPER(c) FROM t", "A B B  NULL"},
		{"SELECT DISTINCT c FROM t LIMIT 2", "a b"},
		{"SELECT COUNT(*) FROM (SELECT DISTINCT c FROM t) d", "4"},
		{"SELECT COUNT(DISTINCT c) FROM t", "3"},
		{"SELECT COUNT(DISTINCT b) FROM t", "6"},
		{"SELECT COUNT(DISTINCT c, k) FROM t", "4"},
		{"SELECT k, COUNT(DISTINCT c) FROM t GROUP BY k ORDER BY k", "NULL,1 1,3 2,1"},
		{"SELECT COUNT(DISTINCT x, y) FROM (SELECT 'x,' x, 'y' y UNION ALL SELECT 'x', ',y') p", "2"},
		{"SELECT COUNT(DISTINCT k), COUNT(DISTINCT id % 3) FROM t", "2,3"},
	})
}

// TestDistinctOrderByOrdinal checks ORDER BY an ordinal over SELECT DISTINCT of expressions,
// which failed in GMS with "unable to find field with index 7" (projectedSortFields).
func TestDistinctOrderByOrdinal(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE dob")
	db := n.connect(t, "dob")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, i INT, s VARCHAR(10))")
	mustExec(t, db, "INSERT INTO t VALUES (1, 5, 'B'), (2, -3, 'a'), (3, NULL, NULL), (4, 5, 'b'), (5, 0, '')")
	checkQueries(t, db, []queryCase{
		{"SELECT DISTINCT LOWER(s) FROM t ORDER BY 1", "NULL  a b"},
		{"SELECT DISTINCT i, LOWER(s) FROM t ORDER BY 2 DESC, 1", "5,b -3,a 0, NULL,NULL"},
		{"SELECT DISTINCT i * 2 FROM t ORDER BY 1 DESC", "10 0 -6 NULL"},
		{"SELECT DISTINCT i * 2 FROM t ORDER BY 1 DESC LIMIT 2 OFFSET 1", "0 -6"},
		{"SELECT DISTINCT LOWER(s) AS l FROM t ORDER BY 1 LIMIT 2", "NULL "},
	})
}
