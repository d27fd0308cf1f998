package sqlstore

import (
	"strings"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
)

// ORDER BY read from an index after an equality-bound prefix.
//
// GMS drops a sort over an index lookup only when the ORDER BY columns are a prefix of the
// index (replaceIdxSort). MySQL also reads in index order when the leading index columns are
// fixed by equalities: TPC-C's DELIVERY reads `WHERE no_w_id = ? AND no_d_id = ? ORDER BY
// no_o_id LIMIT 1 FOR UPDATE` from the primary key (no_w_id, no_d_id, no_o_id) and stops at
// the first row. Without that, GMS read, sorted and (FOR UPDATE) locked every undelivered
// order of the district. The rule below drops such a sort when the lookup is one range whose
// first k columns are points and the ORDER BY columns are the next index columns, all in one
// direction and NOT NULL; DESC reads the range in reverse. A LIMIT above then stops the read,
// so a locking read locks only the rows it returns.

// installIndexOrderRule adds the rule before GMS's replaceIdxSort (after join and index
// planning, before the sort becomes a TopN).
func installIndexOrderRule(eng *sqle.Engine) {
	installBefore(eng, "replaceIdxSort", analyzer.Rule{Id: ruleIndexOrder, Apply: sortFromIndexSuffix})
}

func sortFromIndexSuffix(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.Node(n, func(n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		s, ok := n.(*plan.Sort)
		if !ok {
			return n, transform.SameTree, nil
		}
		child, ok, err := orderedAccess(ctx, s.SortFields, s.Child)
		if err != nil || !ok {
			return n, transform.SameTree, err
		}
		return child, transform.NewTree, nil
	})
}

// orderedAccess returns n with its index lookup made to return rows in the order of sf, if
// the lookup can (see above); n is the sort's child: projections and filters over the lookup.
func orderedAccess(ctx *sql.Context, sf sql.SortFields, n sql.Node) (sql.Node, bool, error) {
	switch c := n.(type) {
	case *plan.Project, *plan.Filter:
		// projections may rename, not reorder; sort fields refer to the table's columns
		nc, ok, err := orderedAccess(ctx, sf, c.Children()[0])
		if err != nil || !ok {
			return n, false, err
		}
		out, err := c.WithChildren(nc)
		return out, err == nil, err
	case *plan.IndexedTableAccess:
		if !c.IsStatic() || len(sf) == 0 {
			return n, false, nil
		}
		ix, isOurs := c.Index().(*Index)
		if !isOurs || ix.PrefixLengths() != nil {
			return n, false, nil
		}
		lookup, err := c.GetLookup(ctx, nil)
		if err != nil {
			return n, false, err
		}
		ranges, ok := lookup.Ranges.(sql.MySQLRangeCollection)
		if !ok || len(ranges) != 1 || lookup.IsReverse {
			return n, false, nil
		}
		r := ranges[0]
		k := 0
		for k < len(r) && k < len(ix.cols) && isPoint(ctx, r[k]) {
			k++
		}
		if k == 0 || k+len(sf) > len(ix.cols) {
			return n, false, nil // no prefix fixed: GMS's replaceIdxSort decides
		}
		for i, f := range sf {
			gf, isCol := f.Column.(*expression.GetField)
			col := ix.t.sch.Schema[ix.cols[k+i]]
			if !isCol || f.Order != sf[0].Order || !strings.EqualFold(gf.Name(), col.Name) ||
				!strings.EqualFold(gf.Table(), c.Name()) || col.Nullable {
				return n, false, nil
			}
		}
		if sf[0].Order == sql.Descending {
			lookup = sql.NewIndexLookup(lookup.Index, ranges, lookup.IsPointLookup, lookup.IsEmptyRange, lookup.IsSpatialLookup, true)
		}
		nita, err := plan.NewStaticIndexedAccessForTableNode(ctx, c.TableNode, lookup)
		if err != nil {
			return n, false, err
		}
		return nita.WithId(c.Id()).WithColumns(c.Columns()).(sql.Node), true, nil
	}
	return n, false, nil
}

// isPoint reports whether a range column is one value.
func isPoint(ctx *sql.Context, ce sql.MySQLRangeColumnExpr) bool {
	b, ok := ce.LowerBound.(sql.Below)
	if !ok {
		return false
	}
	a, ok := ce.UpperBound.(sql.Above)
	if !ok {
		return false
	}
	cmp, err := ce.Typ.Compare(ctx, b.Key, a.Key)
	return err == nil && cmp == 0
}
