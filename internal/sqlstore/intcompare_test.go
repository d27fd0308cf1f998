package sqlstore

import (
	"context"
	gosql "database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// TestIntComparisonsOutOfRange compares integer columns, indexed and not, with constants
// their types cannot hold, and with strings and fractions, against a model of MySQL's
// comparison by value: as literals, as prepared parameters, locking, and as the condition of
// a DELETE. Before intcompare.go, `b = -4` on an INT UNSIGNED read the rows holding
// 4294967292, and `c > '-300'` on a TINYINT missed -128.
func TestIntComparisonsOutOfRange(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE ic")
	db := n.connect(t, "ic")
	mustExec(t, db, `CREATE TABLE t (id INT PRIMARY KEY, a TINYINT, b INT UNSIGNED, u BIGINT UNSIGNED,
		c TINYINT UNSIGNED, k INT, KEY kab (a, b), KEY ku (u), KEY kc (c))`)
	cols := map[string][]string{ // values a column takes, at and near its type's ends
		"a": {"-128", "-127", "-1", "0", "1", "5", "126", "127"},
		"b": {"0", "1", "4", "5", "4294967292", "4294967294", "4294967295"},
		"u": {"0", "1", "5", "9223372036854775807", "9223372036854775808", "18446744073709551615"},
		"c": {"0", "1", "5", "127", "128", "255"},
		"k": {"-2147483648", "-4", "0", "5", "2147483647"},
	}
	names := []string{"a", "b", "u", "c", "k"}
	rng := rand.New(rand.NewPCG(7, 8))
	model := map[int]map[string]*decimal.Decimal{}
	var rows []string
	for id := 1; id <= 120; id++ {
		model[id] = map[string]*decimal.Decimal{}
		var vals []string
		for _, c := range names {
			if rng.IntN(7) == 0 {
				vals = append(vals, "NULL")
				continue
			}
			v := cols[c][rng.IntN(len(cols[c]))]
			d := decimal.RequireFromString(v)
			model[id][c] = &d
			vals = append(vals, v)
		}
		rows = append(rows, fmt.Sprintf("(%d, %s)", id, strings.Join(vals, ", ")))
	}
	mustExec(t, db, "INSERT INTO t VALUES "+strings.Join(rows, ", "))

	consts := []string{"-300", "-129", "-128", "-5", "-4", "-1", "0", "4", "5", "127", "128", "255",
		"256", "300", "4294967292", "4294967295", "4294967296", "-2147483649", "2147483648",
		"9223372036854775808", "18446744073709551615", "18446744073709551616", "-9223372036854775809",
		"4.5", "-0.5", "127.5", "255.5", "1e3", "-1e20"}
	constant := func() (string, decimal.Decimal) {
		v := consts[rng.IntN(len(consts))]
		d := decimal.RequireFromString(v)
		switch rng.IntN(3) {
		case 0:
			return "'" + v + "'", d
		case 1:
			return "' " + v + " '", d
		}
		if strings.Contains(v, "e") {
			v = d.String()
		}
		return v, d
	}
	// A condition and its model: the row's value -> whether the condition is true.
	type cond struct {
		sql  string
		col  string
		test func(v *decimal.Decimal) bool
	}
	mk := func(col string) cond {
		k, kd := constant()
		switch rng.IntN(12) {
		case 10: // a NULL in the list: IN is true only by the other elements
			return cond{col + " IN (" + k + ", NULL)", col, func(v *decimal.Decimal) bool { return v != nil && v.Equal(kd) }}
		case 11: // … and NOT IN is never true
			return cond{col + " NOT IN (" + k + ", NULL)", col, func(v *decimal.Decimal) bool { return false }}
		case 0:
			return cond{col + " = " + k, col, func(v *decimal.Decimal) bool { return v != nil && v.Equal(kd) }}
		case 1:
			return cond{col + " <=> " + k, col, func(v *decimal.Decimal) bool { return v != nil && v.Equal(kd) }}
		case 2:
			return cond{col + " <> " + k, col, func(v *decimal.Decimal) bool { return v != nil && !v.Equal(kd) }}
		case 3:
			return cond{col + " < " + k, col, func(v *decimal.Decimal) bool { return v != nil && v.LessThan(kd) }}
		case 4:
			return cond{col + " <= " + k, col, func(v *decimal.Decimal) bool { return v != nil && v.LessThanOrEqual(kd) }}
		case 5:
			return cond{k + " < " + col, col, func(v *decimal.Decimal) bool { return v != nil && v.GreaterThan(kd) }}
		case 6:
			return cond{col + " >= " + k, col, func(v *decimal.Decimal) bool { return v != nil && v.GreaterThanOrEqual(kd) }}
		case 7:
			k2, kd2 := constant()
			return cond{col + " IN (" + k + ", " + k2 + ")", col, func(v *decimal.Decimal) bool {
				return v != nil && (v.Equal(kd) || v.Equal(kd2))
			}}
		case 8:
			k2, kd2 := constant()
			return cond{col + " NOT IN (" + k + ", " + k2 + ")", col, func(v *decimal.Decimal) bool {
				return v != nil && !v.Equal(kd) && !v.Equal(kd2)
			}}
		default:
			k2, kd2 := constant()
			return cond{col + " BETWEEN " + k + " AND " + k2, col, func(v *decimal.Decimal) bool {
				return v != nil && v.GreaterThanOrEqual(kd) && v.LessThanOrEqual(kd2)
			}}
		}
	}
	want := func(conds ...cond) string {
		var ids []string
		for id := 1; id <= 120; id++ {
			ok := true
			for _, c := range conds {
				ok = ok && c.test(model[id][c.col])
			}
			if ok {
				ids = append(ids, fmt.Sprint(id))
			}
		}
		return strings.Join(ids, " ")
	}
	for i := 0; i < 400; i++ {
		var conds []cond
		switch rng.IntN(4) {
		case 0: // both columns of kab: a prefix point, then b's range
			v := cols["a"][rng.IntN(len(cols["a"]))]
			d := decimal.RequireFromString(v)
			conds = []cond{{"a = " + v, "a", func(x *decimal.Decimal) bool { return x != nil && x.Equal(d) }}, mk("b")}
		case 1:
			conds = []cond{mk("a"), mk("b")}
		default:
			conds = []cond{mk(names[rng.IntN(len(names))])}
		}
		var parts []string
		for _, c := range conds {
			parts = append(parts, c.sql)
		}
		where := strings.Join(parts, " AND ")
		exp := want(conds...)
		if got := queryRows(t, db, "SELECT id FROM t WHERE "+where+" ORDER BY id"); got != exp {
			t.Fatalf("%s:\n got %q\nwant %q", where, got, exp)
		}
		if i%4 == 0 {
			if got := queryRows(t, db, "SELECT id FROM t WHERE "+where+" ORDER BY id FOR UPDATE"); got != exp {
				t.Fatalf("%s FOR UPDATE:\n got %q\nwant %q", where, got, exp)
			}
		}
		if i%10 == 0 { // a DELETE takes the rows the condition selects, and only those
			tx, err := db.BeginTx(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := tx.Exec("DELETE FROM t WHERE " + where)
			if err != nil {
				t.Fatalf("DELETE %s: %v", where, err)
			}
			got, _ := res.RowsAffected()
			if w := len(strings.Fields(exp)); int(got) != w {
				t.Fatalf("DELETE WHERE %s: %d rows, want %d", where, got, w)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Prepared: a plan made for a value the type holds, executed again for values it does
	// not hold (its lookup is rebuilt for each execution).
	params := []any{int64(-4), int64(-300), int64(300), uint64(18446744073709551615), 4.5, -0.5, 127.5, "-4", "300", " 5 ", "4.5"}
	for _, col := range names {
		for _, op := range []string{"=", "<", "<=", ">", ">="} {
			q := fmt.Sprintf("SELECT id FROM t WHERE %s %s ? ORDER BY id", col, op)
			stmt, err := db.Prepare(q)
			if err != nil {
				t.Fatal(err)
			}
			run := func(p any) {
				t.Helper()
				kd := decimal.RequireFromString(strings.TrimSpace(fmt.Sprint(p)))
				c := cond{col: col, test: func(v *decimal.Decimal) bool {
					if v == nil {
						return false
					}
					switch op {
					case "=":
						return v.Equal(kd)
					case "<":
						return v.LessThan(kd)
					case "<=":
						return v.LessThanOrEqual(kd)
					case ">":
						return v.GreaterThan(kd)
					}
					return v.GreaterThanOrEqual(kd)
				}}
				if got, exp := queryRows(t, stmtQuerier{stmt}, "", p), want(c); got != exp {
					t.Fatalf("%s with %T %v:\n got %q\nwant %q", q, p, p, got, exp)
				}
			}
			for i := 0; i < 3; i++ {
				run(int64(5)) // the template
				run(params[rng.IntN(len(params))])
			}
			for _, p := range params {
				run(p)
			}
			stmt.Close()
		}
	}
}

// stmtQuerier runs a prepared statement where queryRows takes a query.
type stmtQuerier struct{ *gosql.Stmt }

func (s stmtQuerier) QueryContext(ctx context.Context, _ string, args ...any) (*gosql.Rows, error) {
	return s.Stmt.QueryContext(ctx, args...)
}

// TestStringColumnComparedWithNumber: MySQL compares a string column with a number as
// numbers, so an index on the column cannot serve it; GMS's index builder looked up the
// number's text and missed '05' and ' 5', and GMS's IN compared the list as strings
// (inmixed.go).
func TestStringColumnComparedWithNumber(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE sc")
	db := n.connect(t, "sc")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(10), KEY ks (s))")
	vals := []string{"05", " 5", "5", "5.0", "6", "50", "-5", "0", "4.5"}
	var rows []string
	for i, v := range vals {
		rows = append(rows, fmt.Sprintf("(%d, '%s')", i+1, v))
	}
	rows = append(rows, fmt.Sprintf("(%d, NULL)", len(vals)+1))
	mustExec(t, db, "INSERT INTO t VALUES "+strings.Join(rows, ", "))
	want := func(test func(d decimal.Decimal) bool) string {
		var ids []string
		for i, v := range vals {
			if test(decimal.RequireFromString(strings.TrimSpace(v))) {
				ids = append(ids, fmt.Sprint(i+1))
			}
		}
		return strings.Join(ids, " ")
	}
	five := decimal.NewFromInt(5)
	for _, c := range []struct {
		where string
		test  func(d decimal.Decimal) bool
	}{
		{"s = 5", func(d decimal.Decimal) bool { return d.Equal(five) }},
		{"5 = s", func(d decimal.Decimal) bool { return d.Equal(five) }},
		{"s = 5.0", func(d decimal.Decimal) bool { return d.Equal(five) }},
		{"s <=> 5", func(d decimal.Decimal) bool { return d.Equal(five) }},
		{"s <> 5", func(d decimal.Decimal) bool { return !d.Equal(five) }},
		{"s > 5", func(d decimal.Decimal) bool { return d.GreaterThan(five) }},
		{"s >= 5", func(d decimal.Decimal) bool { return d.GreaterThanOrEqual(five) }},
		{"s < 5", func(d decimal.Decimal) bool { return d.LessThan(five) }},
		{"s <= 4.5", func(d decimal.Decimal) bool { return d.LessThanOrEqual(decimal.RequireFromString("4.5")) }},
		{"s IN (5, 6)", func(d decimal.Decimal) bool { return d.Equal(five) || d.Equal(decimal.NewFromInt(6)) }},
		{"s NOT IN (5, -5)", func(d decimal.Decimal) bool { return !d.Equal(five) && !d.Equal(decimal.NewFromInt(-5)) }},
		{"s IN (4.5, 50)", func(d decimal.Decimal) bool {
			return d.Equal(decimal.RequireFromString("4.5")) || d.Equal(decimal.NewFromInt(50))
		}},
	} {
		if got, exp := queryRows(t, db, "SELECT id FROM t WHERE "+c.where+" ORDER BY id"), want(c.test); got != exp {
			t.Errorf("%s:\n got %q\nwant %q", c.where, got, exp)
		}
	}
	// The text still reads the index, and matches the text only.
	if got := queryRows(t, db, "SELECT id FROM t WHERE s = '5' ORDER BY id"); got != "3" {
		t.Errorf("s = '5': got %q, want \"3\"", got)
	}
	stmt, err := db.Prepare("SELECT id FROM t WHERE s = ? ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	for _, p := range []any{"6", "6", int64(5), "5", int64(5)} {
		exp := "5"
		switch p {
		case int64(5):
			exp = want(func(d decimal.Decimal) bool { return d.Equal(five) })
		case "5":
			exp = "3"
		}
		if got := queryRows(t, stmtQuerier{stmt}, "", p); got != exp {
			t.Errorf("s = ? with %T %v: got %q, want %q", p, p, got, exp)
		}
	}
}
