package sqlstore

import (
	"math"
	"strconv"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/vt/sqlparser"
)

// DOUBLE +, -, *, /, POW and EXP past DOUBLE's range.
//
// MySQL refuses a DOUBLE result that overflows: SELECT 1e300 * 1e10 is error 1690, "DOUBLE
// value is out of range in '(1e300 * 1e10)'". GMS computes in Go's float64 and returned
// +Inf, which clients then read as the text "+Inf" (not a number to any of them).
// wrapOperation (arith.go) wraps each DOUBLE +, -, * (expression.Arithmetic) and /
// (expression.Div), and each POW, POWER and EXP, in doubleOp, which fails as MySQL does when
// the result is infinite ('pow(10,400)', 'exp(1000)').
// Infinite operands cannot come from SQL (no literal or conversion makes one), so an
// infinite result is always an overflow. Division by zero stays NULL.

// doubleOperation returns e wrapped in doubleOp if it is a +, -, * or / computed in DOUBLE,
// or a POW or EXP.
func doubleOperation(e sql.Expression) (sql.Expression, bool) {
	switch x := e.(type) {
	case *expression.Arithmetic:
		switch strings.ToLower(x.Op) {
		case sqlparser.PlusStr, sqlparser.MinusStr, sqlparser.MultStr:
		default:
			return e, false
		}
	case *expression.Div, *function.Power, *function.Exp:
	default:
		return e, false
	}
	if !types.IsFloat(e.Type()) {
		return e, false
	}
	return &doubleOp{Expression: e}, true
}

// doubleOp is a DOUBLE +, -, *, /, POW or EXP that fails on overflow.
type doubleOp struct {
	sql.Expression
}

// WithChildren implements sql.Expression.
func (d *doubleOp) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	e, err := d.Expression.WithChildren(children...)
	if err != nil {
		return nil, err
	}
	w, _ := doubleOperation(e)
	return w, nil
}

// Eval implements sql.Expression.
func (d *doubleOp) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := d.Expression.Eval(ctx, row)
	if err != nil {
		return nil, err
	}
	if f, ok := v.(float64); ok && math.IsInf(f, 0) {
		return nil, d.outOfRange()
	}
	if v == nil {
		// GMS's POW and EXP return NULL for an infinite or undefined result (POW(0, -1),
		// POW(-8, 1/3)), which MySQL refuses; a NULL argument is NULL in both.
		switch d.Expression.(type) {
		case *function.Power, *function.Exp:
			for _, c := range d.Expression.Children() {
				if a, err := c.Eval(ctx, row); err != nil || a == nil {
					return nil, err
				}
			}
			return nil, d.outOfRange()
		}
	}
	return v, nil
}

func (d *doubleOp) outOfRange() error {
	return mysql.NewSQLError(erDataOutOfRange, "22003", "DOUBLE value is out of range in '%s'", mysqlExprText(d.Expression))
}

// floatLiteralText writes a DOUBLE literal as MySQL prints it in an expression: 1e300, not
// Go's 1e+300.
func floatLiteralText(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if i := strings.Index(s, "e+"); i >= 0 {
		s = s[:i+1] + s[i+2:]
	}
	return s
}
