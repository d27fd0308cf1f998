package sqlstore

import (
	"math"
	"strings"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
)

// CAST(string AS SIGNED) and CAST(string AS UNSIGNED).
//
// MySQL reads a string cast to an integer as far as it is an integer: CAST('12abc' AS
// SIGNED) is 12, CAST('1.5' AS SIGNED) 1 and CAST('1e3' AS SIGNED) 1, each with warning
// 1292, and a value past the type's range is clipped to it. GMS read the string as a number
// and rounded it, or gave 0 when it was not all a number: 0, 2 and 1000. `ORDER BY
// CAST(code AS UNSIGNED)`, the usual way to sort numeric strings, sorted by those. The rule
// below, run last, makes such casts of strings read the string as MySQL does; other values
// are cast as GMS does.

// installIntCastRule adds the rule to the rules GMS runs last.
func installIntCastRule(eng *sqle.Engine) {
	installAfterAll(eng, analyzer.Rule{Id: ruleIntCast, Apply: wrapIntCasts})
}

// wrapIntCasts wraps every CAST to SIGNED or UNSIGNED in an intCast.
func wrapIntCasts(_ *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.NodeExprs(n, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		c, ok := e.(*expression.Convert)
		if !ok {
			return e, transform.SameTree, nil
		}
		switch c.Type().Type() {
		case sqltypes.Int64, sqltypes.Uint64:
			return &intCast{Convert: c}, transform.NewTree, nil
		}
		return e, transform.SameTree, nil
	})
}

// intCast is a CAST to SIGNED or UNSIGNED that reads a string's integer prefix.
type intCast struct{ *expression.Convert }

// WithChildren implements sql.Expression.
func (c *intCast) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	return rewrapConvert(c.Convert, children, func(conv *expression.Convert) sql.Expression { return &intCast{Convert: conv} })
}

// rewrapConvert gives c the new children and wraps the result again, as the wrappers of
// GMS's Convert (intCast, decimalCast) do in WithChildren.
func rewrapConvert(c *expression.Convert, children []sql.Expression, wrap func(*expression.Convert) sql.Expression) (sql.Expression, error) {
	e, err := c.WithChildren(children...)
	if err != nil {
		return nil, err
	}
	conv, ok := e.(*expression.Convert)
	if !ok {
		return e, nil
	}
	return wrap(conv), nil
}

// Eval implements sql.Expression.
func (c *intCast) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := c.Child.Eval(ctx, row)
	if err != nil || v == nil {
		return nil, err
	}
	s, ok := v.(string)
	if !ok {
		if b, isBytes := v.([]byte); isBytes {
			s, ok = string(b), true
		}
	}
	if !ok {
		return c.Convert.Eval(ctx, row)
	}
	unsigned := c.Type().Type() == sqltypes.Uint64
	n, exact := integerPrefix(s, unsigned)
	if !exact {
		ctx.Warn(mysql.ERTruncatedWrongValue, "Truncated incorrect INTEGER value: '%s'", s)
	}
	return n, nil
}

// integerPrefix reads s as MySQL's CAST of a string to an integer does: leading spaces and
// tabs (not newlines: CAST('\n123' AS SIGNED) is 0), a sign, then digits, clipped to the type's range, as an
// int64 or, with unsigned, a uint64 (a negative number wraps, as MySQL's CAST does). exact
// is false when anything but spaces followed, or the value was clipped.
func integerPrefix(s string, unsigned bool) (any, bool) {
	t := strings.TrimLeft(s, " \t")
	neg := false
	if t != "" && (t[0] == '-' || t[0] == '+') {
		neg = t[0] == '-'
		t = t[1:]
	}
	var mag uint64
	overflow := false
	i := 0
	for ; i < len(t) && t[i] >= '0' && t[i] <= '9'; i++ {
		d := uint64(t[i] - '0')
		if mag > (math.MaxUint64-d)/10 {
			overflow = true
			mag = math.MaxUint64
			continue
		}
		mag = mag*10 + d
	}
	exact := i > 0 && strings.TrimRight(t[i:], " \t") == ""
	if unsigned {
		if overflow {
			return uint64(math.MaxUint64), false
		}
		if neg {
			if mag > 1<<63 {
				return uint64(1 << 63), false // clipped at the most negative BIGINT, wrapped
			}
			return -mag, exact // two's complement, as CAST(-1 AS UNSIGNED)
		}
		return mag, exact
	}
	switch {
	case neg && (overflow || mag > 1<<63):
		return int64(math.MinInt64), false
	case neg:
		return -int64(mag), exact // mag == 1<<63 wraps to MinInt64, as intended
	case overflow || mag > math.MaxInt64:
		return int64(math.MaxInt64), false
	}
	return int64(mag), exact
}
