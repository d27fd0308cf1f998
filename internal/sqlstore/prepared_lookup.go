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
// exactly it for the bound values.
func newRecipe(ctx *sql.Context, ita *plan.IndexedTableAccess, filters []sql.Expression) (*lookupRecipe, error) {
	lookup, err := ita.GetLookup(ctx, nil)
	if err != nil {
		return nil, err
	}
	ranges, isMySQL := lookup.Ranges.(sql.MySQLRangeCollection)
	if !isMySQL || lookup.Index == nil || lookup.IsEmptyRange || lookup.IsSpatialLookup || len(ranges) != 1 ||
		lookup.Index.IsSpatial() || lookup.Index.IsFullText() {
		return nil, fmt.Errorf("sqlstore: plan not cached: lookup kind %s %v %v", lookup.Ranges, lookup.IsEmptyRange, lookup.IsSpatialLookup)
	}
	cols := map[string]bool{}
	for _, cet := range lookup.Index.ColumnExpressionTypes() {
		cols[strings.ToLower(cet.Expression)] = true
	}
	table := strings.ToLower(ita.Name())
	r := &lookupRecipe{lookup: lookup}
	var leaves []sql.Expression
	for _, f := range filters {
		// BETWEEN is two conditions for the index builder
		if b, ok := f.(*expression.Between); ok {
			leaves = append(leaves, expression.NewGreaterThanOrEqual(b.Val, b.Lower), expression.NewLessThanOrEqual(b.Val, b.Upper))
			continue
		}
		leaves = append(leaves, f)
	}
	for _, f := range leaves {
		op, left, right, ok := analyzer.IndexLeafChildren(f)
		if !ok {
			continue
		}
		gf, isGF := left.(*expression.GetField)
		if !isGF {
			left, right = right, left
			op = op.Swap()
			gf, isGF = left.(*expression.GetField)
		}
		if !isGF || !strings.EqualFold(gf.Table(), ita.Name()) {
			continue
		}
		name := table + "." + strings.ToLower(gf.Name())
		if !cols[name] {
			continue
		}
		switch op {
		case analyzer.IndexScanOpIsNull, analyzer.IndexScanOpIsNotNull:
			r.leaves = append(r.leaves, recipeLeaf{name: name, op: op})
		case analyzer.IndexScanOpEq, analyzer.IndexScanOpNullSafeEq, analyzer.IndexScanOpGt,
			analyzer.IndexScanOpGte, analyzer.IndexScanOpLt, analyzer.IndexScanOpLte:
			if right == nil || !evaluable(right) {
				continue
			}
			r.leaves = append(r.leaves, recipeLeaf{name: name, op: op, value: right})
		default:
			return nil, fmt.Errorf("sqlstore: plan not cached: index condition %s", f)
		}
	}
	if len(r.leaves) == 0 {
		return nil, errors.New("sqlstore: plan not cached: no recipe")
	}
	got, ok := r.build(ctx, nil)
	if !ok || !sameRanges(got.Ranges.(sql.MySQLRangeCollection), ranges) {
		return nil, errors.New("sqlstore: plan not cached: lookup not reproduced")
	}
	return r, nil
}

// build makes the lookup for the values the leaves have after replacing the template's
// parameters (subst). It reports false when that lookup is not one non-empty range, or
// when building it fails: the analyser might then have planned differently.
func (r *lookupRecipe) build(ctx *sql.Context, subst map[sql.Expression]sql.Expression) (sql.IndexLookup, bool) {
	bb := sql.NewMySQLIndexBuilder(r.lookup.Index)
	for _, lf := range r.leaves {
		var v any
		if lf.value != nil {
			e := lf.value
			if subst != nil {
				e = substitute(e, subst)
			}
			var err error
			v, err = e.Eval(ctx, nil)
			if err != nil {
				return sql.IndexLookup{}, false
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
	if _, err := bb.Build(ctx); err != nil {
		return sql.IndexLookup{}, false
	}
	ranges, err := sql.RemoveOverlappingRanges(bb.Ranges(ctx)...)
	if err != nil || len(ranges) != 1 {
		return sql.IndexLookup{}, false
	}
	if empty, err := ranges[0].IsEmpty(); err != nil || empty {
		return sql.IndexLookup{}, false
	}
	lk := r.lookup
	lk.Ranges = ranges
	return lk, true
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
func (t *planTemplate) instantiate(ctx *sql.Context, lits []*expression.Literal) (sql.Node, bool) {
	subst := make(map[sql.Expression]sql.Expression, len(lits)+len(t.derived))
	for i, l := range lits {
		subst[t.params[i]] = l
	}
	for d, dv := range t.derived {
		v, _, err := dv.typ.Convert(ctx, lits[dv.param].Value())
		if err != nil && !expression.ErrNilOperand.Is(err) {
			return nil, false // the binder fails here: let GMS report it
		}
		subst[d] = expression.NewLiteral(v, dv.typ)
	}
	ok := true
	var inst func(n sql.Node) (sql.Node, error)
	inst = func(n sql.Node) (sql.Node, error) {
		out, _, err := transform.Node(n, func(n sql.Node) (sql.Node, transform.TreeIdentity, error) {
			if ita, isITA := n.(*plan.IndexedTableAccess); isITA {
				r := t.recipes[ita]
				if r == nil {
					return n, transform.SameTree, nil
				}
				lk, built := r.build(ctx, subst)
				if !built {
					ok = false
					return n, transform.SameTree, nil
				}
				nita, err := plan.NewStaticIndexedAccessForTableNode(ctx, ita.TableNode, lk)
				if err != nil {
					return nil, transform.SameTree, err
				}
				return nita.WithId(ita.Id()).WithColumns(ita.Columns()).(sql.Node), transform.NewTree, nil
			}
			changed := false
			if ii, isInsert := n.(*plan.InsertInto); isInsert && ii.Source != nil {
				src, err := inst(ii.Source)
				if err != nil {
					return nil, transform.SameTree, err
				}
				if src != ii.Source {
					n = ii.WithSource(src)
					changed = true
				}
			}
			ex, isEx := n.(sql.Expressioner)
			if !isEx {
				return n, transform.TreeIdentity(!changed), nil
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
				return n, transform.TreeIdentity(!changed), nil
			}
			nn, err := ex.WithExpressions(nexprs...)
			if err != nil {
				return nil, transform.SameTree, err
			}
			return nn, transform.NewTree, nil
		})
		return out, err
	}
	out, err := inst(t.plan)
	if err != nil || !ok {
		return nil, false
	}
	return out, true
}
