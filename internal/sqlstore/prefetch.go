package sqlstore

import (
	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"

	"strata/internal/bufpool"
)

// Lookup joins with their inner side's pages read ahead, in parallel.
//
// A lookup join reads one row of its outer (left) input, then looks it up in an index of
// the inner table, then the next. Each lookup whose leaf is not in the buffer pool waits for
// a GetPage round trip to a Page Store (a few hundred microseconds through the cluster), one
// after another: TPC-C's STOCK_LEVEL joins about 200 order lines with stock rows spread over
// the whole table and, the first time after loading, spent most of its 60-80 ms in those
// waits. As Aurora's asynchronous key prefetch does for batched key access, prefetchJoin reads
// the outer rows a batch at a time (8, then twice as many each time, up to 256), computes the
// inner lookup of each with GMS's own lookup builder, and has the engine read the leaves those
// lookups start on into the pool in parallel (engine.Txn.Prefetch); the join then runs as
// before and finds them there. The rows, their order and everything the join returns are
// unchanged: only when pages are read is.
//
// It applies to inner and left outer lookup joins over a Strata table in read-only
// statements, on an engine whose pages are remote (engine.Options.RemotePages: a cluster's
// compute and read-only nodes; in one process a miss is a local read that parallel reads do
// not repay). A locking read (FOR UPDATE, LOCK IN SHARE MODE) is left as it is: reading the
// outer rows ahead would lock rows a LIMIT might never have reached. EXPLAIN shows the join
// as before.
//
// When the data is in the pool, finding each lookup's leaf costs about a microsecond a row
// for nothing (7-10% of a warm STOCK_LEVEL). So a batch whose leaves were all cached turns
// read-ahead off for the batches after it until the buffer pool misses again.

const (
	prefetchFirst = 8   // outer rows in the first batch
	prefetchMax   = 256 // and at most in any
)

func installPrefetchRule(eng *sqle.Engine) {
	installAfterAll(eng, analyzer.Rule{Id: rulePrefetchJoin, Apply: prefetchJoins})
}

// prefetchJoins wraps the plan's lookup joins that can read ahead in prefetchJoin.
func prefetchJoins(_ *sql.Context, a *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	if a.ExecBuilder == nil || !n.IsReadOnly() {
		return n, transform.SameTree, nil
	}
	return wrapLookupJoins(n, a.ExecBuilder)
}

// wrapLookupJoins wraps n's lookup joins, those of its subqueries included.
func wrapLookupJoins(n sql.Node, exec sql.NodeExecBuilder) (sql.Node, transform.TreeIdentity, error) {
	n, same, err := transform.NodeWithCtx(n, nil, func(c transform.Context) (sql.Node, transform.TreeIdentity, error) {
		j, ok := c.Node.(*plan.JoinNode)
		if !ok || j.Op != plan.JoinTypeLookup && j.Op != plan.JoinTypeLeftOuterLookup {
			return c.Node, transform.SameTree, nil
		}
		if _, done := c.Parent.(*prefetchJoin); done || lookupTarget(j.Right()) == nil {
			return c.Node, transform.SameTree, nil
		}
		return &prefetchJoin{UnaryNode: plan.UnaryNode{Child: j}, exec: exec}, transform.NewTree, nil
	})
	if err != nil {
		return nil, transform.SameTree, err
	}
	n, sameSub, err := transform.NodeExprs(n, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		sq, ok := e.(*plan.Subquery)
		if !ok {
			return e, transform.SameTree, nil
		}
		q, same, err := wrapLookupJoins(sq.Query, exec)
		if err != nil || same {
			return e, transform.SameTree, err
		}
		return sq.WithQuery(q), transform.NewTree, nil
	})
	if err != nil {
		return nil, transform.SameTree, err
	}
	return n, same && sameSub, nil
}

// lookupTarget returns the per-row index lookup of a Strata table at the bottom of a lookup
// join's inner side, through the nodes that hand their input row down unchanged, or nil.
func lookupTarget(n sql.Node) *plan.IndexedTableAccess {
	for {
		switch x := n.(type) {
		case *plan.Filter:
			n = x.Child
		case *plan.TableAlias:
			n = x.Child
		case *plan.Project:
			n = x.Child
		case *plan.PrependNode, *plan.StripRowNode: // a subquery's: they change its rows, not its input
			n = x.Children()[0]
		case *plan.IndexedTableAccess:
			if _, ok := x.Table.(*IndexedTable); !ok || x.IsStatic() {
				return nil
			}
			return x
		default:
			return nil
		}
	}
}

// prefetchJoin is a lookup join (its child) whose outer rows are read ahead in batches and
// whose inner lookups' leaves are read into the pool in parallel; see above.
type prefetchJoin struct {
	plan.UnaryNode
	exec sql.NodeExecBuilder
}

var (
	_ sql.ExecSourceRel      = (*prefetchJoin)(nil)
	_ sql.CollationCoercible = (*prefetchJoin)(nil)
)

// CollationCoercibility implements sql.CollationCoercible: the join's.
func (p *prefetchJoin) CollationCoercibility(ctx *sql.Context) (sql.CollationID, byte) {
	return sql.GetCoercibility(ctx, p.Child)
}

// Schema implements sql.Node.
func (p *prefetchJoin) Schema() sql.Schema { return p.Child.Schema() }

// IsReadOnly implements sql.Node.
func (p *prefetchJoin) IsReadOnly() bool { return p.Child.IsReadOnly() }

// String implements sql.Node: the join's, children included, as EXPLAIN shows it.
func (p *prefetchJoin) String() string { return p.Child.String() }

// DebugString implements sql.DebugStringer.
func (p *prefetchJoin) DebugString() string { return sql.DebugString(p.Child) }

// WithChildren implements sql.Node.
func (p *prefetchJoin) WithChildren(children ...sql.Node) (sql.Node, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(p, len(children), 1)
	}
	return &prefetchJoin{UnaryNode: plan.UnaryNode{Child: children[0]}, exec: p.exec}, nil
}

// RowIter implements sql.ExecSourceRel: the join with its outer input read through
// prefetchOuter.
func (p *prefetchJoin) RowIter(ctx *sql.Context, row sql.Row) (sql.RowIter, error) {
	j, ok := p.Child.(*plan.JoinNode)
	var ita *plan.IndexedTableAccess
	if ok {
		ita = lookupTarget(j.Right())
	}
	if ita == nil || !ita.Table.(*IndexedTable).s.db.Prefetches() {
		return p.exec.Build(ctx, p.Child, row)
	}
	if _, locking := lockingMode(ctx); locking {
		return p.exec.Build(ctx, p.Child, row)
	}
	outer := &prefetchOuter{UnaryNode: plan.UnaryNode{Child: j.Left()}, exec: p.exec, inner: ita}
	nj, err := j.WithChildren(outer, j.Right())
	if err != nil {
		return nil, err
	}
	return p.exec.Build(ctx, nj, row)
}

// prefetchOuter is a lookup join's outer input, made by prefetchJoin at execution only.
type prefetchOuter struct {
	plan.UnaryNode
	exec  sql.NodeExecBuilder
	inner *plan.IndexedTableAccess
}

var _ sql.ExecSourceRel = (*prefetchOuter)(nil)

// Schema implements sql.Node.
func (p *prefetchOuter) Schema() sql.Schema { return p.Child.Schema() }

// IsReadOnly implements sql.Node.
func (p *prefetchOuter) IsReadOnly() bool { return p.Child.IsReadOnly() }

// String implements sql.Node.
func (p *prefetchOuter) String() string { return p.Child.String() }

// WithChildren implements sql.Node.
func (p *prefetchOuter) WithChildren(children ...sql.Node) (sql.Node, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(p, len(children), 1)
	}
	return &prefetchOuter{UnaryNode: plan.UnaryNode{Child: children[0]}, exec: p.exec, inner: p.inner}, nil
}

// RowIter implements sql.ExecSourceRel. row is the join's input row (an outer scope's),
// which GMS puts before each outer row when it builds the inner lookup.
func (p *prefetchOuter) RowIter(ctx *sql.Context, row sql.Row) (sql.RowIter, error) {
	it, err := p.exec.Build(ctx, p.Child, row)
	if err != nil {
		return nil, err
	}
	return &prefetchRows{child: it, parent: row, inner: p.inner, size: prefetchFirst}, nil
}

// prefetchRows returns its child's rows, read a batch at a time; before a batch is returned
// the leaves of the inner lookups its rows will make are read into the pool.
type prefetchRows struct {
	child  sql.RowIter
	parent sql.Row
	inner  *plan.IndexedTableAccess
	size   int
	rows   []sql.Row
	pos    int
	err    error // the child's, returned after the rows read before it
	keys   [][]byte
	sw     aheadSwitch
}

// aheadSwitch turns read-ahead off while the buffer pool hits: after a read-ahead that found
// every page in the pool, the next ones are skipped until the pool's miss count moves.
type aheadSwitch struct {
	warm   bool
	misses uint64
}

// run calls prefetch (which returns how many pages it read) unless the switch is off.
func (s *aheadSwitch) run(pool *bufpool.Pool, prefetch func() int) {
	if s.warm && pool.Stats().Misses == s.misses {
		return
	}
	s.warm = prefetch() == 0
	s.misses = pool.Stats().Misses
}

// Next implements sql.RowIter.
func (r *prefetchRows) Next(ctx *sql.Context) (sql.Row, error) {
	if r.pos == len(r.rows) {
		if r.err != nil {
			return nil, r.err
		}
		r.fill(ctx)
		if len(r.rows) == 0 {
			return nil, r.err
		}
	}
	row := r.rows[r.pos]
	r.rows[r.pos] = nil
	r.pos++
	return row, nil
}

// fill reads the next batch and prefetches its lookups' leaves.
func (r *prefetchRows) fill(ctx *sql.Context) {
	r.rows, r.pos = r.rows[:0], 0
	for len(r.rows) < r.size {
		row, err := r.child.Next(ctx)
		if err != nil {
			r.err = err
			break
		}
		r.rows = append(r.rows, row)
	}
	r.size = min(2*r.size, prefetchMax)
	if len(r.rows) < 2 {
		return
	}
	r.sw.run(r.inner.Table.(*IndexedTable).s.db.Pool(), func() int { return r.prefetch(ctx) })
}

// prefetch computes each buffered row's inner lookup and has the engine read the leaves
// they start on; it returns how many it read. It is a hint: a lookup it cannot make is left
// to the join, which reports what is wrong with it.
func (r *prefetchRows) prefetch(ctx *sql.Context) int {
	it := r.inner.Table.(*IndexedTable)
	ix := it.indexByID(r.inner.Index().ID())
	if ix == nil {
		return 0
	}
	r.keys = r.keys[:0]
	full := append(sql.Row(nil), r.parent...) // GMS's join puts the outer scope's row first
	for _, row := range r.rows {
		lookup, err := r.inner.GetLookup(ctx, append(full[:len(r.parent)], row...))
		if err != nil || lookup.IsEmptyRange {
			continue
		}
		ranges, ok := lookup.Ranges.(sql.MySQLRangeCollection)
		if !ok {
			continue
		}
		for _, rg := range ranges {
			// GetLookup's ranges are reused by its next call: only the key is kept.
			lo, _, empty, err := ix.interval(ctx, rg) // reads the index's own columns only
			if err == nil && !empty && lo != nil {
				r.keys = append(r.keys, lo)
			}
		}
	}
	if len(r.keys) == 0 {
		return 0
	}
	tx, done, err := it.s.txnOf(ctx)
	if err != nil {
		return 0
	}
	defer done()
	read, _ := tx.kv.Prefetch(ctx, ix.tree, r.keys)
	return read
}

// Close implements sql.RowIter.
func (r *prefetchRows) Close(ctx *sql.Context) error { return r.child.Close(ctx) }
