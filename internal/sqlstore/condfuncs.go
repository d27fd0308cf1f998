package sqlstore

import (
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/shopspring/decimal"
)

// IF, IFNULL and COALESCE over numbers of different types (fixedfuncs.go).
//
// GMS typed IF as its first branch and IFNULL as its first argument, so the other value was
// converted to that type on the way out: IF(i > 0, 1, 1.5) gave 2 for 1.5, IFNULL(n, 2.25)
// gave 2. MySQL types them by aggregating the types of the values they can return: integers
// give BIGINT, integers and DECIMALs a DECIMAL wide enough for both, a DOUBLE among them a
// DOUBLE. condValue gives these functions that type when every value they can return is a
// number (or NULL) and one is a DECIMAL or DOUBLE, and converts the value they return to it;
// otherwise GMS's type stands.

// condValue is IF, IFNULL or COALESCE typed as MySQL aggregates the types of its values.
type condValue struct {
	sql.Expression                         // GMS's function
	values         func() []sql.Expression // the expressions whose value it may return
	agg            derived[condType]
}

// condType is the aggregate type of a condValue's values, if ok.
type condType struct {
	typ sql.Type
	ok  bool
}

var _ sql.FunctionExpression = (*condValue)(nil)

// newCondValue wraps GMS's IF (values: its branches), IFNULL (both arguments) or COALESCE.
func newCondValue(name string, args []sql.Expression) (sql.Expression, error) {
	var e sql.Expression
	var err error
	switch name {
	case "if":
		if len(args) != 3 {
			return nil, sql.ErrInvalidArgumentNumber.New("IF", 3, len(args))
		}
		e = function.NewIf(args[0], args[1], args[2])
	case "ifnull":
		if len(args) != 2 {
			return nil, sql.ErrInvalidArgumentNumber.New("IFNULL", 2, len(args))
		}
		e = function.NewIfNull(args[0], args[1])
	default:
		if e, err = function.NewCoalesce(args...); err != nil {
			return nil, err
		}
	}
	return wrapCondValue(name, e), nil
}

// wrapCondValue wraps e, GMS's function name, reading its values from its children.
func wrapCondValue(name string, e sql.Expression) sql.Expression {
	c := &condValue{Expression: e}
	c.values = func() []sql.Expression {
		ch := c.Expression.Children()
		if name == "if" && len(ch) == 3 {
			return ch[1:]
		}
		return ch
	}
	return c
}

// numericAggregate is the type MySQL gives a value that may be any of ts, when all are
// numbers or NULL and one is a DECIMAL or a DOUBLE; false otherwise (integers alone keep
// GMS's type, which holds them).
func numericAggregate(ts []sql.Type) (sql.Type, bool) {
	var decimals, floats int
	var width decimalWidth
	for _, t := range ts {
		width.add(t)
		switch {
		case t == types.Null, types.IsInteger(t):
		case types.IsDecimal(t):
			decimals++
		case types.IsFloat(t):
			floats++
		default:
			return nil, false
		}
	}
	switch {
	case floats > 0:
		return types.Float64, true
	case decimals > 0:
		return width.decimalType(), true
	}
	return nil, false // integers alone: GMS's type holds them
}

// aggregate is the MySQL type of c's values, if they are all numbers.
func (c *condValue) aggregate() (sql.Type, bool) {
	vs := c.values()
	a := c.agg.get(vs, func() condType {
		ts := make([]sql.Type, len(vs))
		for i, v := range vs {
			ts[i] = v.Type()
		}
		t, ok := numericAggregate(ts)
		return condType{t, ok}
	})
	return a.typ, a.ok
}

// Type implements sql.Expression.
func (c *condValue) Type() sql.Type {
	if t, ok := c.aggregate(); ok {
		return t
	}
	return c.Expression.Type()
}

// Eval implements sql.Expression.
func (c *condValue) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := c.Expression.Eval(ctx, row)
	if err != nil || v == nil {
		return v, err
	}
	t, ok := c.aggregate()
	if !ok {
		return v, nil
	}
	return toAggregate(ctx, t, v)
}

// toAggregate converts v, one of the values of a conditional expression, to their aggregate
// type t.
func toAggregate(ctx *sql.Context, t sql.Type, v any) (any, error) {
	out, _, err := t.Convert(ctx, v)
	if err != nil {
		return nil, err
	}
	if dt, ok := t.(sql.DecimalType); ok {
		if d, isDec := out.(decimal.Decimal); isDec {
			return d.Round(int32(dt.Scale())), nil // printed with the type's scale
		}
	}
	return out, nil
}

// WithChildren implements sql.Expression.
func (c *condValue) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	e, err := c.Expression.WithChildren(children...)
	if err != nil {
		return nil, err
	}
	return wrapCondValue(c.FunctionName(), e), nil
}

// FunctionName implements sql.FunctionExpression.
func (c *condValue) FunctionName() string {
	return c.Expression.(sql.FunctionExpression).FunctionName()
}

// Description implements sql.FunctionExpression.
func (c *condValue) Description() string {
	return c.Expression.(sql.FunctionExpression).Description()
}
