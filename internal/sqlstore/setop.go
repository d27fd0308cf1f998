package sqlstore

import (
	"errors"
	"io"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/iters"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// UNION, INTERSECT and EXCEPT in the result columns' collations.
//
// GMS tells the rows of a set operation apart by hashing their values' text (sql.HashOf),
// so under the default utf8mb4_0900_ai_ci `SELECT c FROM t UNION SELECT 'A'` kept 'a', 'A'
// and 'á' as three rows and `… EXCEPT SELECT 'A'` removed only 'A', where MySQL compares
// them as equal. setOpBuilder builds those set operations instead: each string column is
// hashed by the weights of the collation MySQL gives the result column, derived from both
// sides by the coercibility rules (sql.ResolveCoercibility: an explicit COLLATE first, then
// a column's collation, then a literal's; between two columns of one character set a _bin
// collation), integers by value, anything else by its text, as distinctNode does. NULLs are
// equal to each other. INTERSECT ALL and EXCEPT ALL count rows in
// the same way. As in GMS, rows are equal when their hashes are. ORDER BY, OFFSET and LIMIT
// on a set operation (UNION ALL too) apply in that order: GMS's builder skipped the offset
// before sorting.
//
// GMS types each side's column as convert(expr, char) when the sides' types differ; that
// conversion has no collation of its own for this purpose, so the expression under it
// decides. Two columns of different non-binary collations are resolved to the left one's
// (MySQL refuses them with error 1271).

// setOpBuilder is the exec builder override for set operations (installExecGuards).
type setOpBuilder struct {
	b sql.NodeExecBuilder // the engine's whole builder, for the operands
}

// Build implements sql.NodeExecBuilder.
func (o *setOpBuilder) Build(ctx *sql.Context, n sql.Node, row sql.Row) (sql.RowIter, error) {
	s, ok := n.(*plan.SetOp)
	if !ok || o.b == nil {
		return nil, nil
	}
	var h *rowHasher
	if s.Distinct || s.SetOpType != plan.UnionType {
		h = newRowHasher(setOpTypes(ctx, s))
	}
	left, err := o.b.Build(ctx, s.Left(), row)
	if err != nil {
		return nil, err
	}
	var iter sql.RowIter
	switch s.SetOpType {
	case plan.UnionType:
		iter = &unionRows{cur: left, next: func() (sql.RowIter, error) { return o.b.Build(ctx, s.Right(), row) }}
	case plan.IntersectType, plan.ExceptType:
		right, err := o.b.Build(ctx, s.Right(), row)
		if err != nil {
			_ = left.Close(ctx)
			return nil, err
		}
		iter = &setOpRows{left: left, right: right, h: h, intersect: s.SetOpType == plan.IntersectType, distinct: s.Distinct}
	default:
		_ = left.Close(ctx)
		return nil, nil
	}
	if s.Distinct && s.SetOpType == plan.UnionType {
		iter = &distinctRows{child: iter, h: h, seen: map[uint64]struct{}{}}
	}
	return finishSetOp(ctx, s, iter)
}

// finishSetOp applies the set operation's own ORDER BY, OFFSET and LIMIT, in that order.
// (GMS's builder skips the offset before it sorts.)
func finishSetOp(ctx *sql.Context, s *plan.SetOp, iter sql.RowIter) (sql.RowIter, error) {
	var skip, limit int64 = 0, -1
	var err error
	if s.Offset != nil {
		if skip, err = iters.GetInt64Value(ctx, s.Offset); err != nil {
			_ = iter.Close(ctx)
			return nil, err
		}
	}
	if s.Limit != nil {
		if limit, err = iters.GetInt64Value(ctx, s.Limit); err != nil {
			_ = iter.Close(ctx)
			return nil, err
		}
	}
	switch {
	case len(s.SortFields) > 0 && limit >= 0:
		iter = iters.NewTopRowsIter(s.SortFields, limit+skip, false, iter, len(s.Schema()))
	case len(s.SortFields) > 0:
		iter = iters.NewSortIter(s.SortFields, iter)
	}
	if skip > 0 {
		iter = &offsetRows{child: iter, skip: skip}
	}
	if limit >= 0 {
		iter = &iters.LimitIter{Limit: limit, ChildIter: iter}
	}
	return iter, nil
}

// collCoer is a collation and its coercibility (0 explicit … 5 numeric, as in MySQL).
type collCoer struct {
	coll sql.CollationID
	coer byte
}

// setOpCollations returns, for each result column of s, the collation its strings compare in.
func setOpCollations(ctx *sql.Context, s *plan.SetOp) []sql.CollationID {
	cs := nodeCollations(ctx, s)
	out := make([]sql.CollationID, len(s.Schema()))
	for i := range out {
		if i < len(cs) && cs[i].coll != sql.Collation_Unspecified {
			out[i] = cs[i].coll
		} else {
			out[i] = ctx.GetCollation()
		}
	}
	return out
}

// nodeCollations derives the collation and coercibility of each of n's result columns.
func nodeCollations(ctx *sql.Context, n sql.Node) []collCoer {
	switch n := n.(type) {
	case *plan.SetOp:
		l, r := nodeCollations(ctx, n.Left()), nodeCollations(ctx, n.Right())
		out := make([]collCoer, len(n.Schema()))
		for i := range out {
			switch {
			case i < len(l) && i < len(r):
				c, k := sql.ResolveCoercibility(l[i].coll, l[i].coer, r[i].coll, r[i].coer)
				out[i] = collCoer{c, k}
			case i < len(l):
				out[i] = l[i]
			}
		}
		return out
	case *plan.Project:
		out := make([]collCoer, len(n.Projections))
		for i, e := range n.Projections {
			out[i] = exprCollation(ctx, e, n.Child)
		}
		return out
	}
	if keepsChildRows(n) {
		return nodeCollations(ctx, n.Children()[0])
	}
	sch := n.Schema()
	out := make([]collCoer, len(sch))
	for i, c := range sch {
		out[i] = typeCollation(ctx, c.Type, 2)
	}
	return out
}

// exprCollation derives the collation and coercibility of e, evaluated over child's rows.
func exprCollation(ctx *sql.Context, e sql.Expression, child sql.Node) collCoer {
	switch x := e.(type) {
	case *expression.Alias:
		return exprCollation(ctx, x.Child, child)
	case *expression.Convert:
		if types.IsText(x.Type()) {
			return exprCollation(ctx, x.Child, child)
		}
	case *expression.GetField:
		if i := fieldIn(x, child); i >= 0 {
			cs := nodeCollations(ctx, child)
			if i < len(cs) {
				c := cs[i]
				if (c.coer == 3 || c.coer == 4) && !isPassThrough(child) {
					c.coer = 2 // a string column of a derived table or a join is a column
				}
				return c
			}
		}
		return typeCollation(ctx, x.Type(), 2)
	}
	if !types.IsText(e.Type()) {
		return collCoer{ctx.GetCollation(), 5}
	}
	c, k := sql.GetCoercibility(ctx, e)
	return collCoer{c, k}
}

// isPassThrough reports whether child's columns are the expressions of a projection under it
// as they are (a literal stays a literal), rather than columns of a table.
func isPassThrough(n sql.Node) bool {
	switch n.(type) {
	case *plan.Project, *plan.SetOp:
		return true
	}
	return keepsChildRows(n)
}

// keepsChildRows reports whether n returns rows of its one child's columns as they are.
func keepsChildRows(n sql.Node) bool {
	switch n.(type) {
	case *plan.Filter, *plan.Sort, *plan.Limit, *plan.Offset, *plan.Distinct, *plan.TopN, *plan.Having,
		*plan.PrependNode, *distinctNode, *sortNode:
		return true
	}
	return false
}

// fieldIn returns the position of the column gf reads in child's schema, or -1.
func fieldIn(gf *expression.GetField, child sql.Node) int {
	if child == nil {
		return -1
	}
	found := -1
	for i, c := range child.Schema() {
		if strings.EqualFold(c.Name, gf.Name()) && strings.EqualFold(c.Source, gf.Table()) {
			if found >= 0 {
				return -1 // ambiguous
			}
			found = i
		}
	}
	return found
}

// typeCollation is the collation of a value of type t with coercibility coer, or the
// numeric coercibility for a type that is not a string.
func typeCollation(ctx *sql.Context, t sql.Type, coer byte) collCoer {
	if st, ok := t.(sql.StringType); ok && types.IsText(t) {
		return collCoer{st.Collation(), coer}
	}
	return collCoer{ctx.GetCollation(), 5}
}

// setOpTypes returns the types s's rows are hashed by: its schema's, a string column's in
// the collation derived for it.
func setOpTypes(ctx *sql.Context, s *plan.SetOp) []sql.Type {
	colls := setOpCollations(ctx, s)
	sch := s.Schema()
	out := make([]sql.Type, len(sch))
	for i, c := range sch {
		out[i] = c.Type
		if types.IsText(c.Type) {
			out[i] = types.MustCreateString(types.LongText.Type(), types.LongText.MaxCharacterLength(), colls[i])
		}
	}
	return out
}

// unionRows returns cur's rows, then those of the iterator next makes.
type unionRows struct {
	cur  sql.RowIter
	next func() (sql.RowIter, error)
}

func (u *unionRows) Next(ctx *sql.Context) (sql.Row, error) {
	for {
		row, err := u.cur.Next(ctx)
		if !errors.Is(err, io.EOF) || u.next == nil {
			return row, err
		}
		if err := u.cur.Close(ctx); err != nil {
			return nil, err
		}
		next := u.next
		u.next = nil
		if u.cur, err = next(); err != nil {
			u.cur = sql.RowsToRowIter()
			return nil, err
		}
	}
}

func (u *unionRows) Close(ctx *sql.Context) error { return u.cur.Close(ctx) }

// setOpRows is INTERSECT or EXCEPT: the left rows that are (not) among the right ones; with
// distinct each once, else as many times as they are in excess (EXCEPT ALL) or in both
// (INTERSECT ALL).
type setOpRows struct {
	left, right         sql.RowIter
	h                   *rowHasher
	intersect, distinct bool
	counts              map[uint64]int
	seen                map[uint64]struct{}
}

func (s *setOpRows) Next(ctx *sql.Context) (sql.Row, error) {
	if s.counts == nil {
		s.counts = map[uint64]int{}
		s.seen = map[uint64]struct{}{}
		for {
			row, err := s.right.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, err
			}
			k, err := s.h.hash(ctx, row)
			if err != nil {
				return nil, err
			}
			s.counts[k]++
		}
	}
	for {
		row, err := s.left.Next(ctx)
		if err != nil {
			return nil, err
		}
		k, err := s.h.hash(ctx, row)
		if err != nil {
			return nil, err
		}
		if s.distinct {
			if _, dup := s.seen[k]; dup {
				continue
			}
			if (s.counts[k] > 0) == s.intersect {
				s.seen[k] = struct{}{}
				return row, nil
			}
			continue
		}
		in := s.counts[k] > 0
		if in {
			s.counts[k]--
		}
		if in == s.intersect {
			return row, nil
		}
	}
}

func (s *setOpRows) Close(ctx *sql.Context) error {
	err := s.left.Close(ctx)
	if err2 := s.right.Close(ctx); err == nil {
		err = err2
	}
	return err
}

// offsetRows skips the first skip rows of child.
type offsetRows struct {
	child sql.RowIter
	skip  int64
}

func (o *offsetRows) Next(ctx *sql.Context) (sql.Row, error) {
	for ; o.skip > 0; o.skip-- {
		if _, err := o.child.Next(ctx); err != nil {
			return nil, err
		}
	}
	return o.child.Next(ctx)
}

func (o *offsetRows) Close(ctx *sql.Context) error { return o.child.Close(ctx) }
