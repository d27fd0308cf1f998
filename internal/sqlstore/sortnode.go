package sqlstore

import (
	"io"
	"slices"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// ORDER BY columns, sorted with their values read once and ASCII strings compared by table.
//
// GMS sorts with expression.Sorter: every comparison evaluates both rows' sort expressions
// again and compares strings through the collation's weight function, a map lookup per
// character for utf8mb4_0900_ai_ci (sysbench's `ORDER BY c` and `DISTINCT c … ORDER BY c`
// spent a tenth of oltp_read_only's CPU there). sortNode replaces a plan.Sort whose fields
// are all columns: each row's values are read once, and two strings of a utf8 character set
// that are both ASCII are compared through a 128-entry table of the same weights, exactly
// as types.StringType.Compare compares them character by character; everything else goes
// through the type's own Compare. The sort is stable, as GMS's (sort.Stable), so rows come
// out in the same order.
//
// A DISTINCT directly under the sort whose columns are all sort fields of integer or string
// types is done by the same pass: equal rows are adjacent once sorted, and the first of each
// run is the first in input order, the one GMS's Distinct keeps.

// installSortRule adds the rule to the rules GMS runs last.
func installSortRule(eng *sqle.Engine) {
	installAfterAll(eng, analyzer.Rule{Id: ruleSortNode, Apply: replaceSortsAndDistincts})
}

// replaceSortsAndDistincts replaces the plan's Distincts by distinctNodes, its COUNT(DISTINCT)s by
// countDistinct, and its Sorts by sortNodes
// where their fields allow (the plan is rewritten from the leaves up: a Distinct under a Sort
// is a distinctNode by the time the Sort is seen).
func replaceSortsAndDistincts(_ *sql.Context, a *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.Node(n, func(n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		if _, ok := n.(*plan.GroupBy); ok { // countdistinct.go
			return collatedCountDistinct(n)
		}
		if d, ok := n.(*plan.Distinct); ok { // distinctnode.go
			return &distinctNode{UnaryNode: plan.UnaryNode{Child: d.Child}, exec: a.ExecBuilder}, transform.NewTree, nil
		}
		if t, ok := n.(*plan.TopN); ok {
			if fields := projectedSortFields(t.Fields, t.Child); fields != nil {
				nt := plan.NewTopN(fields, t.Limit, t.Child)
				nt.CalcFoundRows = t.CalcFoundRows
				return nt, transform.NewTree, nil
			}
			return n, transform.SameTree, nil
		}
		s, ok := n.(*plan.Sort)
		if !ok {
			return n, transform.SameTree, nil
		}
		if fields := projectedSortFields(s.SortFields, s.Child); fields != nil {
			s = plan.NewSort(fields, s.Child)
		}
		for _, f := range s.SortFields {
			if _, ok := f.Column.(*expression.GetField); !ok {
				return n, transform.SameTree, nil
			}
		}
		sn := &sortNode{UnaryNode: plan.UnaryNode{Child: s.Child}, exec: a.ExecBuilder}
		sn.setFields(s.SortFields)
		if d, ok := s.Child.(*distinctNode); ok && distinctBySort(sn.keys, d.Child.Schema()) {
			sn.Child, sn.distinct = d.Child, true
		}
		return sn, transform.NewTree, nil
	})
}

// projectedSortFields returns the fields of a sort (or TOP N) over a DISTINCT projection with
// those that repeat one of its expressions reading that expression's column instead, or
// nil if none does. GMS's planner gives an ORDER BY ordinal (SELECT DISTINCT LOWER(s) FROM t
// ORDER BY 1) the expression itself, which above the DISTINCT finds none of the columns it
// reads ("unable to find field with index 7 in row of 1 columns"); ORDER BY LOWER(s)
// already reads the column.
func projectedSortFields(sf sql.SortFields, child sql.Node) sql.SortFields {
	var proj *plan.Project
	switch d := child.(type) {
	case *plan.Distinct:
		proj, _ = d.Child.(*plan.Project)
	case *distinctNode:
		proj, _ = d.Child.(*plan.Project)
	}
	if proj == nil {
		return nil
	}
	sch := proj.Schema()
	var fields sql.SortFields
	for i, f := range sf {
		if _, ok := f.Column.(*expression.GetField); ok {
			continue
		}
		for j, p := range proj.Projections {
			if j >= len(sch) || f.Column.String() != p.String() {
				continue
			}
			if fields == nil {
				fields = append(sql.SortFields(nil), sf...)
			}
			fields[i].Column = expression.NewGetField(j, sch[j].Type, sch[j].Name, sch[j].Nullable)
			break
		}
	}
	return fields
}

// setFields sets the node's sort fields and the keys made of them.
func (s *sortNode) setFields(fields sql.SortFields) {
	s.fields = fields
	s.keys = make([]sortKey, len(fields))
	for i, f := range fields {
		s.keys[i] = sortKey{col: f.Column, typ: f.Column.Type(), desc: f.Order == sql.Descending,
			nullsFirst: f.NullOrdering == sql.NullsFirst, ascii: asciiWeights(f.Column.Type())}
	}
}

// distinctBySort reports whether rows of sch equal on every key are equal rows for GMS's
// DISTINCT: the keys are sch's columns, each once, of integer or string types.
func distinctBySort(keys []sortKey, sch sql.Schema) bool {
	if len(keys) != len(sch) {
		return false
	}
	seen := make([]bool, len(sch))
	for _, k := range keys {
		gf, ok := k.col.(*expression.GetField)
		if !ok {
			return false
		}
		i := gf.Index()
		if i < 0 || i >= len(sch) || seen[i] {
			return false
		}
		seen[i] = true
		if !types.IsInteger(k.typ) && !types.IsText(k.typ) {
			return false
		}
	}
	return true
}

// asciiWeights returns the weights of the ASCII characters in t's collation, if t is a
// string type of a utf8 character set (whose ASCII characters are single bytes).
func asciiWeights(t sql.Type) *[128]int32 {
	st, ok := t.(types.StringType)
	if !ok || types.IsBinaryType(t) {
		return nil
	}
	coll := st.Collation()
	switch coll.CharacterSet() {
	case sql.CharacterSet_utf8mb4, sql.CharacterSet_utf8mb3:
	default:
		return nil
	}
	sorter := coll.Sorter()
	if sorter == nil {
		return nil
	}
	var w [128]int32
	for r := range w {
		w[r] = sorter(rune(r))
	}
	return &w
}

// sortKey is one ORDER BY column.
type sortKey struct {
	col        sql.Expression
	typ        sql.Type
	desc       bool
	nullsFirst bool
	ascii      *[128]int32 // nil: compare through typ
}

// sortNode is plan.Sort (and a Distinct under it) run as described above.
type sortNode struct {
	plan.UnaryNode
	fields   sql.SortFields
	keys     []sortKey
	distinct bool
	exec     sql.NodeExecBuilder
}

var (
	_ sql.ExecSourceRel      = (*sortNode)(nil)
	_ sql.Expressioner       = (*sortNode)(nil)
	_ sql.CollationCoercible = (*sortNode)(nil)
)

// Expressions implements sql.Expressioner, as plan.Sort does: GMS's rules that renumber
// columns (assignExecIndexes, in subqueries too) reach the sort fields through it.
func (s *sortNode) Expressions() []sql.Expression { return s.fields.ToExpressions() }

// WithExpressions implements sql.Expressioner.
func (s *sortNode) WithExpressions(exprs ...sql.Expression) (sql.Node, error) {
	if len(exprs) != len(s.fields) {
		return nil, sql.ErrInvalidChildrenNumber.New(s, len(exprs), len(s.fields))
	}
	c := *s
	c.setFields(s.fields.FromExpressions(exprs...))
	return &c, nil
}

// Schema implements sql.Node.
func (s *sortNode) Schema() sql.Schema { return s.Child.Schema() }

// IsReadOnly implements sql.Node.
func (s *sortNode) IsReadOnly() bool { return s.Child.IsReadOnly() }

// String implements sql.Node: the plan it stands for, as EXPLAIN shows it.
func (s *sortNode) String() string { return s.original().String() }

// DebugString implements sql.DebugStringer.
func (s *sortNode) DebugString() string { return sql.DebugString(s.original()) }

func (s *sortNode) original() sql.Node {
	var child sql.Node = s.Child
	if s.distinct {
		child = plan.NewDistinct(child)
	}
	return plan.NewSort(s.fields, child)
}

// CollationCoercibility implements sql.CollationCoercible.
func (s *sortNode) CollationCoercibility(ctx *sql.Context) (sql.CollationID, byte) {
	return sql.GetCoercibility(ctx, s.Child)
}

// WithChildren implements sql.Node.
func (s *sortNode) WithChildren(children ...sql.Node) (sql.Node, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(s, len(children), 1)
	}
	c := *s
	c.Child = children[0]
	return &c, nil
}

// sortValue is a row's value of one key; ascii is set for a string of ASCII characters only.
type sortValue struct {
	v     any
	ascii bool
}

// RowIter implements sql.ExecSourceRel: the child's rows, read whole, sorted.
func (s *sortNode) RowIter(ctx *sql.Context, row sql.Row) (sql.RowIter, error) {
	it, err := s.exec.Build(ctx, s.Child, row)
	if err != nil {
		return nil, err
	}
	var rows []sql.Row
	var vals []sortValue // len(s.keys) per row
	for {
		r, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			it.Close(ctx)
			return nil, err
		}
		rows = append(rows, r)
		for _, k := range s.keys {
			v, err := k.col.Eval(ctx, r)
			if err != nil {
				it.Close(ctx)
				return nil, sql.ErrUnableSort.Wrap(err)
			}
			sv := sortValue{v: v}
			if str, ok := v.(string); ok && k.ascii != nil {
				sv.ascii = isASCII(str)
			}
			vals = append(vals, sv)
		}
	}
	if err := it.Close(ctx); err != nil {
		return nil, err
	}
	nk := len(s.keys)
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	var cmpErr error
	cmp := func(i, j int) int {
		for k := range s.keys {
			c, err := s.keys[k].compare(ctx, vals[i*nk+k], vals[j*nk+k])
			if err != nil {
				if cmpErr == nil {
					cmpErr = err
				}
				return 0
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}
	slices.SortStableFunc(order, cmp)
	if cmpErr != nil {
		return nil, cmpErr
	}
	out := make([]sql.Row, 0, len(rows))
	for n, i := range order {
		if s.distinct && n > 0 && cmp(order[n-1], i) == 0 {
			continue
		}
		out = append(out, rows[i])
	}
	if cmpErr != nil {
		return nil, cmpErr
	}
	return sql.RowsToRowIter(out...), nil
}

// compare orders two values of the key as expression.Sorter.Less does: -1 when a sorts
// first.
func (k *sortKey) compare(ctx *sql.Context, a, b sortValue) (int, error) {
	if k.desc {
		a, b = b, a
	}
	switch {
	case a.v == nil && b.v == nil:
		return 0, nil
	case a.v == nil:
		if k.nullsFirst {
			return -1, nil
		}
		return 1, nil
	case b.v == nil:
		if k.nullsFirst {
			return 1, nil
		}
		return -1, nil
	}
	if a.ascii && b.ascii {
		return compareASCII(k.ascii, a.v.(string), b.v.(string)), nil
	}
	c, err := k.typ.Compare(ctx, a.v, b.v)
	if err != nil {
		return 0, err
	}
	return max(-1, min(1, c)), nil
}

// compareASCII is types.StringType.Compare for two ASCII strings: weight by weight, then
// the shorter first.
func compareASCII(w *[128]int32, a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] == b[i] {
			continue
		}
		wa, wb := w[a[i]], w[b[i]]
		if wa < wb {
			return -1
		}
		if wa > wb {
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
