package sqlstore

import (
	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// CASE over numbers of different types, typed as MySQL types it.
//
// GMS typed a CASE whose values mix integers and DECIMALs as DECIMAL(65,10) and returned the
// value as it was, so CASE WHEN i = 1 THEN i ELSE d END showed 1 where MySQL (the aggregate
// type of the values, as for IF: condfuncs.go) shows 1.00. The rule below, run last, wraps
// such a CASE in a caseValue typed by numericAggregate, which converts the value it returns.

func installCaseTypeRule(eng *sqle.Engine) {
	installAfterAll(eng, analyzer.Rule{Id: ruleCaseType, Apply: typeCases})
}

// typeCases is the analyzer rule: see above.
func typeCases(_ *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.NodeExprsWithOpaque(n, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		c, ok := e.(*expression.Case)
		if !ok {
			return e, transform.SameTree, nil
		}
		if t, ok := caseAggregate(c); ok {
			return &caseValue{Case: c, typ: t}, transform.NewTree, nil
		}
		return e, transform.SameTree, nil
	})
}

// caseAggregate is the MySQL type of c's values when they are numbers of different kinds.
func caseAggregate(c *expression.Case) (sql.Type, bool) {
	ts := make([]sql.Type, 0, len(c.Branches)+1)
	for _, b := range c.Branches {
		ts = append(ts, b.Value.Type())
	}
	if c.Else != nil {
		ts = append(ts, c.Else.Type())
	}
	mixed := false
	var first sql.Type
	for _, t := range ts {
		if t == types.Null {
			continue
		}
		if first == nil {
			first = t
		} else if !t.Equals(first) {
			mixed = true
		}
	}
	if !mixed {
		return nil, false // one type: GMS's holds it
	}
	return numericAggregate(ts)
}

// caseValue is a CASE typed as MySQL aggregates the types of its values.
type caseValue struct {
	*expression.Case
	typ sql.Type
}

// Type implements sql.Expression.
func (c *caseValue) Type() sql.Type { return c.typ }

// CollationCoercibility implements sql.CollationCoercible.
func (c *caseValue) CollationCoercibility(ctx *sql.Context) (sql.CollationID, byte) {
	return c.typ.CollationCoercibility(ctx)
}

// Eval implements sql.Expression.
func (c *caseValue) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := c.Case.Eval(ctx, row)
	if err != nil || v == nil {
		return v, err
	}
	return toAggregate(ctx, c.typ, v)
}

// WithChildren implements sql.Expression.
func (c *caseValue) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	e, err := c.Case.WithChildren(children...)
	if err != nil {
		return nil, err
	}
	nc, ok := e.(*expression.Case)
	if !ok {
		return e, nil
	}
	if t, ok := caseAggregate(nc); ok {
		return &caseValue{Case: nc, typ: t}, nil
	}
	return nc, nil
}
