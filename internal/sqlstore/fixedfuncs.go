package sqlstore

import (
	"cmp"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
	"github.com/shopspring/decimal"
)

// Built-in functions whose GMS versions give wrong answers, served by the store
// (Store.Function) in their place:
//
//   - GREATEST and LEAST failed on a DECIMAL ("unsupported type"), compared a DECIMAL with
//     an integer as integers, and strings by their bytes: greatestLeast compares as MySQL
//     does (Item_func_min_max): integers as integers, integers and DECIMALs as DECIMAL, any
//     DOUBLE as DOUBLE, strings (and dates beside strings, which GMS compared as the number
//     0) as strings in their collation; dates and times alone, and numbers beside strings,
//     are left to GMS;
//   - WEEK(NULL) and WEEK of an invalid date failed with "invalid year" (MySQL: NULL);
//   - STR_TO_DATE(NULL, f) failed with "invalid type: <nil>" (MySQL: NULL);
//   - TIME_TO_SEC read its argument as a DATETIME, so TIME_TO_SEC('00:01:01') failed with
//     1292 (MySQL: 61); it reads a TIME, negative or past 24 hours, and returns BIGINT;
//   - ROUND of a DOUBLE rounded halves away from zero (ROUND(2.5e0) was 3); MySQL rounds a
//     DOUBLE with rint(), to even (2), and a DECIMAL away from zero, as before; ROUND of a
//     DECIMAL to fewer digits kept the argument's scale (ROUND(12.50, 1) showed 12.50);
//   - CONCAT and CONCAT_WS were typed LONGTEXT in the default binary collation, so ORDER BY,
//     GROUP BY and DISTINCT over them compared bytes ('apple5' sorted after 'Banana-3');
//     they are typed in the collation MySQL derives from their arguments (which GMS already
//     reports as their coercibility);
//   - INSTR compared characters exactly whatever the collation (INSTR('ABC', 'b') was 0;
//     MySQL under utf8mb4_0900_ai_ci: 2) and LOCATE ignored case even under a _bin collation
//     and counted bytes, not characters (LOCATE('b', 'áb') was 3): both now compare in the
//     collation MySQL derives from their arguments and count characters.
//
// TIMESTAMPDIFF is built by GMS's planner directly, not looked up: see timestampdiff.go.

// fixedFunction is the sql.Function the store serves for name, if it is a MySQL built-in
// function whose GMS version gives a wrong answer.
func fixedFunction(name string) (sql.Function, bool) {
	switch name = strings.ToLower(name); name {
	case "greatest", "least":
		greatest := name == "greatest"
		return sql.FunctionN{Name: name, Fn: func(args ...sql.Expression) (sql.Expression, error) {
			return newGreatestLeast(greatest, args)
		}}, true
	case "week":
		return sql.FunctionN{Name: name, Fn: func(args ...sql.Expression) (sql.Expression, error) {
			e, err := function.NewWeek(args...)
			if err != nil {
				return nil, err
			}
			return &nullIn{Expression: e, args: 1, invalidIsNull: true}, nil
		}}, true
	case "str_to_date":
		return sql.Function2{Name: name, Fn: func(a, b sql.Expression) sql.Expression {
			return &nullIn{Expression: function.NewStrToDate(a, b), args: 2}
		}}, true
	case "time_to_sec":
		return sql.Function1{Name: name, Fn: func(e sql.Expression) sql.Expression {
			return &timeToSec{arg: e}
		}}, true
	case "round":
		return sql.FunctionN{Name: name, Fn: func(args ...sql.Expression) (sql.Expression, error) {
			r, err := function.NewRound(args...)
			if err != nil {
				return nil, err
			}
			return &doubleRound{Expression: r, args: args}, nil
		}}, true
	case "concat", "concat_ws":
		return sql.FunctionN{Name: name, Fn: func(args ...sql.Expression) (sql.Expression, error) {
			var e sql.Expression
			var err error
			if name == "concat" {
				e, err = function.NewConcat(args...)
			} else {
				e, err = function.NewConcatWithSeparator(args...)
			}
			if err != nil {
				return nil, err
			}
			return &collatedConcat{Expression: e}, nil
		}}, true
	case "instr":
		return sql.Function2{Name: name, Fn: func(str, substr sql.Expression) sql.Expression {
			return &locate{name: name, str: str, substr: substr}
		}}, true
	case "locate":
		return sql.FunctionN{Name: name, Fn: func(args ...sql.Expression) (sql.Expression, error) {
			if len(args) < 2 || len(args) > 3 {
				return nil, sql.ErrInvalidArgumentNumber.New("LOCATE", "2 or 3", len(args))
			}
			l := &locate{name: name, substr: args[0], str: args[1]}
			if len(args) == 3 {
				l.pos = args[2]
			}
			return l, nil
		}}, true
	}
	return nil, false
}

// nullIn is a GMS function that is NULL when one of its first args arguments is, without
// evaluating it (GMS's fails on a NULL); with invalidIsNull, also when GMS finds an argument
// invalid (sql.ErrInvalidArgumentDetails), as MySQL returns NULL with a warning.
type nullIn struct {
	sql.Expression
	args          int
	invalidIsNull bool
}

var _ sql.FunctionExpression = (*nullIn)(nil)

// Eval implements sql.Expression.
func (n *nullIn) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	for i, c := range n.Expression.Children() {
		if i >= n.args {
			break
		}
		v, err := c.Eval(ctx, row)
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, nil
		}
	}
	v, err := n.Expression.Eval(ctx, row)
	if err != nil && n.invalidIsNull && sql.ErrInvalidArgumentDetails.Is(err) {
		ctx.Warn(1292, "%s", err.Error())
		return nil, nil
	}
	return v, err
}

// IsNullable implements sql.Expression.
func (n *nullIn) IsNullable() bool { return true }

// WithChildren implements sql.Expression.
func (n *nullIn) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	e, err := n.Expression.WithChildren(children...)
	if err != nil {
		return nil, err
	}
	return &nullIn{Expression: e, args: n.args, invalidIsNull: n.invalidIsNull}, nil
}

// FunctionName implements sql.FunctionExpression.
func (n *nullIn) FunctionName() string { return n.Expression.(sql.FunctionExpression).FunctionName() }

// Description implements sql.FunctionExpression.
func (n *nullIn) Description() string { return n.Expression.(sql.FunctionExpression).Description() }

// timeToSec is TIME_TO_SEC: the seconds of a TIME (a DATETIME's time of day).
type timeToSec struct{ arg sql.Expression }

var _ sql.FunctionExpression = (*timeToSec)(nil)

func (t *timeToSec) Resolved() bool             { return t.arg.Resolved() }
func (t *timeToSec) IsNullable() bool           { return true }
func (t *timeToSec) Type() sql.Type             { return types.Int64 }
func (t *timeToSec) Children() []sql.Expression { return []sql.Expression{t.arg} }
func (t *timeToSec) String() string             { return fmt.Sprintf("time_to_sec(%s)", t.arg) }
func (t *timeToSec) FunctionName() string       { return "time_to_sec" }
func (t *timeToSec) Description() string        { return "returns the argument converted to seconds." }
func (t *timeToSec) CollationCoercibility(*sql.Context) (sql.CollationID, byte) {
	return sql.Collation_binary, 5
}

// WithChildren implements sql.Expression.
func (t *timeToSec) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(t, len(children), 1)
	}
	return &timeToSec{arg: children[0]}, nil
}

// Eval implements sql.Expression.
func (t *timeToSec) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := t.arg.Eval(ctx, row)
	if err != nil || v == nil {
		return nil, err
	}
	if tm, ok := v.(time.Time); ok {
		return int64(tm.Hour()*3600 + tm.Minute()*60 + tm.Second()), nil
	}
	if d, err := types.Time.ConvertToTimeDuration(v); err == nil {
		return int64(d / time.Second), nil
	}
	if dt, _, err := types.DatetimeMaxPrecision.Convert(ctx, v); err == nil {
		if tm, ok := dt.(time.Time); ok {
			return int64(tm.Hour()*3600 + tm.Minute()*60 + tm.Second()), nil
		}
	}
	ctx.Warn(1292, "Truncated incorrect time value: '%v'", v)
	return nil, nil
}

// minMaxClass is how GREATEST and LEAST compare their arguments.
type minMaxClass uint8

const (
	minMaxGMS      minMaxClass = iota // dates and times: GMS's own comparison
	minMaxSigned                      // every argument an integer
	minMaxUnsigned                    // every argument an unsigned integer
	minMaxDecimal                     // integers and DECIMALs
	minMaxDouble                      // a DOUBLE among numbers
	minMaxString                      // every argument a string
)

// greatestLeast is GREATEST or LEAST with MySQL's comparisons (see fixedFunction).
type greatestLeast struct {
	greatest bool
	args     []sql.Expression
	gms      sql.Expression // GMS's version, for dates and times
}

var _ sql.FunctionExpression = (*greatestLeast)(nil)

func newGreatestLeast(greatest bool, args []sql.Expression) (sql.Expression, error) {
	var gms sql.Expression
	var err error
	if greatest {
		gms, err = function.NewGreatest(args...)
	} else {
		gms, err = function.NewLeast(args...)
	}
	if err != nil {
		return nil, err
	}
	return &greatestLeast{greatest: greatest, args: args, gms: gms}, nil
}

// class returns how the arguments compare, and for DECIMAL the result's type.
func (g *greatestLeast) class() (minMaxClass, sql.Type) {
	var ints, uints, decimals, floats, strs, temporals, others int
	intDigits, scale := 0, 0
	for _, a := range g.args {
		t := a.Type()
		switch {
		case t == types.Null:
			continue
		case types.IsDecimal(t):
			decimals++
			dt := t.(sql.DecimalType)
			intDigits = max(intDigits, int(dt.Precision())-int(dt.Scale()))
			scale = max(scale, int(dt.Scale()))
		case types.IsUnsigned(t):
			uints++
			intDigits = max(intDigits, integerDigits(t))
		case types.IsInteger(t):
			ints++
			intDigits = max(intDigits, integerDigits(t))
		case types.IsFloat(t):
			floats++
		case types.IsText(t):
			strs++
		case types.IsTime(t) || types.IsTimespan(t):
			temporals++
		default:
			others++
		}
	}
	nums := ints + uints + decimals + floats
	switch {
	case others > 0 || nums+strs == 0 || temporals > 0 && nums > 0 || strs > 0 && nums > 0:
		return minMaxGMS, nil
	case strs > 0 && nums == 0: // strings, or dates and times beside strings: as strings
		return minMaxString, types.LongText
	case floats > 0:
		return minMaxDouble, types.Float64
	case decimals == 0 && uints == 0:
		return minMaxSigned, types.Int64
	case decimals == 0 && ints == 0:
		return minMaxUnsigned, types.Uint64
	}
	p := min(intDigits+scale, 65)
	return minMaxDecimal, types.MustCreateDecimalType(uint8(p), uint8(min(scale, p)))
}

// Type implements sql.Expression.
func (g *greatestLeast) Type() sql.Type {
	c, t := g.class()
	switch c {
	case minMaxGMS:
		return g.gms.Type()
	case minMaxString:
		return types.MustCreateString(types.LongText.Type(), types.LongText.MaxCharacterLength(), g.collation())
	}
	return t
}

// collation is the collation strings compare in: MySQL's, derived from every argument.
func (g *greatestLeast) collation() sql.CollationID {
	ctx := sql.NewEmptyContext()
	var coll sql.CollationID
	var coer byte = 7
	for i, a := range g.args {
		c, k := sql.GetCoercibility(ctx, a)
		if i == 0 {
			coll, coer = c, k
			continue
		}
		coll, coer = sql.ResolveCoercibility(coll, coer, c, k)
	}
	if coll == sql.Collation_Unspecified {
		return sql.Collation_Default
	}
	return coll
}

// Eval implements sql.Expression.
func (g *greatestLeast) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	c, typ := g.class()
	if c == minMaxGMS {
		return g.gms.Eval(ctx, row)
	}
	var st sql.StringType
	if c == minMaxString {
		st = g.Type().(sql.StringType)
	}
	var best any
	for _, a := range g.args {
		v, err := a.Eval(ctx, row)
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, nil // any NULL argument makes the result NULL
		}
		var x any
		switch c {
		case minMaxString:
			if at := a.Type(); types.IsTime(at) || types.IsTimespan(at) {
				sv, err := at.SQL(ctx, nil, v) // a date as MySQL writes it
				if err != nil {
					return nil, err
				}
				v = sv.ToString()
			}
			s, _, err := types.LongText.Convert(ctx, v)
			if err != nil {
				return nil, err
			}
			x, _, err = sql.Unwrap[string](ctx, s)
			if err != nil {
				return nil, err
			}
		case minMaxDouble:
			f, _, err := types.Float64.Convert(ctx, v)
			if err != nil {
				return nil, err
			}
			x = f
		default:
			var err error
			x, _, err = typ.Convert(ctx, v)
			if err != nil {
				return nil, err
			}
		}
		if best == nil || g.better(ctx, c, st, x, best) {
			best = x
		}
	}
	if dt, ok := typ.(sql.DecimalType); ok && c == minMaxDecimal {
		return best.(decimal.Decimal).Round(int32(dt.Scale())), nil // printed with the type's scale
	}
	return best, nil
}

// better reports whether x should replace best.
func (g *greatestLeast) better(ctx *sql.Context, c minMaxClass, st sql.StringType, x, best any) bool {
	var order int
	switch c {
	case minMaxString:
		var err error
		if order, err = st.Compare(ctx, x, best); err != nil {
			return false
		}
	case minMaxDouble:
		order = cmp.Compare(x.(float64), best.(float64))
	case minMaxSigned:
		order = cmp.Compare(x.(int64), best.(int64))
	case minMaxUnsigned:
		order = cmp.Compare(x.(uint64), best.(uint64))
	case minMaxDecimal:
		order = x.(decimal.Decimal).Cmp(best.(decimal.Decimal))
	}
	if g.greatest {
		return order > 0
	}
	return order < 0
}

// integerDigits is the number of decimal digits an integer type's values can have.
func integerDigits(t sql.Type) int {
	switch t.Type() {
	case sqltypes.Int8, sqltypes.Uint8:
		return 3
	case sqltypes.Int16, sqltypes.Uint16:
		return 5
	case sqltypes.Int24, sqltypes.Uint24:
		return 8
	case sqltypes.Int32, sqltypes.Uint32:
		return 10
	case sqltypes.Int64:
		return 19
	}
	return 20
}

func (g *greatestLeast) Resolved() bool {
	for _, a := range g.args {
		if !a.Resolved() {
			return false
		}
	}
	return true
}

func (g *greatestLeast) IsNullable() bool           { return true }
func (g *greatestLeast) Children() []sql.Expression { return g.args }
func (g *greatestLeast) FunctionName() string {
	if g.greatest {
		return "greatest"
	}
	return "least"
}
func (g *greatestLeast) Description() string { return g.gms.(sql.FunctionExpression).Description() }

func (g *greatestLeast) String() string {
	parts := make([]string, len(g.args))
	for i, a := range g.args {
		parts[i] = a.String()
	}
	return fmt.Sprintf("%s(%s)", g.FunctionName(), strings.Join(parts, ","))
}

// CollationCoercibility implements sql.CollationCoercible.
func (g *greatestLeast) CollationCoercibility(ctx *sql.Context) (sql.CollationID, byte) {
	if c, _ := g.class(); c == minMaxString {
		return g.collation(), 2
	}
	return sql.Collation_binary, 5
}

// WithChildren implements sql.Expression.
func (g *greatestLeast) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	return newGreatestLeast(g.greatest, children)
}

// doubleRound is ROUND: GMS's for exact values, MySQL's my_double_round for a DOUBLE or FLOAT:
// the value scaled by 10^d, rounded half to even (rint), and scaled back.
type doubleRound struct {
	sql.Expression // GMS's Round
	args           []sql.Expression
}

var _ sql.FunctionExpression = (*doubleRound)(nil)

// Eval implements sql.Expression.
func (r *doubleRound) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	if !types.IsFloat(r.args[0].Type()) {
		return r.Expression.Eval(ctx, row)
	}
	v, err := r.args[0].Eval(ctx, row)
	if err != nil || v == nil {
		return nil, err
	}
	f, _, err := types.Float64.Convert(ctx, v)
	if err != nil {
		return nil, err
	}
	d := int64(0)
	if len(r.args) > 1 {
		dv, err := r.args[1].Eval(ctx, row)
		if err != nil || dv == nil {
			return nil, err
		}
		n, _, err := types.Int64.Convert(ctx, dv)
		if err != nil {
			return nil, err
		}
		d = n.(int64)
	}
	x := f.(float64)
	scale := math.Pow(10, math.Abs(float64(d)))
	switch {
	case d < 0 && math.IsInf(scale, 0):
		return 0.0, nil
	case d < 0:
		return math.RoundToEven(x/scale) * scale, nil
	case math.IsInf(x*scale, 0) || math.IsNaN(x*scale):
		return x, nil
	}
	return math.RoundToEven(x*scale) / scale, nil
}

// Type implements sql.Expression: ROUND of a DECIMAL to fewer digits than its scale has the
// digits it rounds to (ROUND(12.50, 1) is 12.5; GMS kept the argument's scale, 12.50).
func (r *doubleRound) Type() sql.Type {
	t := r.Expression.Type()
	dt, ok := r.args[0].Type().(sql.DecimalType)
	if !ok || !types.IsDecimal(dt) {
		return t
	}
	d := int64(0)
	if len(r.args) > 1 {
		lit, ok := r.args[1].(*expression.Literal)
		if !ok || lit.Value() == nil {
			return t
		}
		n, _, err := types.Int64.Convert(sql.NewEmptyContext(), lit.Value())
		if err != nil {
			return t
		}
		d = max(n.(int64), 0)
	}
	if d >= int64(dt.Scale()) {
		return t
	}
	prec := max(int64(dt.Precision())-int64(dt.Scale())+d, 1)
	return types.MustCreateDecimalType(uint8(prec), uint8(d))
}

// WithChildren implements sql.Expression.
func (r *doubleRound) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	e, err := r.Expression.WithChildren(children...)
	if err != nil {
		return nil, err
	}
	return &doubleRound{Expression: e, args: children}, nil
}

// FunctionName implements sql.FunctionExpression.
func (r *doubleRound) FunctionName() string { return "round" }

// Description implements sql.FunctionExpression.
func (r *doubleRound) Description() string {
	return r.Expression.(sql.FunctionExpression).Description()
}

// collatedConcat is CONCAT or CONCAT_WS typed in its arguments' collation.
type collatedConcat struct{ sql.Expression }

var _ sql.FunctionExpression = (*collatedConcat)(nil)

// Type implements sql.Expression.
func (c *collatedConcat) Type() sql.Type {
	t := c.Expression.Type()
	coll, coer := c.Expression.(sql.CollationCoercible).CollationCoercibility(sql.NewEmptyContext())
	st, ok := t.(sql.StringType)
	if !ok || coer >= 6 || coll == sql.Collation_Unspecified || coll == sql.Collation_binary || coll == st.Collation() {
		return t
	}
	if coll.CharacterSet() != st.Collation().CharacterSet() {
		return t // another character set: the values are not in it
	}
	return types.MustCreateString(st.Type(), st.MaxCharacterLength(), coll)
}

// WithChildren implements sql.Expression.
func (c *collatedConcat) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	e, err := c.Expression.WithChildren(children...)
	if err != nil {
		return nil, err
	}
	return &collatedConcat{Expression: e}, nil
}

// FunctionName implements sql.FunctionExpression.
func (c *collatedConcat) FunctionName() string {
	return c.Expression.(sql.FunctionExpression).FunctionName()
}

// Description implements sql.FunctionExpression.
func (c *collatedConcat) Description() string {
	return c.Expression.(sql.FunctionExpression).Description()
}
