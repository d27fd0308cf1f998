package sqlstore

import (
	"fmt"
	"math/bits"
	"strings"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/vt/sqlparser"
)

// Integer +, - and * as MySQL computes them.
//
// MySQL computes an integer +, - or * in BIGINT, UNSIGNED when either operand is unsigned,
// and a result outside that type's range is error 1690 (ER_DATA_OUT_OF_RANGE):
// "BIGINT UNSIGNED value is out of range in '(cast(0 as unsigned) - 1)'". GMS types the
// result UNSIGNED only when both operands are (expression/arithmetic.go, Arithmetic.Type)
// and computes in Go's fixed-size integers, which wrap (plus, minus, mult): 9223372036854775807
// + 1 gave -9223372036854775808, and an INT UNSIGNED column at 0 set to itself - 1 became
// 4294967295. The rule below, run last on every statement, replaces each integer +, - or *
// by an intArith: GMS's expression, typed and computed as MySQL does.

// installIntArithRule puts checkIntArith among the rules GMS runs last.
func installIntArithRule(eng *sqle.Engine) {
	installAfterAll(eng, analyzer.Rule{Id: ruleIntArith, Apply: checkIntArith})
}

// checkIntArith is the analyzer rule: see above, and rangeChecked below.
func checkIntArith(_ *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.NodeExprsWithOpaque(n, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		if w, ok := wrapOperation(e); ok {
			return w, transform.NewTree, nil
		}
		if x, ok := e.(*expression.SetField); ok {
			if nx, ok := checkSetField(x); ok {
				return nx, transform.NewTree, nil
			}
		}
		return e, transform.SameTree, nil
	})
}

// installOperationsRule wraps the operations first thing too (wrapOperations), before GMS folds
// constant ones: WHERE id > 9223372036854775807 + 1 - 9223372036854775807 was folded with
// Go's wrapping arithmetic into id > -9223372036854775808 (MySQL: error 1690), and a WHERE's
// u & ~1 had its ~1 folded by GMS's XOR. checkIntArith wraps any made later.
func installOperationsRule(eng *sqle.Engine) {
	installFirst(eng, "once-before", analyzer.Rule{Id: ruleOperations, Apply: wrapOperations})
}

// wrapOperations is that rule.
func wrapOperations(_ *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.NodeExprsWithOpaque(n, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		if w, ok := wrapOperation(e); ok {
			return w, transform.NewTree, nil
		}
		return e, transform.SameTree, nil
	})
}

// wrapOperation returns e computed as MySQL does, if it is an operation GMS computes
// otherwise: integer +, - and * (intArith), DOUBLE +, -, *, /, POW and EXP (doubleOp,
// floatarith.go), bit operations (bitOp, bitops.go).
func wrapOperation(e sql.Expression) (sql.Expression, bool) {
	switch x := e.(type) {
	case *expression.Arithmetic:
		if isIntArith(x) {
			return &intArith{Arithmetic: x}, true
		}
		return doubleOperation(x)
	case *expression.BitOp:
		return wrapBitOp(x)
	case *expression.Div, *function.Power, *function.Exp:
		return doubleOperation(x)
	}
	return e, false
}

// An UPDATE's SET (also ON DUPLICATE KEY UPDATE, a trigger's SET NEW.c) converts the value
// to the column's type without looking at whether it fits (expression/set.go, SetField.Eval
// drops Convert's in-range result): SET u = -1 stored 4294967295 in an INT UNSIGNED, and SET
// i = 2147483648 stored 2147483647 in an INT, where MySQL's strict mode refuses both with
// 1264. GMS looks for its own *SetField type in many places, so the rule wraps the value
// instead: rangeChecked fails as GMS's INSERT does for a value out of its column's range
// (errcodes_data.go words it as MySQL: Out of range value for column 'u' at row 1). Outside
// strict mode a negative value for an UNSIGNED column is 0, as in MySQL.

// checkSetField returns sf with its value range-checked, when it sets an integer column.
func checkSetField(sf *expression.SetField) (sql.Expression, bool) {
	gf, ok := sf.LeftChild.(*expression.GetField)
	if !ok || !types.IsInteger(gf.Type()) || types.IsBoolean(gf.Type()) {
		return nil, false
	}
	switch sf.RightChild.(type) {
	case *rangeChecked, *expression.Wrapper, *sql.ColumnDefaultValue, plan.ColDefaultExpression:
		return nil, false // DEFAULT and generated values are GMS's to find
	}
	return expression.NewSetField(gf, &rangeChecked{Expression: sf.RightChild, col: gf}), true
}

// rangeChecked is a value set into column col, refused when out of its range.
type rangeChecked struct {
	sql.Expression
	col *expression.GetField
}

// Children implements sql.Expression.
func (r *rangeChecked) Children() []sql.Expression { return []sql.Expression{r.Expression} }

// WithChildren implements sql.Expression.
func (r *rangeChecked) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(r, len(children), 1)
	}
	return &rangeChecked{Expression: children[0], col: r.col}, nil
}

// String implements sql.Expression.
func (r *rangeChecked) String() string { return r.Expression.String() }

// Eval implements sql.Expression.
func (r *rangeChecked) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := r.Expression.Eval(ctx, row)
	if err != nil || v == nil {
		return v, err
	}
	typ := r.col.Type()
	if _, inRange, err := typ.Convert(ctx, v); err != nil || inRange == sql.InRange {
		return v, nil // SetField reports a conversion error
	}
	if strictMode(ctx) {
		return nil, sql.NewWrappedTypeConversionError(v, r.col.Index(), sql.ErrValueOutOfRange.New(v, typ))
	}
	if types.IsUnsigned(typ) {
		if f, _, err := types.Float64.Convert(ctx, v); err == nil && f != nil && f.(float64) < 0 {
			return typ.Zero(), nil
		}
	}
	return v, nil
}

// isIntArith reports whether a is a +, - or * of two integers.
func isIntArith(a *expression.Arithmetic) bool {
	switch strings.ToLower(a.Op) {
	case sqlparser.PlusStr, sqlparser.MinusStr, sqlparser.MultStr:
	default:
		return false
	}
	return isIntType(a.LeftChild.Type()) && isIntType(a.RightChild.Type())
}

func isIntType(t sql.Type) bool {
	return types.IsInteger(t) && !types.IsDeferredType(t)
}

// intArith is an integer +, - or * computed exactly, in BIGINT or BIGINT UNSIGNED.
type intArith struct {
	*expression.Arithmetic
}

var _ sql.Expression = (*intArith)(nil)

// unsigned reports whether the result is BIGINT UNSIGNED: either operand is unsigned (a
// subtraction is signed under NO_UNSIGNED_SUBTRACTION).
func (a *intArith) unsigned(ctx *sql.Context) bool {
	if !types.IsUnsigned(a.LeftChild.Type()) && !types.IsUnsigned(a.RightChild.Type()) {
		return false
	}
	if a.Op == sqlparser.MinusStr && ctx != nil && ctx.Session != nil && sql.LoadSqlMode(ctx).ModeEnabled("NO_UNSIGNED_SUBTRACTION") {
		return false
	}
	return true
}

// Type implements sql.Expression.
func (a *intArith) Type() sql.Type {
	if types.IsUnsigned(a.LeftChild.Type()) || types.IsUnsigned(a.RightChild.Type()) {
		return types.Uint64
	}
	return types.Int64
}

// WithChildren implements sql.Expression.
func (a *intArith) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	e, err := a.Arithmetic.WithChildren(children...)
	if err != nil {
		return nil, err
	}
	if na, ok := e.(*expression.Arithmetic); ok && isIntArith(na) {
		return &intArith{Arithmetic: na}, nil
	}
	return e, nil
}

// Eval implements sql.Expression.
func (a *intArith) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	lv, rv, err := evalOperands(ctx, row, a.LeftChild, a.RightChild)
	if err != nil || lv == nil {
		return nil, err
	}
	l, lok := toInt128(lv)
	r, rok := toInt128(rv)
	if !lok || !rok {
		return a.Arithmetic.Eval(ctx, row) // not an integer value after all: GMS's way
	}
	var res int128
	ok := true
	switch a.Op {
	case sqlparser.PlusStr:
		res = l.add(r)
	case sqlparser.MinusStr:
		res = l.sub(r)
	default:
		res, ok = l.mul(r)
	}
	unsigned := a.unsigned(ctx)
	switch {
	case ok && res.hi == 0 && (unsigned || types.IsUnsigned(a.Type())):
		return res.lo, nil // (under NO_UNSIGNED_SUBTRACTION, of the UNSIGNED type while it can be)
	case ok && !unsigned && res.fitsInt64():
		return int64(res.lo), nil
	}
	typ := "BIGINT"
	if unsigned {
		typ = "BIGINT UNSIGNED"
	}
	return nil, mysql.NewSQLError(erDataOutOfRange, "22003", "%s value is out of range in '%s'", typ, mysqlExprText(a))
}

// int128 is a two's-complement 128-bit integer, wide enough for the sum or difference of
// any two BIGINT or BIGINT UNSIGNED values.
type int128 struct {
	hi int64
	lo uint64
}

// evalOperands evaluates a binary operation's operands: both nil when either is NULL.
func evalOperands(ctx *sql.Context, row sql.Row, left, right sql.Expression) (any, any, error) {
	lv, err := left.Eval(ctx, row)
	if err != nil || lv == nil {
		return nil, nil, err
	}
	rv, err := right.Eval(ctx, row)
	if err != nil || rv == nil {
		return nil, nil, err
	}
	return lv, rv, nil
}

// toInt128 reads an integer value.
func toInt128(v any) (int128, bool) {
	switch x := v.(type) {
	case int8:
		return fromInt64(int64(x)), true
	case int16:
		return fromInt64(int64(x)), true
	case int32:
		return fromInt64(int64(x)), true
	case int64:
		return fromInt64(x), true
	case int:
		return fromInt64(int64(x)), true
	case uint8:
		return int128{lo: uint64(x)}, true
	case uint16:
		return int128{lo: uint64(x)}, true
	case uint32:
		return int128{lo: uint64(x)}, true
	case uint64:
		return int128{lo: x}, true
	case uint:
		return int128{lo: uint64(x)}, true
	case bool:
		if x {
			return int128{lo: 1}, true
		}
		return int128{}, true
	}
	return int128{}, false
}

func fromInt64(v int64) int128 { return int128{hi: v >> 63, lo: uint64(v)} }

func (x int128) neg() bool { return x.hi < 0 }

func (x int128) add(y int128) int128 {
	lo, carry := bits.Add64(x.lo, y.lo, 0)
	return int128{hi: x.hi + y.hi + int64(carry), lo: lo}
}

func (x int128) sub(y int128) int128 {
	lo, borrow := bits.Sub64(x.lo, y.lo, 0)
	return int128{hi: x.hi - y.hi - int64(borrow), lo: lo}
}

// abs is |x| for x in [-2^64, 2^64).
func (x int128) abs() uint64 {
	if x.neg() {
		return -x.lo
	}
	return x.lo
}

// mul is x*y, and false when |x*y| is 2^64 or more (out of every range here).
func (x int128) mul(y int128) (int128, bool) {
	hi, lo := bits.Mul64(x.abs(), y.abs())
	if hi != 0 {
		return int128{}, false
	}
	p := int128{lo: lo}
	if x.neg() != y.neg() && lo != 0 {
		p = int128{}.sub(p)
	}
	return p, true
}

func (x int128) fitsInt64() bool {
	return x.hi == 0 && x.lo <= 1<<63-1 || x.hi == -1 && x.lo >= 1<<63
}

// mysqlExprText is e as MySQL prints an expression in a message: (a + b), cast(x as
// unsigned), `db`.`table`.`column`.
func mysqlExprText(e sql.Expression) string {
	switch x := e.(type) {
	case *intArith:
		return mysqlExprText(x.Arithmetic)
	case *doubleOp:
		return mysqlExprText(x.Expression)
	case *expression.Div:
		return "(" + mysqlExprText(x.LeftChild) + " / " + mysqlExprText(x.RightChild) + ")"
	case *function.Power:
		return "pow(" + mysqlExprText(x.LeftChild) + "," + mysqlExprText(x.RightChild) + ")"
	case *function.Exp:
		return "exp(" + mysqlExprText(x.Child) + ")"
	case *expression.Arithmetic:
		return "(" + mysqlExprText(x.LeftChild) + " " + x.Op + " " + mysqlExprText(x.RightChild) + ")"
	case *intCast:
		return mysqlExprText(x.Convert)
	case *expression.Convert:
		s := x.String() // convert(child, type)
		if i := strings.LastIndex(s, ", "); i >= 0 && strings.HasSuffix(s, ")") {
			return "cast(" + mysqlExprText(x.Child) + " as " + s[i+2:len(s)-1] + ")"
		}
		return s
	case *expression.GetField:
		var parts []string
		db := x.Database()
		if t := strings.ToLower(x.Table()); t == "new" || t == "old" {
			db = "" // a trigger's row: MySQL prints `new`.`u`
		}
		for _, p := range []string{db, x.Table(), x.Name()} {
			if p != "" {
				parts = append(parts, "`"+strings.ReplaceAll(p, "`", "``")+"`")
			}
		}
		return strings.Join(parts, ".")
	case *expression.UnaryMinus:
		return "-(" + mysqlExprText(x.Child) + ")"
	case *expression.Literal:
		if f, ok := x.Value().(float64); ok {
			return floatLiteralText(f)
		}
		return x.String()
	}
	return fmt.Sprint(e)
}
