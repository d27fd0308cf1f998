package sqlstore

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function/aggregation"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
	"github.com/shopspring/decimal"
)

// SUM and AVG with MySQL's types.
//
// GMS adds every non-DECIMAL value as a float64, so SUM(2000000) prints 2e+06 and a BIGINT
// sum past 2^53 is rounded, and its planner gives both functions the type DOUBLE whatever
// they sum, so a DECIMAL(10,2) sum loses its scale. MySQL (Item_sum_sum::resolve_type,
// Item_sum_avg::resolve_type) sums exact values exactly:
//
//   - integers, DECIMAL and temporal values without fractional seconds give a DECIMAL of the
//     argument's precision plus 22 (SUM) or plus div_precision_increment (AVG), at most 65,
//     and the argument's scale (SUM) or that scale plus div_precision_increment (AVG), at
//     most 30;
//   - FLOAT, DOUBLE, strings and everything else give a DOUBLE.
//
// The store serves these two functions (Store.Function, which GMS consults before its own
// registry); retypeNumericAggs then gives the planner's references to them their type.

const (
	// decimalLonglongDigits is what MySQL adds to an exact argument's precision for SUM.
	decimalLonglongDigits = 22
	// divPrecisionIncrement is MySQL's default div_precision_increment, the digits AVG adds.
	divPrecisionIncrement = 4
	maxDecimalPrecision   = 65
	maxDecimalScale       = 30
)

// numericAggKind says which of the two functions a numericAgg is.
type numericAggKind uint8

const (
	aggSum numericAggKind = iota
	aggAvg
)

func (k numericAggKind) name() string {
	if k == aggAvg {
		return "avg"
	}
	return "sum"
}

// numericAgg is SUM or AVG over one argument, typed as MySQL types it.
type numericAgg struct {
	kind   numericAggKind
	child  sql.Expression
	window *sql.WindowDefinition
	id     sql.ColumnId
}

var (
	_ sql.Aggregation               = (*numericAgg)(nil)
	_ sql.FunctionExpression        = (*numericAgg)(nil)
	_ sql.CollationCoercible        = (*numericAgg)(nil)
	_ sql.WindowAdaptableExpression = (*numericAgg)(nil)
)

// numericAggFunction is the sql.Function the store serves for name, if it is SUM or AVG.
func numericAggFunction(name string) (sql.Function, bool) {
	var kind numericAggKind
	switch strings.ToLower(name) {
	case "sum":
		kind = aggSum
	case "avg":
		kind = aggAvg
	default:
		return nil, false
	}
	return sql.Function1{Name: kind.name(), Fn: func(e sql.Expression) sql.Expression {
		return &numericAgg{kind: kind, child: e}
	}}, true
}

// exactArg is how an aggregate's argument is summed.
type exactArg struct {
	exact     bool // summed as a decimal
	precision int  // decimal digits of the argument, when exact
	scale     int
	temporal  bool // a DATE, DATETIME, TIMESTAMP or TIME, summed as its number (20240131)
}

// argKind classifies t as MySQL's numeric_context_result_type does.
func argKind(t sql.Type) exactArg {
	switch t.Type() {
	case sqltypes.Int8, sqltypes.Uint8:
		return exactArg{exact: true, precision: 3}
	case sqltypes.Int16, sqltypes.Uint16:
		return exactArg{exact: true, precision: 5}
	case sqltypes.Int24, sqltypes.Uint24:
		return exactArg{exact: true, precision: 8}
	case sqltypes.Int32, sqltypes.Uint32:
		return exactArg{exact: true, precision: 10}
	case sqltypes.Int64:
		return exactArg{exact: true, precision: 19}
	case sqltypes.Uint64, sqltypes.Bit:
		return exactArg{exact: true, precision: 20}
	case sqltypes.Year:
		return exactArg{exact: true, precision: 4}
	case sqltypes.Decimal:
		if dt, ok := t.(sql.DecimalType); ok {
			return exactArg{exact: true, precision: int(dt.Precision()), scale: int(dt.Scale())}
		}
		return exactArg{exact: true, precision: maxDecimalPrecision, scale: maxDecimalScale}
	case sqltypes.Date:
		return exactArg{exact: true, precision: 8, temporal: true}
	case sqltypes.Datetime, sqltypes.Timestamp:
		fsp := fractionDigits(t)
		return exactArg{exact: true, precision: 14 + fsp, scale: fsp, temporal: true}
	case sqltypes.Time:
		fsp := fractionDigits(t)
		return exactArg{exact: true, precision: 7 + fsp, scale: fsp, temporal: true}
	}
	return exactArg{}
}

// fractionDigits is a temporal type's fractional-second precision.
func fractionDigits(t sql.Type) int {
	if dt, ok := t.(sql.DatetimeType); ok {
		return dt.Precision()
	}
	if tt, ok := t.(interface{ Precision() int }); ok {
		return tt.Precision()
	}
	return 0
}

// resultType is the function's type for an argument of type t.
func (k numericAggKind) resultType(t sql.Type) sql.Type {
	a := argKind(t)
	if !a.exact {
		return types.Float64
	}
	prec, scale := a.precision, a.scale
	if k == aggSum {
		prec += decimalLonglongDigits
	} else {
		prec += divPrecisionIncrement
		scale += divPrecisionIncrement
	}
	prec, scale = min(prec, maxDecimalPrecision), min(scale, maxDecimalScale)
	return types.MustCreateDecimalType(uint8(prec), uint8(scale))
}

// Type implements sql.Expression.
func (a *numericAgg) Type() sql.Type { return a.kind.resultType(a.child.Type()) }

// IsNullable implements sql.Expression: both are NULL over no rows (or only NULLs).
func (a *numericAgg) IsNullable() bool { return true }

// Resolved implements sql.Expression.
func (a *numericAgg) Resolved() bool {
	if !a.child.Resolved() {
		return false
	}
	if a.window == nil {
		return true
	}
	return expression.ExpressionsResolved(append(a.window.OrderBy.ToExpressions(), a.window.PartitionBy...)...)
}

// String implements sql.Expression, as GMS prints its own SUM and AVG (the planner names
// columns and matches repeated aggregates by this text).
func (a *numericAgg) String() string {
	name := strings.ToUpper(a.kind.name())
	if a.window != nil {
		pr := sql.NewTreePrinter()
		_ = pr.WriteNode("%s", name)
		_ = pr.WriteChildren(a.window.String(), a.child.String())
		return pr.String()
	}
	return fmt.Sprintf("%s(%s)", name, a.child)
}

// Children implements sql.Expression.
func (a *numericAgg) Children() []sql.Expression {
	children := []sql.Expression{a.child}
	if a.window != nil {
		children = append(children, a.window.ToExpressions()...)
	}
	return children
}

// WithChildren implements sql.Expression.
func (a *numericAgg) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) < 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(a, len(children), 1)
	}
	na := *a
	na.child = children[0]
	if len(children) > 1 && a.window != nil {
		w, err := a.window.FromExpressions(children[1:])
		if err != nil {
			return nil, err
		}
		na.window = w
	}
	return &na, nil
}

// Eval implements sql.Expression: an aggregate is evaluated through its buffer.
func (a *numericAgg) Eval(*sql.Context, sql.Row) (any, error) {
	return nil, aggregation.ErrEvalUnsupportedOnAggregation.New(a.FunctionName())
}

// FunctionName implements sql.FunctionExpression.
func (a *numericAgg) FunctionName() string { return a.kind.name() }

// Description implements sql.FunctionExpression.
func (a *numericAgg) Description() string {
	if a.kind == aggAvg {
		return "returns the average value of expr in all rows."
	}
	return "returns the sum of expr in all rows"
}

// CollationCoercibility implements sql.CollationCoercible: a number.
func (a *numericAgg) CollationCoercibility(*sql.Context) (sql.CollationID, byte) {
	return sql.Collation_binary, 5
}

// Id implements sql.IdExpression.
func (a *numericAgg) Id() sql.ColumnId { return a.id }

// WithId implements sql.IdExpression.
func (a *numericAgg) WithId(id sql.ColumnId) sql.IdExpression {
	na := *a
	na.id = id
	return &na
}

// Window implements sql.WindowAdaptableExpression.
func (a *numericAgg) Window() *sql.WindowDefinition { return a.window }

// WithWindow implements sql.WindowAdaptableExpression.
func (a *numericAgg) WithWindow(w *sql.WindowDefinition) sql.WindowAdaptableExpression {
	na := *a
	na.window = w
	return &na
}

// NewBuffer implements sql.Aggregation.
func (a *numericAgg) NewBuffer() (sql.AggregationBuffer, error) {
	child, err := transform.Clone(a.child)
	if err != nil {
		return nil, err
	}
	return &numericBuffer{kind: a.kind, expr: child, arg: argKind(a.child.Type()), typ: a.Type()}, nil
}

// NewWindowFunction implements sql.WindowAdaptableExpression.
func (a *numericAgg) NewWindowFunction() (sql.WindowFunction, error) {
	child, err := transform.Clone(a.child)
	if err != nil {
		return nil, err
	}
	f := &numericWindow{kind: a.kind, expr: child, arg: argKind(a.child.Type()), typ: a.Type()}
	if w := a.window; w != nil && w.Frame != nil {
		framer, err := w.Frame.NewFramer(w)
		if err != nil {
			return nil, err
		}
		f.framer = framer
	}
	return f, nil
}

// total is a running sum: a decimal for exact arguments, a float64 otherwise.
type total struct {
	dec   decimal.Decimal
	float float64
	n     int64 // values added (NULLs are skipped)
}

// add adds v (not NULL) to t.
func (t *total) add(ctx *sql.Context, arg exactArg, v any) error {
	if arg.exact {
		d, err := exactValue(ctx, arg, v)
		if err != nil {
			return err
		}
		t.dec = t.dec.Add(d)
	} else {
		t.float += floatValue(ctx, v)
	}
	t.n++
	return nil
}

// minus is t - u, for window frames computed from prefix totals.
func (t total) minus(u total) total {
	return total{dec: t.dec.Sub(u.dec), float: t.float - u.float, n: t.n - u.n}
}

// result is the function's value over the values in t.
func (t total) result(kind numericAggKind, arg exactArg, typ sql.Type) any {
	if t.n == 0 {
		return nil
	}
	if !arg.exact {
		if kind == aggAvg {
			return t.float / float64(t.n)
		}
		return t.float
	}
	if kind == aggAvg {
		scale := int32(0)
		if dt, ok := typ.(sql.DecimalType); ok {
			scale = int32(dt.Scale())
		}
		return t.dec.DivRound(decimal.NewFromInt(t.n), scale)
	}
	return t.dec
}

// exactValue is v as a decimal, as MySQL reads an exact or temporal value in a numeric
// context.
func exactValue(ctx *sql.Context, arg exactArg, v any) (decimal.Decimal, error) {
	switch n := v.(type) {
	case decimal.Decimal:
		return n, nil
	case decimal.NullDecimal:
		return n.Decimal, nil
	case int8:
		return decimal.NewFromInt(int64(n)), nil
	case int16:
		return decimal.NewFromInt(int64(n)), nil
	case int32:
		return decimal.NewFromInt(int64(n)), nil
	case int64:
		return decimal.NewFromInt(n), nil
	case int:
		return decimal.NewFromInt(int64(n)), nil
	case uint8:
		return decimal.NewFromInt(int64(n)), nil
	case uint16:
		return decimal.NewFromInt(int64(n)), nil
	case uint32:
		return decimal.NewFromInt(int64(n)), nil
	case uint64:
		return decimal.NewFromBigInt(new(big.Int).SetUint64(n), 0), nil
	case uint:
		return decimal.NewFromBigInt(new(big.Int).SetUint64(uint64(n)), 0), nil
	case time.Time:
		return temporalNumber(n, arg), nil
	case types.Timespan:
		return timeNumber(n.String())
	}
	d, _, err := types.InternalDecimalType.Convert(ctx, v)
	if err != nil {
		return decimal.Zero, err
	}
	return d.(decimal.Decimal), nil
}

// temporalNumber is a DATE, DATETIME or TIMESTAMP in a numeric context: 20240131 or
// 20240131235959[.ffffff].
func temporalNumber(t time.Time, arg exactArg) decimal.Decimal {
	date := int64(t.Year())*10000 + int64(t.Month())*100 + int64(t.Day())
	if arg.precision == 8 { // DATE
		return decimal.NewFromInt(date)
	}
	n := decimal.NewFromInt(date*1000000 + int64(t.Hour())*10000 + int64(t.Minute())*100 + int64(t.Second()))
	if arg.scale > 0 {
		frac := decimal.New(int64(t.Nanosecond()/1000), -6).Truncate(int32(arg.scale))
		n = n.Add(frac)
	}
	return n
}

// timeNumber is a TIME ('-838:59:59.000000') in a numeric context: -8385959.000000.
func timeNumber(s string) (decimal.Decimal, error) {
	return decimal.NewFromString(strings.ReplaceAll(s, ":", ""))
}

// floatValue is v as a DOUBLE, as MySQL reads it in a numeric context: a string by its
// longest numeric prefix ('3abc' is 3, 'x' is 0).
func floatValue(ctx *sql.Context, v any) float64 {
	if s, ok := v.(string); ok {
		return numericPrefix(s)
	}
	if b, ok := v.([]byte); ok {
		return numericPrefix(string(b))
	}
	f, _, err := types.Float64.Convert(ctx, v)
	if err != nil {
		return 0
	}
	if x, ok := f.(float64); ok {
		return x
	}
	return 0
}

// numericPrefix parses the longest prefix of s that is a number, after leading spaces
// (numberPrefix, missingfuncs.go); 0 when there is none.
func numericPrefix(s string) float64 {
	f, _ := strconv.ParseFloat(strings.TrimSpace(numberPrefix.FindString(s)), 64)
	return f
}

// numericBuffer is one group's running SUM or AVG.
type numericBuffer struct {
	kind numericAggKind
	expr sql.Expression
	arg  exactArg
	typ  sql.Type
	t    total
}

// Update implements sql.AggregationBuffer.
func (b *numericBuffer) Update(ctx *sql.Context, row sql.Row) error {
	v, err := b.expr.Eval(ctx, row)
	if err != nil || v == nil {
		return err
	}
	return b.t.add(ctx, b.arg, v)
}

// Eval implements sql.AggregationBuffer.
func (b *numericBuffer) Eval(*sql.Context) (any, error) {
	return b.t.result(b.kind, b.arg, b.typ), nil
}

// Dispose implements sql.Disposable (a DISTINCT argument holds the values it has seen).
func (b *numericBuffer) Dispose() { expression.Dispose(b.expr) }

// numericWindow is SUM or AVG as a window function: prefix totals over the partition, so
// that any frame's value is a difference of two of them.
type numericWindow struct {
	kind           numericAggKind
	expr           sql.Expression
	arg            exactArg
	typ            sql.Type
	framer         sql.WindowFramer
	partitionStart int
	prefix         []total
}

// Dispose implements sql.Disposable.
func (w *numericWindow) Dispose() { expression.Dispose(w.expr) }

// DefaultFramer implements sql.WindowFunction.
func (w *numericWindow) DefaultFramer() sql.WindowFramer {
	if w.framer != nil {
		return w.framer
	}
	return aggregation.NewUnboundedPrecedingToCurrentRowFramer()
}

// StartPartition implements sql.WindowFunction.
func (w *numericWindow) StartPartition(ctx *sql.Context, interval sql.WindowInterval, buf sql.WindowBuffer) error {
	w.Dispose()
	w.partitionStart = interval.Start
	w.prefix = w.prefix[:0]
	var t total
	for i := interval.Start; i < interval.End; i++ {
		v, err := w.expr.Eval(ctx, buf[i])
		if err != nil {
			return err
		}
		if v != nil {
			if err := t.add(ctx, w.arg, v); err != nil {
				return err
			}
		}
		w.prefix = append(w.prefix, t)
	}
	return nil
}

// Compute implements sql.WindowFunction.
func (w *numericWindow) Compute(_ *sql.Context, interval sql.WindowInterval, _ sql.WindowBuffer) any {
	if interval.End-interval.Start < 1 {
		return nil
	}
	end := interval.End - w.partitionStart - 1
	start := interval.Start - w.partitionStart - 1
	if end < 0 || end >= len(w.prefix) {
		return nil
	}
	t := w.prefix[end]
	if start >= 0 {
		t = t.minus(w.prefix[start])
	}
	return t.result(w.kind, w.arg, w.typ)
}
