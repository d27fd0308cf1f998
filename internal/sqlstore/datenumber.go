package sqlstore

import (
	"strings"
	"time"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// Integers read as dates.
//
// MySQL reads an integer compared with a DATE, DATETIME or TIMESTAMP, or cast to one, as a
// date: YYYYMMDD, YYMMDD, YYYYMMDDhhmmss or YYMMDDhhmmss (number_to_datetime in its
// my_time.c; YY below 70 is 20YY). So `d >= 20240101` selects the dates from 2024 on and
// CAST(20240131 AS DATE) is 2024-01-31. GMS did neither: `d = 20240131` and `d > 20240101`
// were false for every row (so `WHERE d >= 20240101` returned nothing), and CAST(20240131
// AS DATE), CAST(20240131103000 AS DATETIME) were NULL.
//
// The rule below, before GMS plans index lookups (so that such a comparison reads a date
// range of an index), replaces an integer constant that is a valid date in those forms by
// the date (or, with a time of day, the datetime) where it is compared with a temporal
// expression (=, <=>, <, <=, >, >=, BETWEEN), cast to DATE or DATETIME, or passed to a
// function that reads a date (dateFunctions: DATE(20240131) was NULL too). An integer that is
// no valid date is left to GMS; so are a WEEK mode and the like, which are below 101.

// installDateNumberRule adds the rule before GMS's join and index planning.
func installDateNumberRule(eng *sqle.Engine) {
	installBeforeIndexPlanning(eng, analyzer.Rule{Id: ruleDateNumber, Apply: readNumbersAsDates}, false)
}

func readNumbersAsDates(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.NodeExprs(n, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		return dateNumberExpr(ctx, e)
	})
}

// dateNumberExpr rewrites one comparison, BETWEEN or cast (see above).
func dateNumberExpr(ctx *sql.Context, e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
	switch e := e.(type) {
	case *expression.Equals, *expression.NullSafeEquals, *expression.LessThan, *expression.LessThanOrEqual,
		*expression.GreaterThan, *expression.GreaterThanOrEqual:
		return rewriteOperand(e, func(side, other sql.Expression) (sql.Expression, bool) {
			return numberAsDate(ctx, side, other.Type())
		})
	case *expression.Between:
		lo, okLo := numberAsDate(ctx, e.Lower, e.Val.Type())
		hi, okHi := numberAsDate(ctx, e.Upper, e.Val.Type())
		if !okLo && !okHi {
			return e, transform.SameTree, nil
		}
		if !okLo {
			lo = e.Lower
		}
		if !okHi {
			hi = e.Upper
		}
		return expression.NewBetween(e.Val, lo, hi), transform.NewTree, nil
	case sql.FunctionExpression:
		if !dateFunctions[strings.ToLower(e.FunctionName())] {
			return e, transform.SameTree, nil
		}
		args := e.Children()
		var out []sql.Expression
		for i, a := range args {
			if d, ok := dateLiteral(ctx, a); ok {
				if out == nil {
					out = append([]sql.Expression(nil), args...)
				}
				out[i] = d
			}
		}
		if out == nil {
			return e, transform.SameTree, nil
		}
		ne, err := e.WithChildren(out...)
		return ne, transform.NewTree, err
	case *expression.Convert:
		typ := e.Type()
		if typ.Type() != types.Date.Type() && typ.Type() != types.Datetime.Type() {
			return e, transform.SameTree, nil
		}
		t, _, ok := literalDate(ctx, e.Child)
		if !ok {
			return e, transform.SameTree, nil
		}
		if typ.Type() == types.Date.Type() {
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		}
		return expression.NewLiteral(t, typ), transform.NewTree, nil
	}
	return e, transform.SameTree, nil
}

// rewriteOperand gives the comparison e the operand fn makes of its right operand (beside
// its left), or failing that of its left one; e itself when fn makes neither.
func rewriteOperand(e sql.Expression, fn func(side, other sql.Expression) (sql.Expression, bool)) (sql.Expression, transform.TreeIdentity, error) {
	ch := e.Children()
	l, r := ch[0], ch[1]
	if d, ok := fn(r, l); ok {
		r = d
	} else if d, ok := fn(l, r); ok {
		l = d
	} else {
		return e, transform.SameTree, nil
	}
	ne, err := e.WithChildren(l, r)
	return ne, transform.NewTree, err
}

// dateFunctions are the functions whose arguments MySQL reads as dates (or, for WEEK,
// YEARWEEK and DATE_FORMAT, a mode or format, and for ADDDATE and SUBDATE a number of days,
// that is never a date number).
var dateFunctions = map[string]bool{
	"date": true, "year": true, "month": true, "day": true, "dayofmonth": true, "dayofweek": true,
	"dayofyear": true, "weekday": true, "quarter": true, "week": true, "weekofyear": true,
	"yearweek": true, "last_day": true, "monthname": true, "dayname": true, "to_days": true,
	"date_format": true, "datediff": true, "unix_timestamp": true, "date_add": true,
	"date_sub": true, "timestamp": true,
}

// numberAsDate returns the date literal an integer constant e stands for when compared with
// an expression of type other, if other is temporal and e a valid date number.
func numberAsDate(ctx *sql.Context, e sql.Expression, other sql.Type) (sql.Expression, bool) {
	if !types.IsTime(other) {
		return nil, false
	}
	return dateLiteral(ctx, e)
}

// dateLiteral returns the DATE, or with a time of day the DATETIME, literal that an integer
// constant e stands for, if it is a valid date number.
func dateLiteral(ctx *sql.Context, e sql.Expression) (sql.Expression, bool) {
	t, clock, ok := literalDate(ctx, e)
	if !ok {
		return nil, false
	}
	if clock {
		return expression.NewLiteral(t, types.Datetime), true
	}
	return expression.NewLiteral(t, types.Date), true
}

// literalDate reads an integer literal as a date number.
func literalDate(ctx *sql.Context, e sql.Expression) (time.Time, bool, bool) {
	lit, ok := e.(*expression.Literal)
	if !ok || !types.IsInteger(lit.Type()) || lit.Value() == nil {
		return time.Time{}, false, false
	}
	v, _, err := types.Int64.Convert(ctx, lit.Value()) // clipped to the BIGINT range
	if err != nil {
		return time.Time{}, false, false
	}
	n := v.(int64)
	t, ok := numberToDatetime(n) // missingfuncs_time.go
	return t, n > 99991231, ok
}
