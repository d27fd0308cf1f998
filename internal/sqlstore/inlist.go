package sqlstore

import (
	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
)

// Long IN lists.
//
// GMS turns `col IN (v1, ..., vn)` on an indexed column into n index ranges and then checks
// every pair of them for overlap (sql.validateRangeCollection, under
// sql.RemoveOverlappingRanges): 100,000 keys planned for minutes, without looking at the
// context. Like MySQL when a range scan would exceed range_optimizer_max_mem_size, a list
// longer than maxINRanges is not used for an index range: the rule below hides it from
// the index coster, and the filter evaluates it with a hash set (GMS's HashInTuple).
const maxINRanges = 2048

// installINListRule adds the rule before GMS's join and index planning, and to the rules
// GMS runs for single-table UPDATE and DELETE (analyzer.AlwaysBeforeDefault, read when such
// a statement is analysed; changed once per process).
func installINListRule(eng *sqle.Engine) {
	installBeforeIndexPlanning(eng, analyzer.Rule{Id: ruleLongINLists, Apply: hideLongINLists}, false)
}

// hideLongINLists wraps the long IN lists of filters in longINList.
func hideLongINLists(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.Node(n, func(n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		f, ok := n.(*plan.Filter)
		if !ok {
			return n, transform.SameTree, nil
		}
		e, changed, err := wrapLongINLists(f.Expression)
		if err != nil || !changed {
			return n, transform.SameTree, err
		}
		return plan.NewFilter(e, f.Child), transform.NewTree, nil
	})
}

// wrapLongINLists wraps the long IN lists in e that are not wrapped yet.
func wrapLongINLists(e sql.Expression) (sql.Expression, bool, error) {
	switch e := e.(type) {
	case *longINList:
		return e, false, nil
	case *expression.InTuple:
		if tup, ok := e.Right().(expression.Tuple); ok && len(tup) > maxINRanges {
			return &longINList{e}, true, nil
		}
		return e, false, nil
	}
	children := e.Children()
	var out []sql.Expression
	for i, c := range children {
		nc, changed, err := wrapLongINLists(c)
		if err != nil {
			return nil, false, err
		}
		if changed && out == nil {
			out = append([]sql.Expression(nil), children...)
		}
		if out != nil {
			out[i] = nc
		}
	}
	if out == nil {
		return e, false, nil
	}
	ne, err := e.WithChildren(out...)
	return ne, err == nil, err
}

// longINList is an IN predicate that index planning does not see: it only evaluates its
// child (which GMS may turn into a HashInTuple).
type longINList struct{ sql.Expression }

// Children implements sql.Expression.
func (l *longINList) Children() []sql.Expression { return []sql.Expression{l.Expression} }

// WithChildren implements sql.Expression.
func (l *longINList) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(l, len(children), 1)
	}
	return &longINList{children[0]}, nil
}

// CollationCoercibility implements sql.CollationCoercible.
func (l *longINList) CollationCoercibility(ctx *sql.Context) (sql.CollationID, byte) {
	return sql.GetCoercibility(ctx, l.Expression)
}
