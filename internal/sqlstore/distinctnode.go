package sqlstore

import (
	"hash/maphash"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// SELECT DISTINCT in the columns' collations.
//
// GMS's Distinct tells rows apart by hashing their values' text (sql.HashOf), so under the
// default utf8mb4_0900_ai_ci 'a', 'A' and 'á' came out as three rows, where MySQL returns
// one. distinctNode replaces it (replaceSortsAndDistincts, sortnode.go): a string column is
// hashed by its collation's weights, as GMS's GROUP BY hashes its keys
// (rowexec.groupingKey), an integer by its value, anything else by its text as before; the
// first row of each set of equal ones is returned, in input order. As in GMS, rows are equal
// when their hashes are.

// distinctNode is plan.Distinct run as described above.
type distinctNode struct {
	plan.UnaryNode
	exec sql.NodeExecBuilder
}

var (
	_ sql.ExecSourceRel      = (*distinctNode)(nil)
	_ sql.CollationCoercible = (*distinctNode)(nil)
)

// Schema implements sql.Node.
func (d *distinctNode) Schema() sql.Schema { return d.Child.Schema() }

// IsReadOnly implements sql.Node.
func (d *distinctNode) IsReadOnly() bool { return d.Child.IsReadOnly() }

// String implements sql.Node, as GMS's Distinct shows in EXPLAIN.
func (d *distinctNode) String() string { return plan.NewDistinct(d.Child).String() }

// DebugString implements sql.DebugStringer.
func (d *distinctNode) DebugString() string { return sql.DebugString(plan.NewDistinct(d.Child)) }

// CollationCoercibility implements sql.CollationCoercible.
func (d *distinctNode) CollationCoercibility(ctx *sql.Context) (sql.CollationID, byte) {
	return sql.GetCoercibility(ctx, d.Child)
}

// WithChildren implements sql.Node.
func (d *distinctNode) WithChildren(children ...sql.Node) (sql.Node, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(d, len(children), 1)
	}
	return &distinctNode{UnaryNode: plan.UnaryNode{Child: children[0]}, exec: d.exec}, nil
}

// RowIter implements sql.ExecSourceRel.
func (d *distinctNode) RowIter(ctx *sql.Context, row sql.Row) (sql.RowIter, error) {
	it, err := d.exec.Build(ctx, d.Child, row)
	if err != nil {
		return nil, err
	}
	return distinctIter(it, d.Child.Schema()), nil
}

// distinctRows returns the rows of a distinctNode's child not equal to an earlier one.
type distinctRows struct {
	child sql.RowIter
	h     *rowHasher
	seen  map[uint64]struct{}
}

// Next implements sql.RowIter.
func (r *distinctRows) Next(ctx *sql.Context) (sql.Row, error) {
	for {
		row, err := r.child.Next(ctx)
		if err != nil {
			return nil, err
		}
		h, err := r.h.hash(ctx, row)
		if err != nil {
			return nil, err
		}
		if _, dup := r.seen[h]; dup {
			continue
		}
		r.seen[h] = struct{}{}
		return row, nil
	}
}

// Close implements sql.RowIter.
func (r *distinctRows) Close(ctx *sql.Context) error { return r.child.Close(ctx) }

// rowHasher hashes rows as hashValue does (countdistinct.go) by the types of their columns,
// NULLs as themselves. A row longer than the types has the outer scope's row before its own
// columns (a subquery's, plan.PrependRowInPlan): those are hashed by their text.
type rowHasher struct {
	types []sql.Type
	seed  maphash.Seed
}

func newRowHasher(ts []sql.Type) *rowHasher {
	return &rowHasher{types: ts, seed: maphash.MakeSeed()}
}

// hash returns row's hash.
func (r *rowHasher) hash(ctx *sql.Context, row sql.Row) (uint64, error) {
	var h maphash.Hash
	h.SetSeed(r.seed)
	for i, v := range row {
		if v == nil {
			h.WriteByte(0)
			continue
		}
		var t sql.Type = types.LongText // unknown: hashed by its text
		if j := i - (len(row) - len(r.types)); j >= 0 && j < len(r.types) {
			t = r.types[j]
		}
		if err := hashValue(ctx, &h, t, v); err != nil {
			return 0, err
		}
	}
	return h.Sum64(), nil
}

// distinctIter returns the distinct rows of it, a child of schema sch.
func distinctIter(it sql.RowIter, sch sql.Schema) sql.RowIter {
	ts := make([]sql.Type, len(sch))
	for i, c := range sch {
		ts[i] = c.Type
	}
	return &distinctRows{child: it, h: newRowHasher(ts), seen: map[uint64]struct{}{}}
}
