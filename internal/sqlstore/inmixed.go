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

// A string IN a list of numbers.
//
// MySQL compares a string with a number as numbers, in `=` and in IN alike: '05' IN (5, 6)
// is true. GMS's IN converts the list to the left operand's type and compares strings, so
// it was false, while '05' = 5 was true. The rule below rewrites `s IN (…)`, where s is a
// string and some element a number, as the OR of `s = element`, which GMS compares as
// MySQL does; NOT IN is the negation of that OR. The two have the same value for every
// row, NULLs included (`x IN (1, NULL)` and `x = 1 OR x = NULL` are both TRUE or NULL), so
// the rewrite applies wherever the IN is. Lists longer than maxMixedIN are left alone.
const maxMixedIN = 64

// installMixedINRule adds the rule before GMS's join and index planning (which turns IN
// lists into hash lookups), ahead of intcompare.go's rule, and to the rules GMS runs for
// single-table UPDATE and DELETE.
func installMixedINRule(eng *sqle.Engine) {
	installBeforeIndexPlanning(eng, analyzer.Rule{Id: ruleMixedIN, Apply: numericStringINs}, false)
}

// numericStringINs rewrites the plan's string-in-numbers IN lists.
func numericStringINs(_ *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.NodeExprs(n, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		in, ok := e.(*expression.InTuple)
		if !ok {
			return e, transform.SameTree, nil
		}
		if _, isRow := in.Left().(expression.Tuple); isRow || !types.IsText(in.Left().Type()) {
			return e, transform.SameTree, nil
		}
		list, ok := in.Right().(expression.Tuple)
		if !ok || len(list) == 0 || len(list) > maxMixedIN {
			return e, transform.SameTree, nil
		}
		numeric := false
		for _, el := range list {
			if types.IsNumber(el.Type()) {
				numeric = true
			}
		}
		if !numeric {
			return e, transform.SameTree, nil
		}
		ors := make([]sql.Expression, len(list))
		for i, el := range list {
			ors[i] = expression.NewEquals(in.Left(), el)
		}
		return expression.JoinOr(ors...), transform.NewTree, nil
	})
}
