package sqlstore

import (
	"math"
	"math/big"
	"strings"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
	"github.com/shopspring/decimal"
)

// Integer columns compared with constants their type cannot hold.
//
// GMS's index builder converts a comparison's constant to the column's type and ignores
// whether it fit (sql.MySQLIndexBuilder: `k, _, err = typ.Convert(ctx, k)`). A constant out
// of the type's range wraps or clamps: `b = -4` on an INT UNSIGNED column became the range
// [4294967292, 4294967292], `c = 300` on a TINYINT the range [127, 127], `c > '-300'` the
// range (-128, ∞), and `c <> 300` excluded 127. The lookup then returns rows the condition
// does not select, or misses rows it does, and UPDATE and DELETE change them. A string
// constant that is not an integer (`b = '-4'`, `c = '5.5'`) failed with error 1366 instead.
//
// MySQL compares an integer column with such a constant by value, and knows the answer for
// every row of the column without reading it: `b = -4` is false (or NULL), `b > -4` is true
// (or NULL). The rule below says so before GMS plans the lookups, in the positions of a
// WHERE or ON condition reached through AND and OR only, where a NULL and a FALSE both
// reject the row:
//   - =, <=>, IN: a constant that is not an integer in the type's range never matches, so
//     the comparison is FALSE, or the IN list loses it;
//   - <>, NOT IN: such a constant always differs, so the comparison is `col IS NOT NULL`;
//   - <, <=, >, >=, BETWEEN: a bound beyond the type's range makes the comparison FALSE or
//     `col IS NOT NULL`; a bound in the range that is not an integer, from a string, is
//     rounded to the integer that selects the same rows.
//
// A string column compared with a number reads no index (unindexedStringComparison).
//
// Constants the type holds are left as they are, so that a prepared statement's parameter
// stays the very literal it was bound to (prepared.go). A prepared plan's lookup rebuilt for
// other values checks them the same way (intKey) and leaves values out of range to
// GMS's normal path, which applies this rule.

// installIntCompareRule adds the rule before GMS's join and index planning, after the row
// comparisons are expanded (tuplein.go), and to the rules GMS runs for single-table UPDATE
// and DELETE.
func installIntCompareRule(eng *sqle.Engine) {
	installBeforeIndexPlanning(eng, analyzer.Rule{Id: ruleIntCompare, Apply: boundIntComparisons}, false)
}

// boundIntComparisons rewrites the comparisons of filters and join conditions (see above).
// A filter found always false reads nothing (as GMS's simplifyFilters makes it), except
// under UPDATE and DELETE, whose plans GMS expects to end in their table.
func boundIntComparisons(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	writes := false
	transform.Inspect(n, func(n sql.Node) bool {
		switch n.(type) {
		case *plan.Update, *plan.DeleteFrom:
			writes = true
		}
		return !writes
	})
	return transform.Node(n, func(n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		switch n := n.(type) {
		case *plan.Filter:
			e, changed := boundCondition(ctx, n.Expression)
			if !changed {
				return n, transform.SameTree, nil
			}
			if isFalse(e) && !writes {
				return plan.NewEmptyTableWithSchema(n.Schema()), transform.NewTree, nil
			}
			return plan.NewFilter(e, n.Child), transform.NewTree, nil
		case *plan.JoinNode:
			return rewriteJoinCondition(n, func(e sql.Expression) (sql.Expression, bool) { return boundCondition(ctx, e) })
		}
		return n, transform.SameTree, nil
	})
}

// boundCondition rewrites the comparisons of e reached through AND and OR.
func boundCondition(ctx *sql.Context, e sql.Expression) (sql.Expression, bool) {
	switch e := e.(type) {
	case *expression.And:
		l, lc := boundCondition(ctx, e.LeftChild)
		r, rc := boundCondition(ctx, e.RightChild)
		if !lc && !rc {
			return e, false
		}
		if isFalse(l) || isFalse(r) {
			return falseLiteral(), true
		}
		return expression.NewAnd(l, r), true
	case *expression.Or:
		l, lc := boundCondition(ctx, e.LeftChild)
		r, rc := boundCondition(ctx, e.RightChild)
		if !lc && !rc {
			return e, false
		}
		switch {
		case isFalse(l):
			return r, true
		case isFalse(r):
			return l, true
		}
		return expression.NewOr(l, r), true
	case *expression.Between:
		col, bounds, ok := intColumn(e.Val)
		if !ok {
			return e, false
		}
		lo, lok := constValue(ctx, e.Lower)
		hi, hok := constValue(ctx, e.Upper)
		if !lok || !hok || (lo.exact() && bounds.holds(lo) && hi.exact() && bounds.holds(hi)) {
			return e, false
		}
		ge, _ := boundComparison(col, bounds, analyzer.IndexScanOpGte, e.Lower, lo)
		le, _ := boundComparison(col, bounds, analyzer.IndexScanOpLte, e.Upper, hi)
		if isFalse(ge) || isFalse(le) {
			return falseLiteral(), true
		}
		return expression.NewAnd(ge, le), true
	}
	op, left, right, ok := analyzer.IndexLeafChildren(e)
	if !ok || right == nil {
		return e, false
	}
	if w, ok := unindexedStringComparison(op, left, right); ok {
		return w, true
	}
	col, bounds, isCol := intColumn(left)
	if !isCol {
		if col, bounds, isCol = intColumn(right); !isCol {
			return e, false
		}
		left, right, op = right, left, op.Swap()
	}
	if _, isCol := right.(*expression.GetField); isCol {
		return e, false
	}
	switch op {
	case analyzer.IndexScanOpInSet, analyzer.IndexScanOpNotInSet:
		return boundInList(ctx, col, bounds, op, right)
	case analyzer.IndexScanOpEq, analyzer.IndexScanOpNullSafeEq, analyzer.IndexScanOpNotEq,
		analyzer.IndexScanOpGt, analyzer.IndexScanOpGte, analyzer.IndexScanOpLt, analyzer.IndexScanOpLte:
		v, ok := constValue(ctx, right)
		if !ok || (v.exact() && bounds.holds(v)) {
			return e, false
		}
		return boundComparison(col, bounds, op, right, v)
	}
	return e, false
}

// boundComparison rewrites `col op v` for a constant v the column's type cannot hold (or
// any constant: a comparison it holds comes back as it was, through orig).
func boundComparison(col sql.Expression, b intBounds, op analyzer.IndexScanOp, orig sql.Expression, v numericConst) (sql.Expression, bool) {
	notNull := expression.NewNot(expression.NewIsNull(col))
	if b.holds(v) {
		if v.exact() {
			return comparisonOf(op, col, orig), false
		}
		return comparisonOf(op, col, intLiteral(v.d)), true
	}
	switch op {
	case analyzer.IndexScanOpEq, analyzer.IndexScanOpNullSafeEq: // never equal
		return falseLiteral(), true
	case analyzer.IndexScanOpNotEq: // always different
		return notNull, true
	}
	below, above := v.d.LessThan(b.min), v.d.GreaterThan(b.max)
	greater := op == analyzer.IndexScanOpGt || op == analyzer.IndexScanOpGte
	switch {
	case below && greater, above && !greater: // every value of the type
		return notNull, true
	case below || above: // none
		return falseLiteral(), true
	case op == analyzer.IndexScanOpGt || op == analyzer.IndexScanOpLte: // col > 5.5 is col > 5
		return comparisonOf(op, col, intLiteral(v.d.Floor())), true
	default: // col >= 5.5 and col < 5.5 are col >= 6 and col < 6
		return comparisonOf(op, col, intLiteral(v.d.Ceil())), true
	}
}

// boundInList drops from `col [NOT] IN (list)` the constants the column's type cannot hold,
// when every element is a constant.
func boundInList(ctx *sql.Context, col sql.Expression, b intBounds, op analyzer.IndexScanOp, list sql.Expression) (sql.Expression, bool) {
	tuple, ok := list.(expression.Tuple)
	if !ok {
		return nil, false
	}
	var kept []sql.Expression
	changed, sawNull := false, false
	for _, el := range tuple {
		if l, ok := el.(*expression.Literal); ok && l.Value() == nil {
			// Never equal: for IN, NULL rejects the row as FALSE does; NOT IN is then
			// never true (NULL or FALSE), which is decided below.
			changed, sawNull = true, true
			continue
		}
		v, ok := constValue(ctx, el)
		if !ok {
			return comparisonOf(op, col, list), false
		}
		switch {
		case b.holds(v) && v.exact():
			kept = append(kept, el)
		case b.holds(v):
			kept = append(kept, intLiteral(v.d))
			changed = true
		default:
			changed = true
		}
	}
	if !changed {
		return comparisonOf(op, col, list), false
	}
	if sawNull && op == analyzer.IndexScanOpNotInSet {
		return falseLiteral(), true
	}
	if len(kept) == 0 {
		if op == analyzer.IndexScanOpNotInSet {
			return expression.NewNot(expression.NewIsNull(col)), true
		}
		return falseLiteral(), true
	}
	in := expression.NewInTuple(col, expression.NewTuple(kept...))
	if op == analyzer.IndexScanOpNotInSet {
		return expression.NewNot(in), true
	}
	return in, true
}

// unindexedStringComparison rewrites `col op x`, a string column compared with a number, so
// that GMS reads no index on the column for it. MySQL compares the two as numbers ('05',
// ' 5' and '5' all equal 5), an order no string index follows, so it reads no index either;
// GMS's index builder converted the number to a string instead and read only the rows
// holding exactly '5'. The column is wrapped (expression.Wrapper evaluates to the column),
// and the comparison is evaluated as GMS evaluates it without an index.
func unindexedStringComparison(op analyzer.IndexScanOp, left, right sql.Expression) (sql.Expression, bool) {
	switch op {
	case analyzer.IndexScanOpEq, analyzer.IndexScanOpNullSafeEq, analyzer.IndexScanOpNotEq,
		analyzer.IndexScanOpGt, analyzer.IndexScanOpGte, analyzer.IndexScanOpLt, analyzer.IndexScanOpLte:
	default:
		return nil, false
	}
	if !stringColumn(left) {
		if !stringColumn(right) {
			return nil, false
		}
		left, right, op = right, left, op.Swap()
	}
	if !types.IsNumber(right.Type()) {
		return nil, false
	}
	return comparisonOf(op, expression.WrapExpression(left), right), true
}

// stringColumn reports whether e is a column of a string or binary string type.
func stringColumn(e sql.Expression) bool {
	gf, ok := e.(*expression.GetField)
	return ok && isStringType(gf.Type())
}

// isStringType reports whether t is a string or binary string type.
func isStringType(t sql.Type) bool { return types.IsText(t) || types.IsBinaryType(t) }

// comparisonOf builds `col op v`.
func comparisonOf(op analyzer.IndexScanOp, col, v sql.Expression) sql.Expression {
	switch op {
	case analyzer.IndexScanOpEq:
		return expression.NewEquals(col, v)
	case analyzer.IndexScanOpNullSafeEq:
		return expression.NewNullSafeEquals(col, v)
	case analyzer.IndexScanOpNotEq:
		return expression.NewNot(expression.NewEquals(col, v))
	case analyzer.IndexScanOpGt:
		return expression.NewGreaterThan(col, v)
	case analyzer.IndexScanOpGte:
		return expression.NewGreaterThanOrEqual(col, v)
	case analyzer.IndexScanOpLt:
		return expression.NewLessThan(col, v)
	case analyzer.IndexScanOpLte:
		return expression.NewLessThanOrEqual(col, v)
	case analyzer.IndexScanOpInSet:
		return expression.NewInTuple(col, v)
	case analyzer.IndexScanOpNotInSet:
		return expression.NewNot(expression.NewInTuple(col, v))
	}
	panic("sqlstore: comparisonOf: unexpected operator") // callers pass only the above
}

func falseLiteral() sql.Expression { return expression.NewLiteral(false, types.Boolean) }

func isFalse(e sql.Expression) bool {
	l, ok := e.(*expression.Literal)
	if !ok {
		return false
	}
	b, ok := l.Value().(bool)
	return ok && !b
}

func intLiteral(d decimal.Decimal) sql.Expression {
	if d.Sign() < 0 {
		return expression.NewLiteral(d.IntPart(), types.Int64)
	}
	return expression.NewLiteral(d.BigInt().Uint64(), types.Uint64)
}

// intBounds is the range of values an integer type holds.
type intBounds struct{ min, max decimal.Decimal }

// holds reports whether v is an integer of the range.
func (b intBounds) holds(v numericConst) bool {
	return v.integral() && !v.d.LessThan(b.min) && !v.d.GreaterThan(b.max)
}

// intColumn reports whether e is a column of an integer type, and that type's range.
func intColumn(e sql.Expression) (sql.Expression, intBounds, bool) {
	gf, ok := e.(*expression.GetField)
	if !ok {
		return nil, intBounds{}, false
	}
	b, ok := intTypeBounds(gf.Type())
	return gf, b, ok
}

// intTypeBounds returns the range of t if it is an integer type.
func intTypeBounds(t sql.Type) (intBounds, bool) {
	lo, hi, ok := intRange(t)
	if !ok {
		return intBounds{}, false
	}
	return intBounds{decimal.NewFromInt(lo), uintDecimal(hi)}, true
}

// intRange returns the range of t, if it is an integer type: [lo, hi].
func intRange(t sql.Type) (lo int64, hi uint64, ok bool) {
	if !types.IsInteger(t) {
		return 0, 0, false
	}
	switch t.Type() {
	case sqltypes.Int8:
		return math.MinInt8, math.MaxInt8, true
	case sqltypes.Uint8:
		return 0, math.MaxUint8, true
	case sqltypes.Int16:
		return math.MinInt16, math.MaxInt16, true
	case sqltypes.Uint16:
		return 0, math.MaxUint16, true
	case sqltypes.Int24:
		return -1 << 23, 1<<23 - 1, true
	case sqltypes.Uint24:
		return 0, 1<<24 - 1, true
	case sqltypes.Int32:
		return math.MinInt32, math.MaxInt32, true
	case sqltypes.Uint32:
		return 0, math.MaxUint32, true
	case sqltypes.Int64:
		return math.MinInt64, math.MaxInt64, true
	case sqltypes.Uint64:
		return 0, math.MaxUint64, true
	}
	return 0, 0, false
}

// numericConst is a constant's numeric value, as MySQL compares it with an integer column.
// str is set when the constant is a string: GMS converts those to the column's type
// inexactly (a BIGINT UNSIGNED's 9223372036854775808 became 9223372036854775807), so they
// are always replaced by the integer they hold.
type numericConst struct {
	d   decimal.Decimal
	str bool
}

// exact reports whether GMS compares the constant faithfully with an integer column that
// holds its value.
func (v numericConst) exact() bool { return !v.str }

func (v numericConst) integral() bool { return v.d.Equal(v.d.Truncate(0)) }

// constValue evaluates e, a constant (a literal, or a sign applied to one), to the number
// an integer column is compared with. A string counts only when it is a number in full
// (surrounding spaces aside).
func constValue(ctx *sql.Context, e sql.Expression) (numericConst, bool) {
	switch e := e.(type) {
	case *expression.Literal:
	case *expression.UnaryMinus:
		if _, ok := e.Child.(*expression.Literal); !ok {
			return numericConst{}, false
		}
	default:
		return numericConst{}, false
	}
	v, err := e.Eval(ctx, nil)
	if err != nil {
		return numericConst{}, false
	}
	return numericOf(v)
}

// numericOf returns v's numeric value, when v is a number or a string that is one in full.
func numericOf(v any) (numericConst, bool) {
	switch v := v.(type) {
	case int8:
		return numericConst{d: decimal.NewFromInt(int64(v))}, true
	case int16:
		return numericConst{d: decimal.NewFromInt(int64(v))}, true
	case int32:
		return numericConst{d: decimal.NewFromInt(int64(v))}, true
	case int64:
		return numericConst{d: decimal.NewFromInt(v)}, true
	case int:
		return numericConst{d: decimal.NewFromInt(int64(v))}, true
	case uint8:
		return numericConst{d: decimal.NewFromInt(int64(v))}, true
	case uint16:
		return numericConst{d: decimal.NewFromInt(int64(v))}, true
	case uint32:
		return numericConst{d: decimal.NewFromInt(int64(v))}, true
	case uint64:
		return numericConst{d: uintDecimal(v)}, true
	case uint:
		return numericConst{d: uintDecimal(uint64(v))}, true
	case float32:
		return floatConst(float64(v))
	case float64:
		return floatConst(v)
	case decimal.Decimal:
		return numericConst{d: v}, true
	case decimal.NullDecimal:
		if v.Valid {
			return numericConst{d: v.Decimal}, true
		}
	case string:
		d, err := decimal.NewFromString(strings.TrimSpace(v))
		if err != nil {
			return numericConst{}, false
		}
		return numericConst{d: d, str: true}, true
	}
	return numericConst{}, false
}

func uintDecimal(u uint64) decimal.Decimal {
	return decimal.NewFromBigInt(new(big.Int).SetUint64(u), 0)
}

func floatConst(f float64) (numericConst, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return numericConst{}, false
	}
	return numericConst{d: decimal.NewFromFloat(f)}, true
}

// intKey returns the value to give the index builder for v, a value an index lookup on a
// column of type t is built for: v itself for other types and for numbers within an integer
// type's range (the builder rounds fractions), the number a string holds in full, and false
// for a value beyond the range or a string that is not a number, which the builder would
// convert wrongly.
func intKey(t sql.Type, v any) (any, bool) {
	if t == nil || v == nil {
		return v, true
	}
	if isStringType(t) {
		_, isString := v.(string)
		_, isBytes := v.([]byte)
		return v, isString || isBytes // a number: see unindexedStringComparison
	}
	lo, hi, ok := intRange(t)
	if !ok {
		return v, true
	}
	if i, ok := v.(int64); ok { // the common case, without decimals
		return v, i >= lo && (i < 0 || uint64(i) <= hi)
	}
	b := intBounds{decimal.NewFromInt(lo), uintDecimal(hi)}
	n, ok := numericOf(v)
	if !ok || n.d.LessThan(b.min) || n.d.GreaterThan(b.max) {
		return nil, false
	}
	if !n.str {
		return v, true
	}
	if !n.integral() {
		return n.d, true
	}
	if n.d.Sign() < 0 {
		return n.d.IntPart(), true
	}
	return n.d.BigInt().Uint64(), true
}
