package sqlstore

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/planbuilder"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
	"github.com/dolthub/vitess/go/vt/sqlparser"
)

// TestManyPlaceholders: a prepared statement with more placeholders than vitess can
// execute is refused with MySQL's 1390, and the connection goes on (65,535 placeholders
// dropped the connection with a panic in vitess; 65,536 were counted as 0).
func TestManyPlaceholders(t *testing.T) {
	n := startNode(t, t.TempDir())
	root := n.connect(t, "")
	mustExec(t, root, "CREATE DATABASE m")
	db := n.connect(t, "m")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	mustExec(t, db, "INSERT INTO t VALUES (1), (2)")
	for _, c := range []struct {
		n    int
		code uint16
	}{{maxPlaceholders, 0}, {maxPlaceholders + 1, erPSManyParam}, {65535, erPSManyParam}, {65536, erPSManyParam}, {70000, erPSManyParam}} {
		q := "SELECT COUNT(*) FROM t WHERE id IN (" + strings.TrimSuffix(strings.Repeat("?,", c.n), ",") + ")"
		args := make([]any, c.n)
		for i := range args {
			args[i] = i
		}
		var count int
		err := db.QueryRow(q, args...).Scan(&count)
		switch {
		case c.code == 0 && (err != nil || count != 2):
			t.Errorf("%d placeholders: count %d, %v; want 2", c.n, count, err)
		case c.code != 0 && mysqlCode(err) != c.code:
			t.Errorf("%d placeholders: %v, want error %d", c.n, err, c.code)
		}
		if got := queryRows(t, db, "SELECT 1"); got != "1" {
			t.Fatalf("after %d placeholders the connection answers %q", c.n, got)
		}
	}
}

// TestPlannedLiteral: the literals paramLiterals makes itself of strings and doubles are
// the planbuilder's (value and type), under the connection's collation.
func TestPlannedLiteral(t *testing.T) {
	for _, coll := range []sql.CollationID{sql.Collation_utf8mb4_0900_ai_ci, sql.Collation_utf8mb4_bin, sql.Collation_latin1_swedish_ci} {
		ctx := sql.NewEmptyContext()
		if err := ctx.SetSessionVariable(ctx, "collation_connection", coll.Name()); err != nil {
			t.Fatal(err)
		}
		bvs := []*querypb.BindVariable{
			{Type: querypb.Type_VARCHAR, Value: []byte("abc")},
			{Type: querypb.Type_VARCHAR, Value: []byte("")},
			{Type: querypb.Type_VARCHAR, Value: []byte("12.5e3")},
			{Type: querypb.Type_VARBINARY, Value: []byte{0, 1, 0xff}},
			{Type: querypb.Type_CHAR, Value: []byte("é ")},
			{Type: querypb.Type_BLOB, Value: []byte("blob")},
			{Type: querypb.Type_TEXT, Value: []byte("text")},
			{Type: querypb.Type_DATETIME, Value: []byte("2026-12-08 01:02:03")},
			{Type: querypb.Type_DATE, Value: []byte("2026-12-08")},
			{Type: querypb.Type_FLOAT64, Value: []byte("1.5")},
			{Type: querypb.Type_FLOAT64, Value: []byte("-0")},
			{Type: querypb.Type_FLOAT64, Value: []byte("1e300")},
			{Type: querypb.Type_FLOAT64, Value: []byte("3")},
			{Type: querypb.Type_FLOAT64, Value: []byte("0.1")},
			{Type: querypb.Type_FLOAT32, Value: []byte("2.25")},
			{Type: querypb.Type_FLOAT64, Value: []byte("123456789.123456789")},
		}
		for _, bv := range bvs {
			got := plannedLiteral(ctx, bv)
			if got == nil {
				t.Fatalf("%v %q: no literal", bv.Type, bv.Value)
			}
			val, err := sqltypes.BindVariableToValue(bv)
			if err != nil {
				t.Fatal(err)
			}
			e, err := sqlparser.ExprFromValue(val)
			if err != nil {
				t.Fatal(err)
			}
			b := planbuilder.New(ctx, nil, nil, nil)
			b.SetBindings(map[string]sqlparser.Expr{"v1": e})
			want, ok := b.BindCtx().Bindings["v1"].(*expression.Literal)
			if !ok {
				t.Fatalf("%v %q: the planbuilder made %T", bv.Type, bv.Value, b.BindCtx().Bindings["v1"])
			}
			if !got.Type().Equals(want.Type()) || fmt.Sprintf("%T %#v", got.Value(), got.Value()) != fmt.Sprintf("%T %#v", want.Value(), want.Value()) {
				t.Errorf("%v %q under %s: %s %#v, the planbuilder's %s %#v", bv.Type, bv.Value, coll.Name(), got.Type(), got.Value(), want.Type(), want.Value())
			}
		}
	}
	for _, bv := range []*querypb.BindVariable{{Type: querypb.Type_DECIMAL, Value: []byte("1.5")}, {Type: querypb.Type_FLOAT64, Value: []byte("+Inf")}, {Type: querypb.Type_BIT, Value: []byte{1}}} {
		if l := plannedLiteral(sql.NewEmptyContext(), bv); l != nil {
			t.Errorf("%v %q: %v, want it left to the planbuilder", bv.Type, bv.Value, l)
		}
	}
}
