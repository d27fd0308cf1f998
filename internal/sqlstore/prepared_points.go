package sqlstore

import (
	"slices"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/shopspring/decimal"
)

// Point lookups without the index builder.
//
// Most lookups a template rebuilds are points: `id = ?`, `(w, i) IN ((?, ?), ...)`, `id IN
// (?, ...)`. For those, sql.MySQLIndexBuilder (a map of ranges per column, an intersection
// per condition, a permutation pass) and sql.RemoveOverlappingRanges (a range tree) cost more
// than the lookup they describe. A recipe whose conditions are all equalities, each on its
// own index column in every alternative, makes the same ranges itself: the index's columns
// in order, the converted value as a closed point on each column compared, the whole range
// on the others, the alternatives sorted by their points and duplicates dropped, as the range
// tree returns them. Whatever the builder would treat specially (NULL, a fraction compared
// with an integer column, a value the column's type refuses) goes the builder's way. A
// recipe keeps the fast path only if it gave exactly the builder's ranges, in order, for the
// values it was planned with (newRecipe).

// pointPlan is how a recipe makes point ranges.
type pointPlan struct {
	index map[string]int // the index's column expressions, lower case -> position
	types []sql.Type     // the types the index builder uses (strings promoted)
}

// newPointPlan returns the point plan of r, nil if its conditions are not all equalities on
// distinct columns.
func newPointPlan(r *lookupRecipe) *pointPlan {
	p := &pointPlan{index: map[string]int{}}
	for i, cet := range r.lookup.Index.ColumnExpressionTypes() {
		typ := cet.Type
		if _, ok := typ.(sql.StringType); ok {
			typ = typ.Promote()
		}
		p.index[strings.ToLower(cet.Expression)] = i
		p.types = append(p.types, typ)
	}
	distinct := func(seen map[string]bool, leaves []recipeLeaf) bool {
		for _, lf := range leaves {
			if lf.op != analyzer.IndexScanOpEq || lf.value == nil || seen[lf.name] {
				return false
			}
			if _, ok := p.index[lf.name]; !ok {
				return false
			}
			seen[lf.name] = true
		}
		return true
	}
	if !distinct(map[string]bool{}, r.leaves) {
		return nil
	}
	// Every alternative compares the same columns, so that two ranges are the same or
	// disjoint (the range tree would merge a point into a range that holds it).
	var cols string
	for i, alt := range r.alts {
		seen := map[string]bool{}
		for _, lf := range r.leaves {
			seen[lf.name] = true
		}
		if !distinct(seen, alt) {
			return nil
		}
		names := make([]string, 0, len(alt))
		for _, lf := range alt {
			names = append(names, lf.name)
		}
		slices.Sort(names)
		if c := strings.Join(names, "\x00"); i == 0 {
			cols = c
		} else if c != cols {
			return nil
		}
	}
	return p
}

// points makes the recipe's ranges for the values after subst. decided is false when the
// index builder must make them (see above); ok is false when the lookup cannot be made (as
// ranges reports it).
func (r *lookupRecipe) points(ctx *sql.Context, subst map[sql.Expression]sql.Expression) (rs []sql.MySQLRange, ok, decided bool) {
	p := r.pointPlan
	one := func(alt []recipeLeaf) (sql.MySQLRange, bool, bool) {
		rg := make(sql.MySQLRange, len(p.types))
		for i, typ := range p.types {
			rg[i] = sql.AllRangeColumnExpr(typ)
		}
		for _, leaves := range [2][]recipeLeaf{r.leaves, alt} {
			for _, lf := range leaves {
				e := lf.value
				if subst != nil {
					e = substitute(e, subst)
				}
				v, err := e.Eval(ctx, nil)
				if err != nil {
					return nil, false, true
				}
				var fits bool
				if v, fits = intKey(r.keyTypes[lf.name], v); !fits {
					return nil, false, true // an integer key out of range: intcompare.go
				}
				if v == nil {
					return nil, false, false
				}
				i := p.index[lf.name]
				typ := p.types[i]
				if nt, isNum := typ.(sql.NumberType); isNum && !nt.IsFloat() {
					switch v.(type) {
					case float32, float64, decimal.Decimal:
						return nil, false, false // empty if it has a fraction
					}
				}
				k, _, err := typ.Convert(ctx, v)
				if err != nil || k == nil {
					return nil, false, false
				}
				rg[i] = sql.ClosedRangeColumnExpr(k, k, typ)
			}
		}
		return rg, true, true
	}
	if r.alts == nil {
		rg, ok, decided := one(nil)
		if !ok {
			return nil, false, decided
		}
		return []sql.MySQLRange{rg}, true, true
	}
	rs = make([]sql.MySQLRange, 0, len(r.alts))
	for _, alt := range r.alts {
		rg, ok, decided := one(alt)
		if !ok {
			return nil, false, decided
		}
		rs = append(rs, rg)
	}
	// Sorted by their points, without duplicates, as the range tree gives them.
	var cmpErr error
	cmp := func(a, b sql.MySQLRange) int {
		for i, typ := range p.types {
			ka, aPoint := a[i].LowerBound.(sql.Below)
			kb, bPoint := b[i].LowerBound.(sql.Below)
			if !aPoint || !bPoint {
				continue // the whole column in both
			}
			c, err := typ.Compare(ctx, ka.Key, kb.Key)
			if err != nil {
				cmpErr = err
				return 0
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}
	// Insertion sort: lists are short, and mostly in order already.
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && cmp(rs[j-1], rs[j]) > 0; j-- {
			rs[j-1], rs[j] = rs[j], rs[j-1]
		}
	}
	out := rs[:1]
	for _, rg := range rs[1:] {
		if cmp(out[len(out)-1], rg) != 0 {
			out = append(out, rg)
		}
	}
	if cmpErr != nil {
		return nil, false, false
	}
	return out, true, true
}
