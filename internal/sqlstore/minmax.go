package sqlstore

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
	"github.com/shopspring/decimal"
)

// GREATEST and LEAST with MySQL's comparisons (fixedfuncs.go).

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
	plan     derived[minMaxPlan]
}

// minMaxPlan is how the arguments compare and the result's type.
type minMaxPlan struct {
	class minMaxClass
	typ   sql.Type
}

// compared returns how the arguments compare and the result's type (class, kept).
func (g *greatestLeast) compared() (minMaxClass, sql.Type) {
	p := g.plan.get(g.args, func() minMaxPlan {
		c, t := g.class()
		switch c {
		case minMaxGMS:
			t = g.gms.Type()
		case minMaxString:
			t = types.MustCreateString(types.LongText.Type(), types.LongText.MaxCharacterLength(), g.collation())
		}
		return minMaxPlan{c, t}
	})
	return p.class, p.typ
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
	var width decimalWidth
	for _, a := range g.args {
		t := a.Type()
		width.add(t)
		switch {
		case t == types.Null:
			continue
		case types.IsDecimal(t):
			decimals++
		case types.IsUnsigned(t):
			uints++
		case types.IsInteger(t):
			ints++
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
	return minMaxDecimal, width.decimalType()
}

// Type implements sql.Expression.
func (g *greatestLeast) Type() sql.Type {
	_, t := g.compared()
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
	c, typ := g.compared()
	if c == minMaxGMS {
		return g.gms.Eval(ctx, row)
	}
	st, _ := typ.(sql.StringType)
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

// decimalWidth gathers the integer digits and the scale a DECIMAL needs to hold the values
// of several integer and DECIMAL types, as MySQL aggregates numeric types.
type decimalWidth struct{ intDigits, scale int }

// add widens w for values of type t (other types add nothing).
func (w *decimalWidth) add(t sql.Type) {
	switch {
	case types.IsDecimal(t):
		dt := t.(sql.DecimalType)
		w.intDigits = max(w.intDigits, int(dt.Precision())-int(dt.Scale()))
		w.scale = max(w.scale, int(dt.Scale()))
	case types.IsInteger(t):
		w.intDigits = max(w.intDigits, integerDigits(t))
	}
}

// decimalType is the DECIMAL w describes, at most 65 digits.
func (w decimalWidth) decimalType() sql.Type {
	p := min(w.intDigits+w.scale, 65)
	return types.MustCreateDecimalType(uint8(max(p, 1)), uint8(min(w.scale, p)))
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
	if c, _ := g.compared(); c == minMaxString {
		return g.collation(), 2
	}
	return sql.Collation_binary, 5
}

// WithChildren implements sql.Expression.
func (g *greatestLeast) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	return newGreatestLeast(g.greatest, children)
}
