package sqlstore

import (
	"strings"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// Row constructors as index lookups.
//
// GMS's index planning only understands comparisons of one column: a row-constructor
// predicate such as `(s_w_id, s_i_id) IN ((1,5),(1,77))` or `(a, b) = (1, 2)` becomes a
// filter over a full table scan (TPC-C's NEW_ORDER and DELIVERY are built of them). MySQL
// defines both by their columns: `(a, b) = (x, y)` is `a = x AND b = y`, and an IN list is
// the OR of such equalities. The rule below rewrites the top-level conjuncts of WHERE and ON
// conditions that way, before index planning, which turns an OR of ANDs of equalities into
// one index range per row (a point lookup on a unique key, a prefix range otherwise).
//
// Only top-level conjuncts are rewritten, where NULL and FALSE both reject the row, so the
// rewrite cannot change which rows a statement sees (MySQL's semantics, which GMS's own
// tuple comparison follows closely but not exactly: a row is selected when every column
// equals the row's value, compared as `=` compares them). The elements must be free of
// subqueries and non-deterministic functions, since the rewrite may evaluate an element
// more than once or not at all.
const maxTupleINRows = 512

// installTupleRule adds the rule before GMS's join and index planning, and to the rules GMS
// runs for single-table UPDATE and DELETE (see installINListRule).
func installTupleRule(eng *sqle.Engine) {
	installBeforeIndexPlanning(eng, analyzer.Rule{Id: ruleRowComparisons, Apply: expandRowComparisons}, true)
}

// expandRowComparisons rewrites the row comparisons of filters and join conditions.
func expandRowComparisons(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.Node(n, func(n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		switch n := n.(type) {
		case *plan.Filter:
			e, changed := expandConjuncts(ctx, n.Expression)
			if !changed {
				return n, transform.SameTree, nil
			}
			if extra := impliedPrefixes(ctx, n.Expression, n.Child); len(extra) > 0 {
				e = expression.JoinAnd(append([]sql.Expression{e}, extra...)...)
			}
			return plan.NewFilter(e, n.Child), transform.NewTree, nil
		case *plan.JoinNode:
			return rewriteJoinCondition(n, func(e sql.Expression) (sql.Expression, bool) { return expandConjuncts(ctx, e) })
		}
		return n, transform.SameTree, nil
	})
}

// rewriteJoinCondition returns n with its join condition rewritten by f, which reports
// whether it changed anything.
func rewriteJoinCondition(n *plan.JoinNode, f func(sql.Expression) (sql.Expression, bool)) (sql.Node, transform.TreeIdentity, error) {
	if n.Filter == nil {
		return n, transform.SameTree, nil
	}
	e, changed := f(n.Filter)
	if !changed {
		return n, transform.SameTree, nil
	}
	nn, err := n.WithExpressions(e)
	if err != nil {
		return n, transform.SameTree, err
	}
	return nn, transform.NewTree, nil
}

// expandConjuncts rewrites the row comparisons among e's top-level conjuncts.
func expandConjuncts(ctx *sql.Context, e sql.Expression) (sql.Expression, bool) {
	conj := expression.SplitConjunction(e)
	changed := false
	for i, c := range conj {
		if nc, ok := expandRowComparison(ctx, c); ok {
			conj[i] = nc
			changed = true
		}
	}
	if !changed {
		return e, false
	}
	return expression.JoinAnd(conj...), true
}

// expandRowComparison returns the AND (of ORs) of column comparisons that e, a row equality
// or row IN list, stands for.
func expandRowComparison(ctx *sql.Context, e sql.Expression) (sql.Expression, bool) {
	switch e := e.(type) {
	case *expression.Equals:
		l, lok := e.Left().(expression.Tuple)
		r, rok := e.Right().(expression.Tuple)
		if !lok || !rok || len(l) != len(r) || len(l) == 0 || !plainRow(l) || !plainRow(r) || !comparable(ctx, l, r) {
			return nil, false
		}
		return rowEquals(l, r), true
	case *expression.InTuple:
		return expandRowIN(ctx, e.Left(), e.Right())
	case *expression.HashInTuple:
		return expandRowIN(ctx, e.Left(), e.Right())
	}
	return nil, false
}

func expandRowIN(ctx *sql.Context, left, right sql.Expression) (sql.Expression, bool) {
	l, ok := left.(expression.Tuple)
	if !ok || len(l) == 0 || !plainRow(l) {
		return nil, false
	}
	for _, c := range l {
		if _, isCol := c.(*expression.GetField); !isCol {
			return nil, false
		}
	}
	list, ok := right.(expression.Tuple)
	if !ok || len(list) == 0 || len(list) > maxTupleINRows {
		return nil, false
	}
	var ors []sql.Expression
	for _, item := range list {
		r, ok := item.(expression.Tuple)
		if !ok || len(r) != len(l) || !plainRow(r) || !comparable(ctx, l, r) {
			return nil, false
		}
		ors = append(ors, rowEquals(l, r))
	}
	return balancedOr(ors), true
}

// impliedPrefixes returns, for each row IN list among cond's conjuncts whose columns are not
// all in one index, the condition it implies on the longest index prefix among them: for
// `(a, c) IN ((1,1),(2,0))` with an index on (a, b), `a = 1 OR a = 2`. GMS's index planning
// uses an OR of ANDs only when every AND lies within the index; the implied condition gives
// it the prefix ranges, and the row list stays as a filter.
func impliedPrefixes(ctx *sql.Context, cond sql.Expression, child sql.Node) []sql.Expression {
	var out []sql.Expression
	for _, c := range expression.SplitConjunction(cond) {
		var left, right sql.Expression
		switch e := c.(type) {
		case *expression.InTuple:
			left, right = e.Left(), e.Right()
		case *expression.HashInTuple:
			left, right = e.Left(), e.Right()
		default:
			continue
		}
		if _, ok := expandRowIN(ctx, left, right); !ok {
			continue
		}
		l, list := left.(expression.Tuple), right.(expression.Tuple)
		idxs := tableIndexes(ctx, child, l[0].(*expression.GetField).Table())
		pos := map[string]int{}
		for i, e := range l {
			gf := e.(*expression.GetField)
			if !strings.EqualFold(gf.Table(), l[0].(*expression.GetField).Table()) {
				idxs = nil
			}
			pos[strings.ToLower(gf.Name())] = i
		}
		var best []int // positions in the row of the best index prefix
		for _, ix := range idxs {
			var prefix []int
			for _, ce := range ix.Expressions() {
				name := strings.ToLower(ce[strings.LastIndexByte(ce, '.')+1:])
				p, ok := pos[name]
				if !ok {
					break
				}
				prefix = append(prefix, p)
			}
			if len(prefix) > len(best) {
				best = prefix
			}
		}
		if len(best) == 0 || len(best) == len(l) {
			continue
		}
		seen := map[string]bool{}
		var ors []sql.Expression
		for _, item := range list {
			r := item.(expression.Tuple)
			var lp, rp expression.Tuple
			for _, p := range best {
				lp, rp = append(lp, l[p]), append(rp, r[p])
			}
			if key := rp.String(); !seen[key] {
				seen[key] = true
				ors = append(ors, rowEquals(lp, rp))
			}
		}
		out = append(out, balancedOr(ors))
	}
	return out
}

// tableIndexes returns the indexes of the table that the plan under a filter reads as name.
func tableIndexes(ctx *sql.Context, n sql.Node, name string) []sql.Index {
	var out []sql.Index
	transform.Inspect(n, func(n sql.Node) bool {
		var rt *plan.ResolvedTable
		switch n := n.(type) {
		case *plan.TableAlias:
			if strings.EqualFold(n.Name(), name) {
				rt, _ = n.Child.(*plan.ResolvedTable)
			}
		case *plan.ResolvedTable:
			if strings.EqualFold(n.Name(), name) {
				rt = n
			}
		}
		if rt == nil {
			return out == nil
		}
		if iat, ok := rt.UnderlyingTable().(sql.IndexAddressableTable); ok {
			out, _ = iat.GetIndexes(ctx)
		}
		return false
	})
	return out
}

// plainRow reports whether the elements of a row are scalar expressions that may be evaluated
// any number of times: no nested rows, subqueries or non-deterministic functions.
func plainRow(row expression.Tuple) bool {
	ok := true
	for _, e := range row {
		sql.Inspect(e, func(e sql.Expression) bool {
			switch x := e.(type) {
			case expression.Tuple, *plan.Subquery, *expression.BindVar, *expression.ProcedureParam:
				ok = false
			case sql.NonDeterministicExpression:
				ok = ok && !x.IsNonDeterministic()
			case sql.FunctionExpression:
				// RAND(), UUID() and the like are not marked; only pure functions of their
				// arguments are safe to repeat.
				ok = ok && deterministicFunctions[x.FunctionName()]
			}
			return ok
		})
	}
	return ok
}

// deterministicFunctions are the functions a row element may call: those a client writes
// around literal keys (conversions and string functions), whose value depends on nothing else.
var deterministicFunctions = map[string]bool{
	"convert": true, "cast": true, "concat": true, "lower": true, "upper": true, "lcase": true,
	"ucase": true, "trim": true, "ltrim": true, "rtrim": true, "substring": true, "substr": true,
	"left": true, "right": true, "abs": true, "date": true, "timestamp": true, "unhex": true,
	"hex": true, "binary": true,
}

// comparable reports whether each column of l can be looked up by the value of r's element:
// GMS's index planning converts a constant to the column's type and fails the statement when
// it cannot ('3x' for an INT column, where MySQL compares as numbers with a warning), so such
// a row is left to the filter. An element that is not constant (a join condition) must have
// the column's type, or both must be integers or both strings.
func comparable(ctx *sql.Context, l, r expression.Tuple) bool {
	for i := range l {
		lt, rt := l[i].Type(), r[i].Type()
		if !evaluable(r[i]) {
			if !lt.Equals(rt) && !(types.IsInteger(lt) && types.IsInteger(rt)) && !(types.IsText(lt) && types.IsText(rt)) {
				return false
			}
			continue
		}
		v, err := r[i].Eval(ctx, nil)
		if err != nil {
			return false
		}
		if v == nil {
			continue
		}
		if _, _, err := lt.Convert(ctx, v); err != nil {
			return false
		}
	}
	return true
}

func rowEquals(l, r expression.Tuple) sql.Expression {
	eqs := make([]sql.Expression, len(l))
	for i := range l {
		eqs[i] = expression.NewEquals(l[i], r[i])
	}
	return expression.JoinAnd(eqs...)
}

// balancedOr joins es with OR as a balanced tree, so that a long list does not make a deep
// expression for the recursive walks of planning and evaluation.
func balancedOr(es []sql.Expression) sql.Expression {
	if len(es) == 1 {
		return es[0]
	}
	m := len(es) / 2
	return expression.NewOr(balancedOr(es[:m]), balancedOr(es[m:]))
}
