package sqlstore

import (
	"strings"
	"sync/atomic"
	"time"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function/aggregation"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// Correlated scalar aggregates answered from one grouped pass.
//
// TPC-C's consistency check 3.3.2.10 asks, for every customer of a warehouse,
//
//	(SELECT SUM(h_amount) FROM history WHERE h_c_w_id = ? AND h_c_d_id = c.c_d_id AND h_c_id = c.c_id)
//
// history has no index on (h_c_w_id, h_c_d_id, h_c_id), so GMS evaluates the subquery once
// per customer, each time reading all of the warehouse's history: 30,000 × 30,000 rows.
//
// decorrelateAggs, run last on the whole analysed plan of a read-only statement, finds
// scalar subqueries in projections and filters whose query is one aggregate over no groups
// (SUM, AVG, COUNT, MIN, MAX), over a table or an inner join of tables, whose only
// references to the outer row are top-level conjuncts inner = outer on integers of the same
// signedness, where no table is already read through an index keyed by the outer row (the
// lookup rules, correlated.go and GMS's applyIndexesFromOuterScope, made the subquery cheap)
// and no index of the table has the inner columns and the constant-bound ones as a prefix.
// It replaces each by an aggLookup: the original subquery, plus the same query with those
// equalities removed and their inner sides added as grouping keys.
//
// An aggLookup in the plan holds no state. The exec builder (aggLookupBinder, first among the
// exec overrides) gives each Project or Filter holding one, every time it builds the node
// for an execution, a copy bound to fresh state: nothing is kept across executions of a
// plan (prepared statements, procedures, the inner side of joins rebuilt per row), so the
// grouped pass reads what the statement's own transaction sees at that point. Per execution
// the bound copy evaluates the original subquery for the first outer rows (see passDue);
// after that it runs the grouped query once (through GMS's GroupBy, the exec builder and the
// same outer-row prepending GMS uses for subqueries), keeps a map from the key tuple to the
// aggregate, and answers every further row from the map. A missing key gets the aggregate
// of no rows (GMS's own empty buffer: NULL, or 0 for COUNT); an outer NULL key gets the
// same; groups with a NULL key are dropped (NULL = x is never true). If the grouped pass
// fails, or has more than defaultMaxAggGroups groups, or a value is not an integer, it goes back to
// evaluating the subquery per row.

// When the grouped pass is due. The subquery reads no index keyed by the outer row, so one
// evaluation reads about what the grouped pass reads (more with a join, whose lookups the
// taken-out equalities no longer restrict): a statement that has spent adaptiveTime on
// adaptiveMinRows evaluations or more has spent about what the pass costs, and one that has
// evaluated adaptiveRows rows has many to go, probably. A statement of at most
// adaptiveMinRows outer rows never pays for a pass.
const (
	adaptiveMinRows = 3
	adaptiveRows    = 32
	adaptiveTime    = 10 * time.Millisecond
)

// defaultMaxAggGroups is the most groups a grouped pass keeps; with more, the execution
// goes per row.
const defaultMaxAggGroups = 1 << 18

// decorrelator is a store's setting and counters of the rule.
type decorrelator struct {
	off       atomic.Bool  // the rule is off (tests compare with per-row evaluation)
	maxGroups atomic.Int64 // see defaultMaxAggGroups
	// passes and abandoned count grouped passes made and given up, for tests and
	// diagnostics.
	passes, abandoned atomic.Uint64
}

func newDecorrelator() *decorrelator {
	d := &decorrelator{}
	d.maxGroups.Store(defaultMaxAggGroups)
	return d
}

// installDecorrelate adds the rule. GMS keeps the after-all rules per process
// (analyzer.OnceAfterAll, which later engines copy), so the rule finds its store's
// decorrelator through the session.
func installDecorrelate(eng *sqle.Engine) {
	installAfterAll(eng, analyzer.Rule{Id: ruleDecorrelateAggs, Apply: decorrelateAggs})
}

func decorrelateAggs(ctx *sql.Context, a *analyzer.Analyzer, n sql.Node, scope *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	sess, ok := ctx.Session.(*Session)
	if !ok || sess.store == nil || sess.store.decor == nil {
		return n, transform.SameTree, nil
	}
	d := sess.store.decor
	// Only whole statements (subqueries are analysed first with a scope, and their exec
	// indexes are assigned again for the statement), and only reads: a statement that writes
	// may change, row by row, what its subqueries read. A locking read locks what it reads.
	if !scope.IsEmpty() || !n.IsReadOnly() || a.ExecBuilder == nil || d.off.Load() {
		return n, transform.SameTree, nil
	}
	if _, locking := lockingMode(ctx); locking {
		return n, transform.SameTree, nil
	}
	return d.decorrelateNode(ctx, a.ExecBuilder, n)
}

// decorrelateNode rewrites the subqueries of n and of the plans nested in it.
func (d *decorrelator) decorrelateNode(ctx *sql.Context, b sql.NodeExecBuilder, n sql.Node) (sql.Node, transform.TreeIdentity, error) {
	return transform.NodeWithOpaque(n, func(n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		ex, ok := n.(sql.Expressioner)
		if !ok {
			return n, transform.SameTree, nil
		}
		var rewritable bool
		switch n.(type) {
		case *plan.Project, *plan.Filter:
			rewritable = true
		}
		exprs := append([]sql.Expression(nil), ex.Expressions()...)
		identity := transform.SameTree
		for i, e := range exprs {
			ne, same, err := transform.Expr(e, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
				sq, ok := e.(*plan.Subquery)
				if !ok {
					return e, transform.SameTree, nil
				}
				q, same, err := d.decorrelateNode(ctx, b, sq.Query)
				if err != nil {
					return e, transform.SameTree, err
				}
				if same == transform.NewTree {
					sq = sq.WithQuery(q)
				}
				if rewritable {
					if l := d.newAggLookup(ctx, b, sq); l != nil {
						return l, transform.NewTree, nil
					}
				}
				return sq, same, nil
			})
			if err != nil {
				return n, transform.SameTree, err
			}
			if same == transform.NewTree {
				exprs[i], identity = ne, transform.NewTree
			}
		}
		if identity == transform.SameTree {
			return n, transform.SameTree, nil
		}
		nn, err := ex.WithExpressions(exprs...)
		return nn, transform.NewTree, err
	})
}

// corrKey is one correlated equality taken out of the subquery: inner = outer.
type corrKey struct {
	inner, outer sql.Expression
	signed       bool
}

// newAggLookup returns the aggLookup for sq, or nil if sq is not of the form it answers.
func (d *decorrelator) newAggLookup(ctx *sql.Context, b sql.NodeExecBuilder, sq *plan.Subquery) *aggLookup {
	outer := sq.Correlated()
	if outer.Empty() || sq.Volatile() {
		return nil
	}
	q := sq.Query
	var result *expression.GetField
	if p, ok := q.(*plan.Project); ok {
		if len(p.Projections) != 1 {
			return nil
		}
		e := p.Projections[0]
		if al, ok := e.(*expression.Alias); ok {
			e = al.Child
		}
		if result, ok = e.(*expression.GetField); !ok {
			return nil
		}
		q = p.Child
	}
	g, ok := q.(*plan.GroupBy)
	if !ok || len(g.GroupByExprs) != 0 || len(g.SelectedExprs) != 1 {
		return nil
	}
	agg, ok := g.SelectedExprs[0].(sql.Aggregation)
	if !ok || !groupableAgg(agg) || !innerOnly(agg, outer) {
		return nil
	}
	if result != nil {
		id, ok := agg.(sql.IdExpression)
		if !ok || id.Id() != result.Id() || outer.Contains(result.Id()) {
			return nil
		}
	}
	w := &corrWalk{ctx: ctx, outer: outer}
	input, ok := w.node(g.Child, true)
	if !ok || len(w.keys) == 0 || w.keyedByOuter || w.indexedKeys() {
		return nil
	}
	inner := make([]sql.Expression, len(w.keys))
	for i, k := range w.keys {
		inner[i] = k.inner
	}
	grouped := plan.NewGroupBy(append([]sql.Expression{agg}, inner...), inner, input)
	// Every reference to the outer row must be gone.
	if !innerOnlyNode(grouped, outer) {
		return nil
	}
	return &aggLookup{sub: sq, agg: agg, grouped: grouped, keys: w.keys, b: b, d: d}
}

// groupableAgg reports whether agg is one whose value per group is that of the aggregate
// over the group's rows alone.
func groupableAgg(agg sql.Aggregation) bool {
	switch a := agg.(type) {
	case *numericAgg:
		return a.window == nil
	case *aggregation.Sum, *aggregation.Avg, *aggregation.Count, *aggregation.CountDistinct, *countDistinct, *aggregation.Min, *aggregation.Max:
		if w, ok := agg.(sql.WindowAdaptableExpression); ok && w.Window() != nil {
			return false
		}
		return true
	}
	return false
}

// innerOnly reports whether e reads no column of outer, holds no subquery and is
// deterministic.
func innerOnly(e sql.Expression, outer sql.ColSet) bool {
	ok := true
	transform.InspectExpr(e, func(e sql.Expression) bool {
		switch e := e.(type) {
		case *expression.GetField:
			if outer.Contains(e.Id()) {
				ok = false
			}
		case *plan.Subquery, sql.NonDeterministicExpression:
			ok = false
		}
		return !ok
	})
	return ok
}

// innerOnlyNode reports whether every expression of n's nodes is innerOnly.
func innerOnlyNode(n sql.Node, outer sql.ColSet) bool {
	ok := true
	transform.Inspect(n, func(n sql.Node) bool {
		if ex, isEx := n.(sql.Expressioner); isEx && ok {
			for _, e := range ex.Expressions() {
				if !innerOnly(e, outer) {
					ok = false
				}
			}
		}
		return ok
	})
	return ok
}

// corrWalk takes the correlated equalities out of a subquery's input.
type corrWalk struct {
	ctx          *sql.Context
	outer        sql.ColSet
	keys         []corrKey
	keyedByOuter bool        // some table is read through an index keyed by the outer row
	tables       []tableRead // the tables read, for the index check
	consts       map[string]bool
}

// tableRead is a table of the input and the points its static index range binds.
type tableRead struct {
	name   string // as the query names it, lower case
	t      *Table
	points []string // lower-case columns bound to a point by a static index range
}

// node returns n without the correlated equalities of its filters, if n is made of filters,
// joins and tables only, and the equalities are where taking them out keeps the rows of every
// group: above or inside inner joins (removable).
func (w *corrWalk) node(n sql.Node, removable bool) (sql.Node, bool) {
	switch n := n.(type) {
	case *plan.Filter:
		var keep []sql.Expression
		for _, c := range expression.SplitConjunction(n.Expression) {
			if innerOnly(c, w.outer) {
				w.noteConst(c)
				keep = append(keep, c)
				continue
			}
			k, ok := w.corrEquality(c)
			if !ok || !removable {
				return n, false
			}
			w.keys = append(w.keys, k)
		}
		child, ok := w.node(n.Child, removable)
		if !ok {
			return n, false
		}
		if len(keep) == 0 {
			return child, true
		}
		return plan.NewFilter(expression.JoinAnd(keep...), child), true
	case *plan.JoinNode:
		if !innerOnlyExprs(n, w.outer) {
			return n, false
		}
		inner := removable && innerJoin(n.Op)
		left, ok := w.node(n.Left(), inner)
		if !ok {
			return n, false
		}
		right, ok := w.node(n.Right(), inner)
		if !ok {
			return n, false
		}
		nn, err := n.WithChildren(left, right)
		return nn, err == nil
	case *plan.TableAlias:
		if !w.table(n.Child, n.Name()) {
			return n, false
		}
		return n, true
	case *plan.ResolvedTable, *plan.IndexedTableAccess:
		return n, w.table(n, n.(sql.Nameable).Name())
	case *plan.StripRowNode, *plan.HashLookup, *plan.CachedResults:
		if !innerOnlyExprs(n, w.outer) {
			return n, false
		}
		child, ok := w.node(n.Children()[0], removable)
		if !ok {
			return n, false
		}
		nn, err := n.WithChildren(child)
		return nn, err == nil
	}
	return n, false
}

func innerOnlyExprs(n sql.Node, outer sql.ColSet) bool {
	if ex, ok := n.(sql.Expressioner); ok {
		for _, e := range ex.Expressions() {
			if !innerOnly(e, outer) {
				return false
			}
		}
	}
	return true
}

// innerJoin reports whether a join of type op returns exactly the pairs of rows of its
// inputs that satisfy its condition.
func innerJoin(op plan.JoinType) bool {
	switch op {
	case plan.JoinTypeCross, plan.JoinTypeCrossHash, plan.JoinTypeInner, plan.JoinTypeLookup,
		plan.JoinTypeHash, plan.JoinTypeMerge, plan.JoinTypeRangeHeap:
		return true
	}
	return false
}

// table notes the table node n (named name in the query): one read whole, through a static
// index range, or through a lookup keyed by other tables' columns.
func (w *corrWalk) table(n sql.Node, name string) bool {
	var rt *plan.ResolvedTable
	var points []string
	switch n := n.(type) {
	case *plan.ResolvedTable:
		rt = n
	case *plan.IndexedTableAccess:
		if !innerOnlyExprs(n, w.outer) {
			w.keyedByOuter = true
			return true
		}
		r, ok := n.TableNode.(*plan.ResolvedTable)
		if !ok {
			return false
		}
		rt = r
		if n.IsStatic() {
			points = staticPoints(w.ctx, n)
		}
	default:
		return false
	}
	w.tables = append(w.tables, tableRead{name: strings.ToLower(name), t: storeTable(rt.UnderlyingTable()), points: points})
	return true
}

// staticPoints returns the columns that the static index range of n binds to one value each.
func staticPoints(ctx *sql.Context, n *plan.IndexedTableAccess) []string {
	ix, ok := n.Index().(*Index)
	if !ok {
		return nil
	}
	lookup, err := n.GetLookup(ctx, nil)
	if err != nil {
		return nil
	}
	rc, ok := lookup.Ranges.(sql.MySQLRangeCollection)
	if !ok || len(rc) != 1 {
		return nil
	}
	var cols []string
	for i, ce := range rc[0] {
		if i >= len(ix.cols) || !isPoint(ctx, ce) {
			break
		}
		cols = append(cols, strings.ToLower(ix.t.sch.Schema[ix.cols[i]].Name))
	}
	return cols
}

// noteConst remembers a column that a kept conjunct binds to a constant.
func (w *corrWalk) noteConst(c sql.Expression) {
	eq, ok := c.(*expression.Equals)
	if !ok {
		return
	}
	for _, s := range [][2]sql.Expression{{eq.Left(), eq.Right()}, {eq.Right(), eq.Left()}} {
		gf, ok := s[0].(*expression.GetField)
		if !ok {
			continue
		}
		if usable, readsCols := outerOrConstant(s[1], sql.ColSet{}); usable && !readsCols {
			if w.consts == nil {
				w.consts = map[string]bool{}
			}
			w.consts[strings.ToLower(gf.Table())+"."+strings.ToLower(gf.Name())] = true
		}
	}
}

// corrEquality recognises inner = outer: an integer expression of the subquery's own columns
// and one of the outer row's, both signed or both unsigned, so that they are equal exactly
// when their values are.
func (w *corrWalk) corrEquality(c sql.Expression) (corrKey, bool) {
	eq, ok := c.(*expression.Equals)
	if !ok {
		return corrKey{}, false
	}
	for _, s := range [][2]sql.Expression{{eq.Left(), eq.Right()}, {eq.Right(), eq.Left()}} {
		in, out := s[0], s[1]
		if !innerOnly(in, w.outer) || !readsColumns(in) {
			continue
		}
		usable, readsOuter := outerOrConstant(out, w.outer)
		if !usable || !readsOuter {
			continue
		}
		it, ot := in.Type(), out.Type()
		if !types.IsInteger(it) || !types.IsInteger(ot) || types.IsSigned(it) != types.IsSigned(ot) {
			return corrKey{}, false
		}
		return corrKey{inner: in, outer: out, signed: types.IsSigned(it)}, true
	}
	return corrKey{}, false
}

func readsColumns(e sql.Expression) bool {
	return transform.InspectExpr(e, func(e sql.Expression) bool {
		_, ok := e.(*expression.GetField)
		return ok
	})
}

// indexedKeys reports whether some table has an index whose prefix is made of the table's
// key columns and columns bound to constants, and holds all its key columns: a lookup keyed
// by the outer row is the better plan there, and the lookup rules' business.
func (w *corrWalk) indexedKeys() bool {
	for _, tr := range w.tables {
		if tr.t == nil {
			continue
		}
		keyCols := map[string]bool{}
		for _, k := range w.keys {
			if gf, ok := k.inner.(*expression.GetField); ok && strings.EqualFold(gf.Table(), tr.name) {
				keyCols[strings.ToLower(gf.Name())] = true
			}
		}
		if len(keyCols) == 0 {
			continue
		}
		bound := func(col string) bool {
			if keyCols[col] || w.consts[tr.name+"."+col] {
				return true
			}
			for _, p := range tr.points {
				if p == col {
					return true
				}
			}
			return false
		}
		idxs, err := tr.t.GetIndexes(w.ctx)
		if err != nil {
			return true
		}
		for _, si := range idxs {
			ix, ok := si.(*Index)
			if !ok {
				continue
			}
			found := 0
			for _, c := range ix.cols {
				col := strings.ToLower(tr.t.sch.Schema[c].Name)
				if !bound(col) {
					break
				}
				if keyCols[col] {
					found++
				}
			}
			if found == len(keyCols) {
				return true
			}
		}
	}
	return false
}
