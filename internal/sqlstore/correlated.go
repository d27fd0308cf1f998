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

// Index lookups keyed by the outer row in correlated subqueries.
//
// In a correlated subquery such as TPC-C's consistency check 3.3.2.12,
//
//	(SELECT SUM(ol_amount) FROM orders STRAIGHT_JOIN order_line WHERE ol_w_id = o_w_id AND ...
//	   AND o_w_id = 1 AND o_d_id = c.c_d_id AND o_c_id = c.c_id)
//
// GMS's join planning turns the constant equality o_w_id = 1 into a static range on the
// primary key, and leaves the equalities on the outer row (c.c_d_id, c.c_id) in a filter above
// the join: each evaluation reads the warehouse's every order. Its rule for outer-scope
// lookups (applyIndexesFromOuterScope) skips tables that already have an index access, and
// ignores constant equalities, so the index (o_w_id, o_d_id, o_c_id, o_id) that all three
// bind is never used. MySQL reads it with a ref access on those three columns.
//
// correlatedLookups runs after join planning, in subqueries with an outer scope. For each
// filter it follows the left input of joins (and filters) down to a table read whole or
// through a static index range, collects the equalities on that table's columns whose other
// side is the outer row's columns or constants (the filter's conjuncts, and the point prefix
// of the static range), and when some index has a longer prefix bound by them than the
// static range, reads the table through that index instead, keyed by those expressions. A
// static range is only replaced when it is points and whole columns, every point among the
// new keys: a range it consumed (i > 1) would be lost. The filter stays as it is: the lookup
// only narrows what it reads. Restricting a join's left input by conjuncts of a filter above
// the join, on that input's columns alone and null-rejecting (equalities), keeps the join's
// result for every join type.

func installCorrelatedLookups(eng *sqle.Engine) {
	installBefore(eng, "applyIndexesFromOuterScope", analyzer.Rule{Id: ruleCorrelatedLookups, Apply: correlatedLookups})
}

func correlatedLookups(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, scope *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	if scope.IsEmpty() {
		return n, transform.SameTree, nil
	}
	outer := scope.Correlated()
	if outer.Empty() {
		return n, transform.SameTree, nil
	}
	return transform.Node(n, func(n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		f, ok := n.(*plan.Filter)
		if !ok {
			return n, transform.SameTree, nil
		}
		child, same, err := outerKeyedInput(ctx, f.Child, expression.SplitConjunction(f.Expression), outer)
		if err != nil || same {
			return n, transform.SameTree, err
		}
		nf, err := f.WithChildren(child)
		return nf, transform.NewTree, err
	})
}

// outerKeyedInput rewrites the table at the end of n's chain of left inputs (see above).
func outerKeyedInput(ctx *sql.Context, n sql.Node, conj []sql.Expression, outer sql.ColSet) (sql.Node, bool, error) {
	switch n := n.(type) {
	case *plan.JoinNode, *plan.Filter: // the left input, or the filtered one
		kids := n.Children()
		first, same, err := outerKeyedInput(ctx, kids[0], conj, outer)
		if err != nil || same {
			return n, true, err
		}
		nn, err := n.WithChildren(append([]sql.Node{first}, kids[1:]...)...)
		return nn, false, err
	case *plan.TableAlias:
		child, same, err := outerKeyedTable(ctx, n.Child, n.Name(), conj, outer)
		if err != nil || same {
			return n, true, err
		}
		nn, err := n.WithChildren(child)
		return nn, false, err
	case *plan.ResolvedTable, *plan.IndexedTableAccess:
		return outerKeyedTable(ctx, n, n.(sql.Nameable).Name(), conj, outer)
	}
	return n, true, nil
}

// outerKeyedTable reads the table node n (named name in the query) through the index that
// the equalities on the outer row and constants bind furthest, when that is further than n's
// static range does.
func outerKeyedTable(ctx *sql.Context, n sql.Node, name string, conj []sql.Expression, outer sql.ColSet) (sql.Node, bool, error) {
	var rt *plan.ResolvedTable
	var static *plan.IndexedTableAccess
	var ok bool
	switch n := n.(type) {
	case *plan.ResolvedTable:
		rt = n
	case *plan.IndexedTableAccess:
		if !n.IsStatic() {
			return n, true, nil
		}
		r, ok := n.TableNode.(*plan.ResolvedTable)
		if !ok {
			return n, true, nil
		}
		rt, static = r, n
	default:
		return n, true, nil
	}
	t := storeTable(rt.UnderlyingTable())
	if t == nil {
		return n, true, nil
	}
	if _, indexed := rt.UnderlyingTable().(*IndexedTable); indexed { // a static access's table
		nrt, err := rt.WithTable(t)
		if err != nil {
			return n, true, err
		}
		if rt, ok = nrt.(*plan.ResolvedTable); !ok {
			return n, true, nil
		}
	}
	name = strings.ToLower(name)

	keys := map[string]sql.Expression{} // lower-case column -> key expression
	byOuter := map[string]bool{}
	for _, e := range conj {
		eq, ok := e.(*expression.Equals)
		if !ok {
			continue
		}
		for _, side := range [][2]sql.Expression{{eq.Left(), eq.Right()}, {eq.Right(), eq.Left()}} {
			gf, ok := side[0].(*expression.GetField)
			if !ok || strings.ToLower(gf.Table()) != name {
				continue
			}
			usable, readsOuter := outerOrConstant(side[1], outer)
			if !usable {
				continue
			}
			col := strings.ToLower(gf.Name())
			i := t.sch.Schema.IndexOfColName(col)
			if i < 0 || !sameKind(t.sch.Schema[i].Type, side[1].Type()) {
				continue
			}
			if _, dup := keys[col]; !dup {
				keys[col] = side[1]
				byOuter[col] = readsOuter
			}
		}
	}
	if !anyTrue(byOuter) {
		return n, true, nil
	}
	staticLen := 0
	var staticCols []string // the static range's point columns, all to be keys of the lookup
	if static != nil {
		ix, ok := static.Index().(*Index)
		if !ok {
			return n, true, nil
		}
		lookup, err := static.GetLookup(ctx, nil)
		if err != nil {
			return n, true, nil
		}
		rc, ok := lookup.Ranges.(sql.MySQLRangeCollection)
		if !ok || len(rc) != 1 {
			return n, true, nil
		}
		for i, ce := range rc[0] {
			if i >= len(ix.cols) {
				return n, true, nil
			}
			if staticLen == i && isPoint(ctx, ce) {
				col := strings.ToLower(t.sch.Schema[ix.cols[i]].Name)
				if _, ok := keys[col]; !ok {
					keys[col] = expression.NewLiteral(ce.LowerBound.(sql.Below).Key, t.sch.Schema[ix.cols[i]].Type)
				}
				staticCols = append(staticCols, col)
				staticLen++
				continue
			}
			// The new lookup replaces the static range: it may only hold points (which
			// become keys) and whole columns.
			_, below := ce.LowerBound.(sql.BelowNull)
			_, above := ce.UpperBound.(sql.AboveAll)
			if !below || !above {
				return n, true, nil
			}
		}
	}

	idxs, err := t.GetIndexes(ctx)
	if err != nil {
		return n, true, err
	}
	var best *Index
	bestLen := staticLen
	for _, si := range idxs {
		ix := si.(*Index)
		if ix.PrefixLengths() != nil {
			continue
		}
		l, outerCols := 0, 0
		for _, c := range ix.cols {
			col := strings.ToLower(t.sch.Schema[c].Name)
			if _, ok := keys[col]; !ok {
				break
			}
			if byOuter[col] {
				outerCols++
			}
			l++
		}
		if l > bestLen && outerCols > 0 && covers(t, ix.cols[:l], staticCols) {
			best, bestLen = ix, l
		}
	}
	if best == nil {
		return n, true, nil
	}
	keyExprs := make([]sql.Expression, bestLen)
	for i := range keyExprs {
		keyExprs[i] = keys[strings.ToLower(t.sch.Schema[best.cols[i]].Name)]
	}
	ita, err := plan.NewIndexedAccessForTableNode(ctx, rt, plan.NewLookupBuilder(best, keyExprs, make([]bool, bestLen)))
	if err != nil {
		return n, true, err
	}
	var id sql.TableId
	var cols sql.ColSet
	if static != nil {
		id, cols = static.Id(), static.Columns()
	} else {
		id, cols = rt.Id(), rt.Columns()
	}
	return ita.WithId(id).WithColumns(cols).(sql.Node), false, nil
}

// outerOrConstant reports whether e depends only on the outer row's columns in outer and on
// constants (no column of this scope, no subquery, no non-deterministic function), and
// whether it reads the outer row at all.
func outerOrConstant(e sql.Expression, outer sql.ColSet) (ok, readsOuter bool) {
	ok = true
	transform.InspectExpr(e, func(e sql.Expression) bool {
		switch e := e.(type) {
		case *expression.GetField:
			readsOuter = true
			if !outer.Contains(e.Id()) {
				ok = false
			}
		case *plan.Subquery, sql.NonDeterministicExpression:
			ok = false
		}
		return !ok
	})
	return ok, readsOuter
}

func anyTrue(m map[string]bool) bool {
	for _, v := range m {
		if v {
			return true
		}
	}
	return false
}

// sameKind reports whether a key of type key looks up a column of type col with the
// comparison the equality would make: integers of the same signedness, or the same type.
func sameKind(col, key sql.Type) bool {
	if types.IsInteger(col) && types.IsInteger(key) {
		return types.IsSigned(col) == types.IsSigned(key)
	}
	return col.Equals(key)
}

// covers reports whether the columns cols of t include every column named in names.
func covers(t *Table, cols []int, names []string) bool {
	for _, name := range names {
		found := false
		for _, c := range cols {
			if strings.EqualFold(t.sch.Schema[c].Name, name) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
