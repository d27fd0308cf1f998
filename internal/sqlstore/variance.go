package sqlstore

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression/function/aggregation"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// STDDEV and VARIANCE as DOUBLE.
//
// GMS computes STD, STDDEV, STDDEV_POP, STDDEV_SAMP, VARIANCE, VAR_POP and VAR_SAMP as
// float64 but types them as their argument (aggregation.StdDevPop.Type returns the child's
// type), so over an INT column the result was rounded to an integer (STDDEV_POP of 5, -3, 5
// and 0 came out as 3, not 3.4187) and over a DECIMAL(10,2) to two digits. MySQL returns a
// DOUBLE for all of them, and NULL over no rows. The store serves them (Store.Function)
// as GMS's own aggregates with that type.

// varianceAgg is one of GMS's standard deviation or variance aggregates, typed DOUBLE.
type varianceAgg struct {
	sql.Aggregation // *aggregation.StdDevPop, StdDevSamp, VarPop or VarSamp
}

var (
	_ sql.Aggregation        = (*varianceAgg)(nil)
	_ sql.FunctionExpression = (*varianceAgg)(nil)
	_ sql.CollationCoercible = (*varianceAgg)(nil)
)

// varianceFunction is the sql.Function the store serves for name, if it is one of these.
func varianceFunction(name string) (sql.Function, bool) {
	var mk func(sql.Expression) sql.Aggregation
	switch name = strings.ToLower(name); name {
	case "std", "stddev", "stddev_pop":
		mk = func(e sql.Expression) sql.Aggregation { return aggregation.NewStdDevPop(e) }
	case "stddev_samp":
		mk = func(e sql.Expression) sql.Aggregation { return aggregation.NewStdDevSamp(e) }
	case "variance", "var_pop":
		mk = func(e sql.Expression) sql.Aggregation { return aggregation.NewVarPop(e) }
	case "var_samp":
		mk = func(e sql.Expression) sql.Aggregation { return aggregation.NewVarSamp(e) }
	default:
		return nil, false
	}
	return sql.Function1{Name: name, Fn: func(e sql.Expression) sql.Expression {
		return &varianceAgg{mk(e)}
	}}, true
}

// Type implements sql.Expression: MySQL's type for these functions.
func (v *varianceAgg) Type() sql.Type { return types.Float64 }

// IsNullable implements sql.Expression: NULL over no rows or only NULLs.
func (v *varianceAgg) IsNullable() bool { return true }

// CollationCoercibility implements sql.CollationCoercible: a number's.
func (v *varianceAgg) CollationCoercibility(*sql.Context) (sql.CollationID, byte) {
	return sql.Collation_binary, 5
}

// FunctionName implements sql.FunctionExpression.
func (v *varianceAgg) FunctionName() string {
	if f, ok := v.Aggregation.(sql.FunctionExpression); ok {
		return f.FunctionName()
	}
	return v.String()
}

// Description implements sql.FunctionExpression.
func (v *varianceAgg) Description() string {
	if f, ok := v.Aggregation.(sql.FunctionExpression); ok {
		return f.Description()
	}
	return ""
}

// DebugString implements sql.DebugStringer.
func (v *varianceAgg) DebugString() string { return sql.DebugString(v.Aggregation) }

// WithChildren implements sql.Expression.
func (v *varianceAgg) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	a, err := v.Aggregation.WithChildren(children...)
	if err != nil {
		return nil, err
	}
	return &varianceAgg{a.(sql.Aggregation)}, nil
}

// WithWindow implements sql.WindowAdaptableExpression.
func (v *varianceAgg) WithWindow(w *sql.WindowDefinition) sql.WindowAdaptableExpression {
	return &varianceAgg{v.Aggregation.WithWindow(w).(sql.Aggregation)}
}

// WithId implements sql.IdExpression.
func (v *varianceAgg) WithId(id sql.ColumnId) sql.IdExpression {
	return &varianceAgg{v.Aggregation.WithId(id).(sql.Aggregation)}
}
