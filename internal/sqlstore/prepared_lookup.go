package sqlstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
)

// newRecipe finds the WHERE conjuncts that can make ita's lookup and checks that they make
// exactly it for the bound values. alias is the name the statement gives ita's table, if
// any: its conjuncts name the columns by it. The lookup may be one range made of comparisons, or
// the union of the ranges of one IN list's rows (a column's or a row constructor's) or of
// one OR's disjuncts, each with the comparisons of the other conjuncts.
func newRecipe(ctx *sql.Context, ita *plan.IndexedTableAccess, alias string, filters []sql.Expression) (*lookupRecipe, error) {
	lookup, err := ita.GetLookup(ctx, nil)
	if err != nil {
		return nil, err
	}
	ranges, isMySQL := lookup.Ranges.(sql.MySQLRangeCollection)
	if !isMySQL || lookup.Index == nil || lookup.IsEmptyRange || lookup.IsSpatialLookup || len(ranges) == 0 ||
		len(ranges) > maxRecipeRanges || lookup.Index.IsSpatial() || lookup.Index.IsFullText() {
		return nil, fmt.Errorf("sqlstore: plan not cached: lookup kind %v %v (%d ranges)", lookup.IsEmptyRange, lookup.IsSpatialLookup, len(ranges))
	}
	rc := recipeCols{table: strings.ToLower(ita.Name()), alias: strings.ToLower(alias), cols: map[string]sql.Type{}}
	for _, cet := range lookup.Index.ColumnExpressionTypes() {
		rc.cols[strings.ToLower(cet.Expression)] = cet.Type
	}
	r := &lookupRecipe{lookup: lookup, keyTypes: rc.cols}
	var leaves []sql.Expression
	for _, f := range filters {
		// BETWEEN is two conditions for the index builder
		if b, ok := f.(*expression.Between); ok {
			leaves = append(leaves, expression.NewGreaterThanOrEqual(b.Val, b.Lower), expression.NewLessThanOrEqual(b.Val, b.Upper))
			continue
		}
		leaves = append(leaves, f)
	}
	var disjunctive [][][]recipeLeaf // the alternatives of each IN list or OR on the index
	for _, f := range leaves {
		if alts := rc.alternatives(f); alts != nil {
			disjunctive = append(disjunctive, alts)
			continue
		}
		lf, ok, err := rc.leaf(f)
		if err != nil {
			return nil, err
		}
		if ok {
			r.leaves = append(r.leaves, lf)
		}
	}
	// The analyser used the comparisons alone, or them and one of the disjunctive filters.
	for i := -1; i < len(disjunctive); i++ {
		r.alts = nil
		if i >= 0 {
			r.alts = disjunctive[i]
		}
		if len(r.leaves) == 0 && len(r.alts) == 0 {
			continue
		}
		if got, ok := r.build(ctx, nil); ok && sameRangeSet(got.Ranges.(sql.MySQLRangeCollection), ranges) {
			if pp := newPointPlan(r); pp != nil {
				r.pointPlan = pp
				fast, ok, decided := r.points(ctx, nil)
				if !ok || !decided || !sameRanges(fast, got.Ranges.(sql.MySQLRangeCollection)) {
					r.pointPlan = nil
				}
			}
			return r, nil
		}
	}
	if len(r.leaves) == 0 && len(disjunctive) == 0 {
		return nil, errors.New("sqlstore: plan not cached: no recipe")
	}
	return nil, errors.New("sqlstore: plan not cached: lookup not reproduced")
}

// maxRecipeRanges bounds the ranges of a lookup a template rebuilds per execution.
const maxRecipeRanges = 256

// recipeCols names an index's columns as the index builder does: by the table's own name,
// whatever alias the statement gives it.
type recipeCols struct {
	table string
	alias string // "" without one
	cols  map[string]sql.Type
}

// column returns the index column name of e, a column of the table in the index.
func (rc recipeCols) column(e sql.Expression) (string, bool) {
	gf, ok := e.(*expression.GetField)
	if !ok {
		return "", false
	}
	if from := gf.Table(); rc.alias != "" && !strings.EqualFold(from, rc.alias) || rc.alias == "" && !strings.EqualFold(from, rc.table) {
		return "", false
	}
	name := rc.table + "." + strings.ToLower(gf.Name())
	_, ok = rc.cols[name]
	return name, ok
}

// leaf returns the index condition f is, if it is one.
func (rc recipeCols) leaf(f sql.Expression) (recipeLeaf, bool, error) {
	op, left, right, ok := analyzer.IndexLeafChildren(f)
	if !ok {
		return recipeLeaf{}, false, nil
	}
	if _, isGF := left.(*expression.GetField); !isGF {
		left, right = right, left
		op = op.Swap()
	}
	name, ok := rc.column(left)
	if !ok {
		return recipeLeaf{}, false, nil
	}
	switch op {
	case analyzer.IndexScanOpIsNull, analyzer.IndexScanOpIsNotNull:
		return recipeLeaf{name: name, op: op}, true, nil
	case analyzer.IndexScanOpEq, analyzer.IndexScanOpNullSafeEq, analyzer.IndexScanOpGt,
		analyzer.IndexScanOpGte, analyzer.IndexScanOpLt, analyzer.IndexScanOpLte:
		if right == nil || !evaluable(right) {
			return recipeLeaf{}, false, nil
		}
		return recipeLeaf{name: name, op: op, value: right}, true, nil
	case analyzer.IndexScanOpInSet, analyzer.IndexScanOpNotInSet:
		return recipeLeaf{}, false, nil // handled as alternatives, or not an index condition
	}
	return recipeLeaf{}, false, fmt.Errorf("sqlstore: plan not cached: index condition %s", f)
}

// alternatives returns the rows of f, an IN list on index columns, or the disjuncts of f,
// an OR of conjunctions of index conditions, as index conditions; nil if f is neither.
func (rc recipeCols) alternatives(f sql.Expression) [][]recipeLeaf {
	switch f := f.(type) {
	case *expression.InTuple:
		list, ok := f.Right().(expression.Tuple)
		if !ok {
			return nil
		}
		if name, ok := rc.column(f.Left()); ok {
			alts := make([][]recipeLeaf, 0, len(list))
			for _, v := range list {
				if !evaluable(v) {
					return nil
				}
				alts = append(alts, []recipeLeaf{{name: name, op: analyzer.IndexScanOpEq, value: v}})
			}
			return alts
		}
		row, ok := f.Left().(expression.Tuple)
		if !ok {
			return nil
		}
		alts := make([][]recipeLeaf, 0, len(list))
		for _, v := range list {
			vals, ok := v.(expression.Tuple)
			if !ok || len(vals) != len(row) || !evaluable(vals) {
				return nil
			}
			var alt []recipeLeaf
			for j, c := range row {
				if name, ok := rc.column(c); ok {
					alt = append(alt, recipeLeaf{name: name, op: analyzer.IndexScanOpEq, value: vals[j]})
				}
			}
			if alt == nil {
				return nil
			}
			alts = append(alts, alt)
		}
		return alts
	case *expression.Or:
		var alts [][]recipeLeaf
		for _, d := range expression.SplitDisjunction(f) {
			var alt []recipeLeaf
			for _, c := range expression.SplitConjunction(d) {
				lf, ok, err := rc.leaf(c)
				if err != nil || !ok {
					return nil
				}
				alt = append(alt, lf)
			}
			alts = append(alts, alt)
		}
		return alts
	}
	return nil
}

// build makes the lookup for the values the leaves have after replacing the template's
// parameters (subst). It reports false when that lookup is empty, or when building it
// fails: the analyser might then have planned differently.
func (r *lookupRecipe) build(ctx *sql.Context, subst map[sql.Expression]sql.Expression) (sql.IndexLookup, bool) {
	lk, ok, _ := r.buildPoints(ctx, subst)
	return lk, ok
}

// buildPoints is build, also reporting whether the ranges were made as points
// (prepared_points.go).
func (r *lookupRecipe) buildPoints(ctx *sql.Context, subst map[sql.Expression]sql.Expression) (sql.IndexLookup, bool, bool) {
	if r.pointPlan != nil {
		if rs, ok, decided := r.points(ctx, subst); decided {
			if !ok {
				return sql.IndexLookup{}, false, true
			}
			lk := r.lookup
			lk.Ranges = sql.MySQLRangeCollection(rs)
			return lk, true, true
		}
	}
	lk, ok := r.slowBuild(ctx, subst)
	return lk, ok, false
}

// slowBuild makes the lookup with the index builder.
func (r *lookupRecipe) slowBuild(ctx *sql.Context, subst map[sql.Expression]sql.Expression) (sql.IndexLookup, bool) {
	var all []sql.MySQLRange
	if r.alts == nil {
		rs, ok := r.ranges(ctx, subst, nil)
		if !ok || len(rs) != 1 {
			return sql.IndexLookup{}, false
		}
		all = rs
	} else {
		for _, alt := range r.alts {
			rs, ok := r.ranges(ctx, subst, alt)
			if !ok {
				return sql.IndexLookup{}, false
			}
			all = append(all, rs...)
		}
	}
	var nonEmpty []sql.MySQLRange
	for _, rg := range all {
		if empty, err := rg.IsEmpty(); err != nil {
			return sql.IndexLookup{}, false
		} else if !empty {
			nonEmpty = append(nonEmpty, rg)
		}
	}
	if len(nonEmpty) == 0 {
		return sql.IndexLookup{}, false
	}
	ranges, err := sql.RemoveOverlappingRanges(nonEmpty...)
	if err != nil || len(ranges) == 0 {
		return sql.IndexLookup{}, false
	}
	lk := r.lookup
	lk.Ranges = ranges
	return lk, true
}

// ranges evaluates the leaves and the alternative's into the index builder.
func (r *lookupRecipe) ranges(ctx *sql.Context, subst map[sql.Expression]sql.Expression, alt []recipeLeaf) ([]sql.MySQLRange, bool) {
	bb := sql.NewMySQLIndexBuilder(r.lookup.Index)
	for _, leaves := range [2][]recipeLeaf{r.leaves, alt} {
		for _, lf := range leaves {
			var v any
			if lf.value != nil {
				e := lf.value
				if subst != nil {
					e = substitute(e, subst)
				}
				var err error
				v, err = e.Eval(ctx, nil)
				if err != nil {
					return nil, false
				}
				var fits bool
				if v, fits = intKey(r.keyTypes[lf.name], v); !fits {
					return nil, false // an integer key out of range: intcompare.go
				}
			}
			switch lf.op {
			case analyzer.IndexScanOpEq:
				bb.Equals(ctx, lf.name, v)
			case analyzer.IndexScanOpNullSafeEq:
				if v == nil {
					bb.IsNull(ctx, lf.name)
				} else {
					bb.Equals(ctx, lf.name, v)
				}
			case analyzer.IndexScanOpGt:
				bb.GreaterThan(ctx, lf.name, v)
			case analyzer.IndexScanOpGte:
				bb.GreaterOrEqual(ctx, lf.name, v)
			case analyzer.IndexScanOpLt:
				bb.LessThan(ctx, lf.name, v)
			case analyzer.IndexScanOpLte:
				bb.LessOrEqual(ctx, lf.name, v)
			case analyzer.IndexScanOpIsNull:
				bb.IsNull(ctx, lf.name)
			case analyzer.IndexScanOpIsNotNull:
				bb.IsNotNull(ctx, lf.name)
			}
		}
	}
	if _, err := bb.Build(ctx); err != nil {
		return nil, false
	}
	return bb.Ranges(ctx), true
}

// sameRangeSet reports whether a and b hold the same ranges, in any order.
func sameRangeSet(a, b sql.MySQLRangeCollection) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
next:
	for i := range a {
		for j := range b {
			if !used[j] && sameRanges(sql.MySQLRangeCollection{a[i]}, sql.MySQLRangeCollection{b[j]}) {
				used[j] = true
				continue next
			}
		}
		return false
	}
	return true
}

func sameRanges(a, b sql.MySQLRangeCollection) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			eq, err := a[i][j].Equals(b[i][j])
			if err != nil || !eq {
				return false
			}
		}
	}
	return true
}

func substitute(e sql.Expression, subst map[sql.Expression]sql.Expression) sql.Expression {
	out, _, err := transform.Expr(e, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		if l, ok := e.(*expression.Literal); ok {
			if n, ok := subst[l]; ok {
				return n, transform.NewTree, nil
			}
		}
		return e, transform.SameTree, nil
	})
	if err != nil {
		return e
	}
	return out
}

// instantiate returns the template's plan for new parameter literals.
func (t *planTemplate) instantiate(ctx *sql.Context, lits []*expression.Literal) (node sql.Node, points int, _ bool) {
	subst := make(map[sql.Expression]sql.Expression, len(lits)+len(t.derived))
	for i, l := range lits {
		subst[t.params[i]] = l
	}
	for d, dv := range t.derived {
		v, _, err := dv.typ.Convert(ctx, lits[dv.param].Value())
		if err != nil && !expression.ErrNilOperand.Is(err) {
			return nil, 0, false // the binder fails here: let GMS report it
		}
		subst[d] = expression.NewLiteral(v, dv.typ)
	}
	ok := true
	var inst func(n sql.Node) (sql.Node, error)
	inst = func(n sql.Node) (sql.Node, error) {
		if !t.touched[n] {
			return n, nil // no parameter at or below n
		}
		if ita, isITA := n.(*plan.IndexedTableAccess); isITA {
			r := t.recipes[ita]
			if r == nil {
				return substituteNode(ita, subst)
			}
			lk, built, fast := r.buildPoints(ctx, subst)
			if fast {
				points++
			}
			if !built {
				ok = false
				return n, nil
			}
			nita, err := plan.NewStaticIndexedAccessForTableNode(ctx, ita.TableNode, lk)
			if err != nil {
				return nil, err
			}
			return nita.WithId(ita.Id()).WithColumns(ita.Columns()).(sql.Node), nil
		}
		out := n
		if _, opaque := n.(sql.OpaqueNode); !opaque {
			children := n.Children()
			var nc []sql.Node
			for i, c := range children {
				c2, err := inst(c)
				if err != nil {
					return nil, err
				}
				if c2 != c {
					if nc == nil {
						nc = append([]sql.Node(nil), children...)
					}
					nc[i] = c2
				}
			}
			if nc != nil {
				var err error
				if out, err = out.WithChildren(nc...); err != nil {
					return nil, err
				}
			}
		}
		if ii, isInsert := n.(*plan.InsertInto); isInsert && ii.Source != nil {
			src, err := inst(ii.Source)
			if err != nil {
				return nil, err
			}
			if src != ii.Source {
				out = out.(*plan.InsertInto).WithSource(src)
			}
		}
		if t.own[n] {
			return substituteNode(out, subst)
		}
		return out, nil
	}
	out, err := inst(t.plan)
	if err != nil || !ok {
		return nil, 0, false
	}
	return out, points, true
}

// markParams records which nodes of the plan hold a parameter (or a literal derived from
// one) or a lookup recipe, and which have such a node at or below them: instantiate copies
// only those.
func (t *planTemplate) markParams() {
	lits := make(map[sql.Expression]bool, len(t.params)+len(t.derived))
	for _, l := range t.params {
		lits[l] = true
	}
	for d := range t.derived {
		lits[d] = true
	}
	t.own, t.touched = map[sql.Node]bool{}, map[sql.Node]bool{}
	var mark func(n sql.Node) bool
	mark = func(n sql.Node) bool {
		own := false
		if ita, isITA := n.(*plan.IndexedTableAccess); isITA && t.recipes[ita] != nil {
			own = true
		}
		if ex, isEx := n.(sql.Expressioner); isEx && !own {
			for _, e := range ex.Expressions() {
				sql.Inspect(e, func(e sql.Expression) bool {
					if lits[e] {
						own = true
					}
					return !own
				})
				if own {
					break
				}
			}
		}
		touched := own
		if _, opaque := n.(sql.OpaqueNode); !opaque {
			for _, c := range n.Children() {
				if mark(c) {
					touched = true
				}
			}
		}
		if ii, isInsert := n.(*plan.InsertInto); isInsert && ii.Source != nil && mark(ii.Source) {
			touched = true
		}
		if own {
			t.own[n] = true
		}
		if touched {
			t.touched[n] = true
		}
		return touched
	}
	mark(t.plan)
}

// substituteNode returns n with the new parameter literals in its expressions.
func substituteNode(n sql.Node, subst map[sql.Expression]sql.Expression) (sql.Node, error) {
	ex, isEx := n.(sql.Expressioner)
	if !isEx {
		return n, nil
	}
	exprs := ex.Expressions()
	var nexprs []sql.Expression
	for i, e := range exprs {
		ne := substitute(e, subst)
		if ne != e {
			if nexprs == nil {
				nexprs = append([]sql.Expression(nil), exprs...)
			}
			nexprs[i] = ne
		}
	}
	if nexprs == nil {
		return n, nil
	}
	return ex.WithExpressions(nexprs...)
}
