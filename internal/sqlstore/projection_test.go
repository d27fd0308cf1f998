package sqlstore

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/shopspring/decimal"
)

// TestDecodeIntoMatchesDecodeRow: decoding some columns of a stored row, skipping the
// others, gives exactly those columns' values of the whole decoded row, for every kind of
// stored value.
func TestDecodeIntoMatchesDecodeRow(t *testing.T) {
	ctx := sql.NewEmptyContext()
	jsonType := types.JSON
	sch := sql.Schema{
		{Name: "i8", Type: types.Int8}, {Name: "i64", Type: types.Int64}, {Name: "u32", Type: types.Uint32},
		{Name: "f", Type: types.Float32}, {Name: "d", Type: types.Float64}, {Name: "s", Type: types.LongText},
		{Name: "b", Type: types.LongBlob}, {Name: "dec", Type: types.MustCreateDecimalType(10, 2)},
		{Name: "ts", Type: types.DatetimeMaxPrecision}, {Name: "tm", Type: types.Time}, {Name: "j", Type: jsonType},
		{Name: "y", Type: types.Year},
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for n := 0; n < 300; n++ {
		row := sql.Row{int8(-3), int64(rng.Int64()), uint32(rng.Uint32()), float32(1.5), rng.Float64(),
			strings.Repeat("x", rng.IntN(300)), []byte("\x00\x01"), decimal.RequireFromString("12.30"),
			time.Unix(rng.Int64N(1e9), 0).UTC(), types.Timespan(rng.Int64N(1e9)), nil, int16(2001)}
		js, _, err := jsonType.Convert(ctx, `{"a": [1, 2]}`)
		if err != nil {
			t.Fatal(err)
		}
		row[10] = js
		for i := range row {
			if rng.IntN(6) == 0 {
				row[i] = nil
			}
		}
		b, err := encodeRow(ctx, nil, sch, row)
		if err != nil {
			t.Fatal(err)
		}
		whole, err := decodeRow(ctx, b, sch)
		if err != nil {
			t.Fatal(err)
		}
		pos := make([]int, len(sch))
		var want sql.Row
		for c := range pos {
			pos[c] = -1
			if rng.IntN(2) == 0 {
				pos[c] = len(want)
				want = append(want, whole[c])
			}
		}
		got := make(sql.Row, len(want))
		if err := decodeInto(ctx, b, sch, pos, lastWanted(pos), got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("columns %v: got %v, want %v", pos, got, want)
		}
	}
}

// TestProjectedReads: each column read alone, or a few together, through scans, primary
// and secondary lookups, locking reads and a table altered after rows were stored, equals
// that column of the whole rows.
func TestProjectedReads(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE pr")
	db := n.connect(t, "pr")
	mustExec(t, db, `CREATE TABLE t (id INT PRIMARY KEY, k INT, c VARCHAR(200), d DECIMAL(8,3), ts DATETIME,
		j JSON, b BLOB, f DOUBLE, KEY kk (k))`)
	rng := rand.New(rand.NewPCG(11, 12))
	var rows []string
	for id := 1; id <= 200; id++ {
		val := func(s string) string {
			if rng.IntN(7) == 0 {
				return "NULL"
			}
			return s
		}
		rows = append(rows, fmt.Sprintf("(%d, %s, %s, %s, %s, %s, %s, %s)", id, val(fmt.Sprint(rng.IntN(20))),
			val(fmt.Sprintf("'%s'", strings.Repeat("ab", rng.IntN(90)))), val(fmt.Sprintf("%d.%03d", rng.IntN(1000), rng.IntN(1000))),
			val("'2026-12-07 10:11:12'"), val(`'{"x": 1}'`), val("x'00ff'"), val(fmt.Sprint(rng.Float64()))))
	}
	mustExec(t, db, "INSERT INTO t VALUES "+strings.Join(rows, ", "))
	mustExec(t, db, "ALTER TABLE t ADD COLUMN z INT DEFAULT 7")
	mustExec(t, db, "INSERT INTO t (id, k, c, z) VALUES (201, 3, 'new', 9)")
	cols := []string{"id", "k", "c", "d", "ts", "j", "b", "f", "z"}
	wheres := []string{"", " WHERE id BETWEEN 20 AND 120", " WHERE k = 3", " WHERE k BETWEEN 2 AND 5 AND id > 50"}
	for _, where := range wheres {
		whole := queryTable(t, db, "SELECT "+strings.Join(cols, ", ")+" FROM t"+where+" ORDER BY id")
		for trial := 0; trial < 12; trial++ {
			var pick []int
			for i := range cols {
				if rng.IntN(3) == 0 {
					pick = append(pick, i)
				}
			}
			if len(pick) == 0 {
				pick = []int{rng.IntN(len(cols))}
			}
			var names []string
			want := make([][]*string, len(whole))
			for _, i := range pick {
				names = append(names, cols[i])
				for r := range whole {
					want[r] = append(want[r], whole[r][i])
				}
			}
			q := "SELECT " + strings.Join(names, ", ") + " FROM t" + where + " ORDER BY id"
			if got := queryTable(t, db, q); show(got) != show(want) {
				t.Fatalf("%s:\n got %s\nwant %s", q, show(got), show(want))
			}
			if got := queryTable(t, db, q+" FOR UPDATE"); show(got) != show(want) {
				t.Fatalf("%s FOR UPDATE:\n got %s\nwant %s", q, show(got), show(want))
			}
		}
		if got, want := queryRows(t, db, "SELECT COUNT(*) FROM t"+where), fmt.Sprint(len(whole)); got != want {
			t.Fatalf("COUNT(*)%s: %s, want %s", where, got, want)
		}
	}
}
