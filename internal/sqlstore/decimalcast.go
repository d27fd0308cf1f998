package sqlstore

import (
	"fmt"
	"strings"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/shopspring/decimal"
)

// CAST(x AS DECIMAL(M,D)) of a value past the type's range.
//
// MySQL clips such a value to the largest (or smallest) the type holds, with warning 1264:
// CAST(1000 AS DECIMAL(5,2)) is 999.99. GMS answered 0.00, or for an integer the value
// itself (CAST(5000 AS DECIMAL(3,0)) was 5000). The rule below, run last, wraps every cast to
// DECIMAL: an answer past the range is clipped, and when GMS's answer is zero the value is
// read again as a number, and one past the range clipped. Everything else is GMS's cast.
// GMS gives a cast with no scale (DECIMAL, DECIMAL(M)) the type DECIMAL(65,30) and keeps
// no record of M, so those are not clipped (MySQL: DECIMAL(10,0), DECIMAL(M,0)).

func installDecimalCastRule(eng *sqle.Engine) {
	installAfterAll(eng, analyzer.Rule{Id: ruleDecimalCast, Apply: wrapDecimalCasts})
}

// wrapDecimalCasts wraps every CAST to DECIMAL in a decimalCast.
func wrapDecimalCasts(_ *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.NodeExprs(n, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		c, ok := e.(*expression.Convert)
		if !ok {
			return e, transform.SameTree, nil
		}
		if _, ok := c.Type().(sql.DecimalType); !ok {
			return e, transform.SameTree, nil
		}
		return &decimalCast{Convert: c}, transform.NewTree, nil
	})
}

// decimalCast is a CAST to DECIMAL that clips a value past the type's range.
type decimalCast struct{ *expression.Convert }

// WithChildren implements sql.Expression.
func (c *decimalCast) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	return rewrapConvert(c.Convert, children, func(conv *expression.Convert) sql.Expression { return &decimalCast{Convert: conv} })
}

// Eval implements sql.Expression.
func (c *decimalCast) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	out, err := c.Convert.Eval(ctx, row)
	if err != nil || out == nil {
		return out, err
	}
	d, ok := out.(decimal.Decimal)
	if !ok {
		return out, nil
	}
	if d.IsZero() {
		// GMS's answer for a value it could not fit: read the value again.
		v, err := c.Child.Eval(ctx, row)
		if err != nil || v == nil {
			return out, err
		}
		if d, ok = asDecimal(v); !ok {
			return out, nil
		}
	}
	dt := c.Type().(sql.DecimalType)
	scale := int32(dt.Scale())
	limit := decimal.New(1, int32(dt.Precision())-scale).Sub(decimal.New(1, -scale))
	if d.Round(scale).Abs().LessThanOrEqual(limit) {
		return out, nil
	}
	ctx.Warn(mysql.ERWarnDataOutOfRange, "Out of range value for column '%s' at row 1", c.String())
	if d.Sign() < 0 {
		return limit.Neg(), nil
	}
	return limit, nil
}

// asDecimal reads a number, or a string's numeric prefix, as a decimal.
func asDecimal(v any) (decimal.Decimal, bool) {
	switch x := v.(type) {
	case decimal.Decimal:
		return x, true
	case float64:
		return decimal.NewFromFloat(x), true
	case float32:
		return decimal.NewFromFloat32(x), true
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		d, err := decimal.NewFromString(fmt.Sprint(x))
		return d, err == nil
	}
	if s, ok := textOf(v); ok {
		if p := strings.TrimSpace(numberPrefix.FindString(s)); p != "" {
			d, err := decimal.NewFromString(p) // exact: numericPrefix would round to a DOUBLE
			return d, err == nil
		}
	}
	return decimal.Decimal{}, false
}
