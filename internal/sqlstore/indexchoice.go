package sqlstore

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
)

// Choosing a secondary index over a shorter primary key prefix.
//
// Without statistics GMS's index coster estimates every candidate at the same row count and
// then prefers a unique index, even when the filter binds only a prefix of it: for TPC-C's
// `c_w_id = ? AND c_d_id = ? AND c_last = ?` it reads the whole district through the primary
// key (c_w_id, c_d_id, c_id) instead of the few rows of idx_customer (c_w_id, c_d_id, c_last,
// c_first). MySQL's optimiser takes the index whose equalities select the fewest rows, which
// without statistics means the longest prefix of columns bound by equalities. Table implements
// sql.IndexSearchableTable for exactly that case: when some non-unique index has a longer
// equality-bound prefix than every unique index, and no unique index is bound whole, it
// returns the lookup on that index; in every other case GMS costs the indexes as before.

var _ sql.IndexSearchableTable = (*Table)(nil)

// SkipIndexCosting implements sql.IndexSearchable: GMS costs whatever
// LookupForExpressions leaves to it.
func (t *Table) SkipIndexCosting() bool { return false }

// LookupForExpressions implements sql.IndexSearchable (see above). When it leaves the choice
// to GMS, GMS's index coster asks for the table's statistics next (stats.go).
func (t *Table) LookupForExpressions(ctx *sql.Context, exprs ...sql.Expression) (sql.IndexLookup, *sql.FuncDepSet, sql.Expression, bool, error) {
	lookup, fds, rest, ok, err := t.lookupForExpressions(ctx, exprs...)
	if err == nil && !ok {
		t.s.stats.costing(ctx, t, exprs)
	}
	return lookup, fds, rest, ok, err
}

func (t *Table) lookupForExpressions(ctx *sql.Context, exprs ...sql.Expression) (sql.IndexLookup, *sql.FuncDepSet, sql.Expression, bool, error) {
	eqs := map[string]int{} // lower-case column name -> index of its equality in exprs
	for i, e := range exprs {
		op, left, right, ok := analyzer.IndexLeafChildren(e)
		if !ok || op != analyzer.IndexScanOpEq {
			continue
		}
		gf, isCol := left.(*expression.GetField)
		if !isCol {
			left, right = right, left
			gf, isCol = left.(*expression.GetField)
		}
		if !isCol || right == nil || !evaluable(right) || !expression.PreciseComparison(e) {
			continue
		}
		if t.sch.Schema.IndexOfColName(gf.Name()) < 0 {
			continue
		}
		if _, dup := eqs[strings.ToLower(gf.Name())]; !dup {
			eqs[strings.ToLower(gf.Name())] = i
		}
	}
	if len(eqs) == 0 {
		return sql.IndexLookup{}, nil, nil, false, nil
	}
	idxs, err := t.GetIndexes(ctx)
	if err != nil {
		return sql.IndexLookup{}, nil, nil, false, err
	}
	var best *Index
	bestLen, uniqueLen := 0, 0
	for _, si := range idxs {
		ix := si.(*Index)
		n := 0
		for _, c := range ix.cols {
			if _, ok := eqs[strings.ToLower(t.sch.Schema[c].Name)]; !ok {
				break
			}
			n++
		}
		if ix.IsUnique() {
			if n == len(ix.cols) {
				return sql.IndexLookup{}, nil, nil, false, nil // a point lookup: GMS takes it
			}
			uniqueLen = max(uniqueLen, n)
			continue
		}
		if n > bestLen && ix.PrefixLengths() == nil {
			best, bestLen = ix, n
		}
	}
	if best == nil || bestLen <= uniqueLen {
		return sql.IndexLookup{}, nil, nil, false, nil
	}
	b := sql.NewMySQLIndexBuilder(best)
	used := map[int]bool{}
	exprNames := best.Expressions()
	for i := 0; i < bestLen; i++ {
		j := eqs[strings.ToLower(t.sch.Schema[best.cols[i]].Name)]
		_, left, right, _ := analyzer.IndexLeafChildren(exprs[j])
		if _, isCol := left.(*expression.GetField); !isCol {
			right = left
		}
		v, err := right.Eval(ctx, nil)
		if err != nil || v == nil {
			return sql.IndexLookup{}, nil, nil, false, nil
		}
		b.Equals(ctx, strings.ToLower(exprNames[i]), v)
		used[j] = true
	}
	lookup, err := b.Build(ctx)
	if err != nil {
		// GMS's own planning reports conversion errors its way.
		return sql.IndexLookup{}, nil, nil, false, nil
	}
	var rest []sql.Expression
	for i, e := range exprs {
		if !used[i] {
			rest = append(rest, e)
		}
	}
	var newFilter sql.Expression
	if len(rest) > 0 {
		newFilter = expression.JoinAnd(rest...)
	}
	return lookup, &sql.FuncDepSet{}, newFilter, true, nil
}
