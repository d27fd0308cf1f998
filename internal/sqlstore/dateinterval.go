package sqlstore

import (
	"strings"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
)

// Dates plus or minus an interval, typed as MySQL types them.
//
// GMS typed `d + INTERVAL 1 DAY` as a DATETIME even for a DATE d ('2024-02-01 00:00:00';
// MySQL: '2024-02-01'), although its DATE_ADD(d, INTERVAL 1 DAY) keeps the DATE; and it
// typed DATE_ADD and DATE_SUB of a DATETIME as DATETIME(6), so `dt - INTERVAL 1 DAY` showed
// '2024-01-30 10:00:00.000000' where MySQL keeps dt's fractional digits ('2024-01-30
// 10:00:00'). The rule below, run last, turns `x ± INTERVAL` of a date or datetime x into
// DATE_ADD or DATE_SUB, and gives DATE_ADD and DATE_SUB of a DATETIME or TIMESTAMP by a
// whole number of a unit without microseconds the argument's precision (a DATE plus hours:
// DATETIME(0)).

// installDateIntervalRule adds the rule to the rules GMS runs last.
func installDateIntervalRule(eng *sqle.Engine) {
	installAfterAll(eng, analyzer.Rule{Id: ruleDateInterval, Apply: fixDateIntervals})
}

// fixDateIntervals rewrites interval arithmetic as described above.
func fixDateIntervals(_ *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.NodeExprs(n, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		switch x := e.(type) {
		case *expression.Arithmetic:
			d, ok := intervalFunction(x)
			if !ok {
				return e, transform.SameTree, nil
			}
			return withArgPrecision(d), transform.NewTree, nil
		case *function.DateAdd, *function.DateSub:
			d := withArgPrecision(e)
			if d == e {
				return e, transform.SameTree, nil
			}
			return d, transform.NewTree, nil
		}
		return e, transform.SameTree, nil
	})
}

// intervalFunction is `x + INTERVAL`, `INTERVAL + x` or `x - INTERVAL` as DATE_ADD or DATE_SUB.
func intervalFunction(a *expression.Arithmetic) (sql.Expression, bool) {
	l, r := a.LeftChild, a.RightChild
	li, lIsInterval := l.(*expression.Interval)
	ri, rIsInterval := r.(*expression.Interval)
	var d sql.Expression
	var err error
	base := l
	if lIsInterval {
		base = r
	}
	if !types.IsTime(base.Type()) {
		return nil, false // a string or number: GMS's arithmetic, as before
	}
	switch {
	case a.Op == "+" && rIsInterval && !lIsInterval:
		d, err = function.NewDateAdd(l, ri)
	case a.Op == "+" && lIsInterval && !rIsInterval:
		d, err = function.NewDateAdd(r, li)
	case a.Op == "-" && rIsInterval && !lIsInterval:
		d, err = function.NewDateSub(l, ri)
	default:
		return nil, false
	}
	return d, err == nil
}

// withArgPrecision wraps DATE_ADD or DATE_SUB of a DATETIME or TIMESTAMP by a whole number of
// a unit without microseconds in a dateOffset typed DATETIME of the argument's precision (of
// a DATE giving a DATETIME: DATETIME(0)); anything else is returned as it is.
func withArgPrecision(e sql.Expression) sql.Expression {
	var date sql.Expression
	var iv *expression.Interval
	switch x := e.(type) {
	case *function.DateAdd:
		date, iv = x.Date, x.Interval
	case *function.DateSub:
		date, iv = x.Date, x.Interval
	default:
		return e
	}
	if strings.Contains(strings.ToUpper(iv.Unit), "MICROSECOND") || !types.IsInteger(iv.Child.Type()) {
		return e
	}
	precision := 0
	switch dt := date.Type().(type) {
	case sql.DatetimeType:
		switch {
		case types.IsDatetimeType(dt) || types.IsTimestampType(dt):
			precision = dt.Precision()
		case dt.Type() == sqltypes.Date && types.IsDatetimeType(e.Type()):
			// a DATE plus hours, minutes or seconds: DATETIME(0)
		default:
			return e
		}
	default:
		return e
	}
	return &dateOffset{Expression: e, typ: types.MustCreateDatetimeType(sqltypes.Datetime, precision)}
}

// dateOffset is DATE_ADD or DATE_SUB of a DATETIME, typed DATETIME(fsp) of its argument.
type dateOffset struct {
	sql.Expression
	typ sql.Type
}

var _ sql.FunctionExpression = (*dateOffset)(nil)

// Type implements sql.Expression.
func (d *dateOffset) Type() sql.Type { return d.typ }

// WithChildren implements sql.Expression.
func (d *dateOffset) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	e, err := d.Expression.WithChildren(children...)
	if err != nil {
		return nil, err
	}
	return withArgPrecision(e), nil
}

// FunctionName implements sql.FunctionExpression.
func (d *dateOffset) FunctionName() string {
	return d.Expression.(sql.FunctionExpression).FunctionName()
}

// Description implements sql.FunctionExpression.
func (d *dateOffset) Description() string { return d.Expression.(sql.FunctionExpression).Description() }
