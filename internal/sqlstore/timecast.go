package sqlstore

import (
	"regexp"
	"strings"
	"time"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
)

// CAST(datetime string AS TIME).
//
// MySQL casts '2011-11-20 21:27:37' (a string, a TIMESTAMP literal, or a DATETIME bound to a
// prepared statement's parameter) to TIME as its time of day, 21:27:37; GMS returns NULL
// (its TIME conversion of a string takes no date part). The rule below makes such a CAST
// read a string that holds a date and a time as a DATETIME first, as GMS already converts a
// DATETIME value, a DATE value as that day's midnight (MySQL: 00:00:00; GMS: NULL), and a
// string that holds only a date as MySQL does (see dateText); any other value is cast as GMS
// does.

// datetimeText matches a string that starts with a date and a time.
var datetimeText = regexp.MustCompile(`^\s*\d{4}-\d{1,2}-\d{1,2}[ T]\d`)

// dateText matches a string that holds a date and nothing else, such as '0000-00-00' (what
// go-sql-driver/mysql sends for a zero time.Time). MySQL's str_to_time reads a string shorter
// than 12 characters as a time: it takes the leading digits ('0000', '2011') as [H]HMMSS and
// stops at the '-' with warning 1292, so CAST('2011-01-02' AS TIME) is 00:20:11 and
// CAST('0000-00-00' AS TIME) is 00:00:00; GMS returned NULL.
var dateText = regexp.MustCompile(`^\s*(\d{1,4})-\d{1,2}-\d{1,2}\s*$`)

// installTimeCastRule puts castDatetimeToTime first in GMS's once-before batch.
func installTimeCastRule(eng *sqle.Engine) {
	installFirst(eng, "once-before", analyzer.Rule{Id: ruleTimeCast, Apply: castDatetimeToTime})
}

// castDatetimeToTime wraps every CAST to TIME in a timeCast.
func castDatetimeToTime(_ *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.NodeExprs(n, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		c, ok := e.(*expression.Convert)
		if !ok || c.Type().Type() != sqltypes.Time {
			return e, transform.SameTree, nil
		}
		return &timeCast{Convert: c}, transform.NewTree, nil
	})
}

// timeCast is a CAST to TIME that reads a date-and-time string as a DATETIME.
type timeCast struct{ *expression.Convert }

// WithChildren implements sql.Expression.
func (t *timeCast) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	c, err := t.Convert.WithChildren(children...)
	if err != nil {
		return nil, err
	}
	return &timeCast{Convert: c.(*expression.Convert)}, nil
}

// Eval implements sql.Expression.
func (t *timeCast) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := t.Child.Eval(ctx, row)
	if err != nil || v == nil {
		return nil, err
	}
	var lit sql.Expression = expression.NewLiteral(v, t.Child.Type())
	s, isString := v.(string)
	if b, ok := v.([]byte); ok {
		s, isString = string(b), true
	}
	switch {
	case isString && datetimeText.MatchString(s):
		if dt, _, err := types.DatetimeMaxPrecision.Convert(ctx, s); err == nil && dt != nil {
			lit = expression.NewLiteral(dt, types.DatetimeMaxPrecision)
		}
	case isString && len(strings.TrimSpace(s)) < 12 && dateText.MatchString(s):
		lit = expression.NewLiteral(dateText.FindStringSubmatch(s)[1], types.LongText)
		ctx.Warn(mysql.ERTruncatedWrongValue, "Truncated incorrect time value: '%s'", s)
	case t.Child.Type().Type() == sqltypes.Date:
		if d, ok := v.(time.Time); ok {
			lit = expression.NewLiteral(d, types.DatetimeMaxPrecision)
		}
	}
	c, err := t.Convert.WithChildren(lit)
	if err != nil {
		return nil, err
	}
	return c.Eval(ctx, row)
}
