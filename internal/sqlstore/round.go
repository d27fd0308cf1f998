package sqlstore

import (
	"math"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// ROUND with MySQL's rounding of a DOUBLE and type of a DECIMAL (fixedfuncs.go).

// doubleRound is ROUND: GMS's for exact values, MySQL's my_double_round for a DOUBLE or FLOAT:
// the value scaled by 10^d, rounded half to even (rint), and scaled back.
type doubleRound struct {
	sql.Expression // GMS's Round
	args           []sql.Expression
	typ            derived[sql.Type]
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
	return r.typ.get(r.args, r.roundedType)
}

// roundedType is Type, derived.
func (r *doubleRound) roundedType() sql.Type {
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
