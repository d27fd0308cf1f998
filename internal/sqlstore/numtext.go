package sqlstore

import (
	"strconv"
	"strings"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// Strings compared with numbers.
//
// MySQL compares a number with a string as two DOUBLEs, reading the string as far as it is a
// number (with warning 1292): `id = '1abc'` is `id = 1`, `n > '9a'` is `n > 9`, and `id =
// 'abc'` is `id = 0`. GMS converted such a string to the column's type for an index lookup
// and failed with 1366 ("'1abc' is not a valid value for 'int'"), so a lookup by a user's
// text failed instead of answering; without an index it compared them otherwise (`i + 0 =
// '1abc'` was false).
//
// The rule below, before index planning (so that the comparison still reads an index),
// replaces a string constant that is not wholly a number by the DOUBLE it reads as, where it
// is compared (=, <=>, <, <=, >, >=, IN) with an expression of a numeric type; and a string
// expression that is not a constant compared so (a VARCHAR column = 1, which GMS compared
// otherwise: '1abc' = 0 was true) is read as a DOUBLE row by row (textDouble). A string that
// is a number ('1', ' 1.5') is left to GMS, which compares it right. The warning MySQL gives
// is not given. A prepared statement whose plan was cached for a parameter that is a number
// still runs GMS's conversion for one that is not (1366, as before).

func installNumericTextRule(eng *sqle.Engine) {
	installBeforeIndexPlanning(eng, analyzer.Rule{Id: ruleNumericText, Apply: readTextAsNumbers}, false)
}

func readTextAsNumbers(_ *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.NodeExprs(n, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		switch e := e.(type) {
		case *expression.Equals, *expression.NullSafeEquals, *expression.LessThan, *expression.LessThanOrEqual,
			*expression.GreaterThan, *expression.GreaterThanOrEqual:
			return rewriteOperand(e, func(side, other sql.Expression) (sql.Expression, bool) {
				if d, ok := textAsNumber(side, other.Type()); ok {
					return d, true
				}
				if textBesideNumber(side, other) {
					return &textDouble{side}, true
				}
				return nil, false
			})
		case *expression.InTuple:
			tup, ok := e.Right().(expression.Tuple)
			if !ok {
				return e, transform.SameTree, nil
			}
			var out []sql.Expression
			for i, v := range tup {
				if d, ok := textAsNumber(v, e.Left().Type()); ok {
					if out == nil {
						out = append([]sql.Expression(nil), tup...)
					}
					out[i] = d
				}
			}
			if out == nil {
				return e, transform.SameTree, nil
			}
			return expression.NewInTuple(e.Left(), expression.NewTuple(out...)), transform.NewTree, nil
		}
		return e, transform.SameTree, nil
	})
}

// textAsNumber is the DOUBLE literal MySQL reads the string constant e as, compared with an
// expression of type other, when other is numeric and e is not wholly a number.
func textAsNumber(e sql.Expression, other sql.Type) (sql.Expression, bool) {
	if !types.IsNumber(other) {
		return nil, false
	}
	lit, ok := e.(*expression.Literal)
	if !ok || !types.IsText(lit.Type()) {
		return nil, false
	}
	s, ok := lit.Value().(string)
	if !ok {
		return nil, false
	}
	if _, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
		return nil, false // a number: GMS compares it right
	}
	return expression.NewLiteral(numericPrefix(s), types.Float64), true
}

// textBesideNumber reports whether e is a string expression, not a constant, compared with
// other, a number.
func textBesideNumber(e, other sql.Expression) bool {
	if _, lit := e.(*expression.Literal); lit {
		return false
	}
	return types.IsText(e.Type()) && types.IsNumber(other.Type())
}

// textDouble is a string expression read as MySQL reads a string compared with a number: the
// DOUBLE of as much of it as is a number (0 when none is).
type textDouble struct{ sql.Expression }

// Type implements sql.Expression.
func (t *textDouble) Type() sql.Type { return types.Float64 }

// CollationCoercibility implements sql.CollationCoercible.
func (t *textDouble) CollationCoercibility(*sql.Context) (sql.CollationID, byte) {
	return sql.Collation_binary, 5
}

// String implements sql.Expression.
func (t *textDouble) String() string { return t.Expression.String() }

// WithChildren implements sql.Expression.
func (t *textDouble) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(t, len(children), 1)
	}
	return &textDouble{children[0]}, nil
}

// Children implements sql.Expression.
func (t *textDouble) Children() []sql.Expression { return []sql.Expression{t.Expression} }

// Eval implements sql.Expression.
func (t *textDouble) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := t.Expression.Eval(ctx, row)
	if err != nil || v == nil {
		return nil, err
	}
	s, ok := textOf(v)
	if !ok {
		f, _, err := types.Float64.Convert(ctx, v)
		return f, err
	}
	return numericPrefix(s), nil
}
