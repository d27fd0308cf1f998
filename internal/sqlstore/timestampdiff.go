package sqlstore

import (
	"strings"
	"time"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// TIMESTAMPDIFF in months, quarters and years.
//
// GMS counts a month as 30 days (function.TimestampDiff), so TIMESTAMPDIFF(MONTH,
// '2000-01-01', '2024-01-01') was 292, not 288, and an age computed as
// TIMESTAMPDIFF(YEAR, '1990-06-15', '2024-06-14') was 34, not 33. MySQL
// (Item_func_timestamp_diff::val_int) counts calendar months: the difference of year and
// month, less one when the later date's day and time of day come before the earlier's;
// backwards the same, negated. The planner builds TIMESTAMPDIFF itself rather than looking
// it up, so the rule below wraps each one; other units are GMS's.

// installTimestampDiffRule puts fixTimestampDiffs first in GMS's once-before batch and among
// the rules GMS runs for simple UPDATE and DELETE statements.
func installTimestampDiffRule(eng *sqle.Engine) {
	rule := analyzer.Rule{Id: ruleTimestampDiff, Apply: fixTimestampDiffs}
	installAlwaysBefore(rule, false)
	installFirst(eng, "once-before", rule)
}

// fixTimestampDiffs wraps every TIMESTAMPDIFF in a timestampDiff.
func fixTimestampDiffs(_ *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.NodeExprs(n, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		d, ok := e.(*function.TimestampDiff)
		if !ok {
			return e, transform.SameTree, nil
		}
		return &timestampDiff{TimestampDiff: d}, transform.NewTree, nil
	})
}

// timestampDiff is TIMESTAMPDIFF counting calendar months.
type timestampDiff struct{ *function.TimestampDiff }

// WithChildren implements sql.Expression.
func (t *timestampDiff) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	d, err := t.TimestampDiff.WithChildren(children...)
	if err != nil {
		return nil, err
	}
	return &timestampDiff{TimestampDiff: d.(*function.TimestampDiff)}, nil
}

// Eval implements sql.Expression.
func (t *timestampDiff) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	c := t.Children()
	u, err := c[0].Eval(ctx, row)
	if err != nil || u == nil {
		return t.TimestampDiff.Eval(ctx, row) // GMS's error for a NULL unit
	}
	unit, ok := u.(string)
	if !ok {
		return t.TimestampDiff.Eval(ctx, row)
	}
	var per int64
	switch strings.TrimPrefix(strings.ToLower(unit), "sql_tsi_") {
	case "month":
		per = 1
	case "quarter":
		per = 3
	case "year":
		per = 12
	default:
		return t.TimestampDiff.Eval(ctx, row)
	}
	var ts [2]time.Time
	for i, e := range c[1:] {
		v, err := e.Eval(ctx, row)
		if err != nil || v == nil {
			return nil, err
		}
		d, _, err := types.DatetimeMaxPrecision.Convert(ctx, v)
		if err != nil {
			return nil, err
		}
		ts[i] = d.(time.Time)
	}
	return calendarMonths(ts[0], ts[1]) / per, nil
}

// calendarMonths is the number of whole months from a to b, negative when b is before a.
func calendarMonths(a, b time.Time) int64 {
	neg := b.Before(a)
	if neg {
		a, b = b, a
	}
	months := int64(b.Year()-a.Year())*12 + int64(b.Month()) - int64(a.Month())
	if b.Day() < a.Day() || b.Day() == a.Day() && timeOfDay(b) < timeOfDay(a) {
		months--
	}
	if neg {
		return -months
	}
	return months
}

// timeOfDay is t's time since its midnight.
func timeOfDay(t time.Time) time.Duration {
	y, m, d := t.Date()
	return t.Sub(time.Date(y, m, d, 0, 0, 0, 0, t.Location()))
}
