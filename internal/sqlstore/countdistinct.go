package sqlstore

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function/aggregation"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// COUNT(DISTINCT …) in the arguments' collations.
//
// GMS's COUNT(DISTINCT) hashes the text of its arguments joined by commas: under the
// default utf8mb4_0900_ai_ci it counted 'a', 'A' and 'á' as three values where MySQL counts
// one, and COUNT(DISTINCT a, b) took ('x,', 'y') and ('x', ',y') for the same pair.
// countDistinct replaces it after analysis (replaceSortsAndDistincts, sortnode.go): each argument is
// hashed on its own, a string by its collation's weights (distinctnode.go), and a row with
// a NULL argument is not counted.

// countDistinct is aggregation.CountDistinct with the buffer described above.
type countDistinct struct {
	*aggregation.CountDistinct
}

var (
	_ sql.Aggregation        = (*countDistinct)(nil)
	_ sql.CollationCoercible = (*countDistinct)(nil)
)

// WithChildren implements sql.Expression.
func (c *countDistinct) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	e, err := c.CountDistinct.WithChildren(children...)
	if err != nil {
		return nil, err
	}
	// GMS's WithChildren drops the id and window: keep them.
	cd := e.(*aggregation.CountDistinct).WithId(c.Id()).(*aggregation.CountDistinct)
	cd = cd.WithWindow(c.Window()).(*aggregation.CountDistinct)
	return &countDistinct{cd}, nil
}

// WithId implements sql.IdExpression.
func (c *countDistinct) WithId(id sql.ColumnId) sql.IdExpression {
	return &countDistinct{c.CountDistinct.WithId(id).(*aggregation.CountDistinct)}
}

// WithWindow implements sql.WindowAdaptableExpression.
func (c *countDistinct) WithWindow(w *sql.WindowDefinition) sql.WindowAdaptableExpression {
	return &countDistinct{c.CountDistinct.WithWindow(w).(*aggregation.CountDistinct)}
}

// NewBuffer implements sql.Aggregation.
func (c *countDistinct) NewBuffer() (sql.AggregationBuffer, error) {
	exprs := make([]sql.Expression, len(c.Children()))
	for i, e := range c.Children() {
		ce, err := transform.Clone(e)
		if err != nil {
			return nil, err
		}
		exprs[i] = ce
	}
	return &countDistinctBuffer{exprs: exprs, seed: maphash.MakeSeed(), seen: map[uint64]struct{}{}}, nil
}

type countDistinctBuffer struct {
	exprs []sql.Expression
	seed  maphash.Seed
	seen  map[uint64]struct{}
}

// Update implements sql.AggregationBuffer.
func (b *countDistinctBuffer) Update(ctx *sql.Context, row sql.Row) error {
	var h maphash.Hash
	h.SetSeed(b.seed)
	for _, e := range b.exprs {
		v, err := e.Eval(ctx, row)
		if err != nil {
			return err
		}
		if v == nil {
			return nil
		}
		if err := hashValue(ctx, &h, e.Type(), v); err != nil {
			return err
		}
	}
	b.seen[h.Sum64()] = struct{}{}
	return nil
}

// Eval implements sql.AggregationBuffer.
func (b *countDistinctBuffer) Eval(*sql.Context) (any, error) { return int64(len(b.seen)), nil }

// Dispose implements sql.AggregationBuffer.
func (b *countDistinctBuffer) Dispose() {
	for _, e := range b.exprs {
		expression.Dispose(e)
	}
}

// collatedCountDistinct replaces GMS's COUNT(DISTINCT) in n's expressions.
func collatedCountDistinct(n sql.Node) (sql.Node, transform.TreeIdentity, error) {
	if _, ok := n.(*plan.GroupBy); !ok {
		return n, transform.SameTree, nil
	}
	return transform.OneNodeExprsWithNode(n, func(_ sql.Node, e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		if cd, ok := e.(*aggregation.CountDistinct); ok {
			return &countDistinct{cd}, transform.NewTree, nil
		}
		return e, transform.SameTree, nil
	})
}

// hashValue writes v, a non-NULL value of type t, to h so that values equal for MySQL's
// DISTINCT write the same bytes: strings their collation's weights, integers their value,
// the rest their text (as GMS hashes them).
func hashValue(ctx *sql.Context, h *maphash.Hash, t sql.Type, v any) error {
	h.WriteByte(0xff) // separates values
	if st, ok := t.(sql.StringType); ok {
		s, err := types.ConvertToString(ctx, v, st, nil)
		if err != nil {
			return err
		}
		h.WriteByte('s')
		return st.Collation().WriteWeightString(h, s)
	}
	var n [9]byte
	switch x := v.(type) {
	case int64:
		return writeInt(h, n[:], x)
	case int32:
		return writeInt(h, n[:], int64(x))
	case int16:
		return writeInt(h, n[:], int64(x))
	case int8:
		return writeInt(h, n[:], int64(x))
	case int:
		return writeInt(h, n[:], int64(x))
	case uint64:
		if x <= math.MaxInt64 {
			return writeInt(h, n[:], int64(x))
		}
		n[0] = 'u'
		binary.LittleEndian.PutUint64(n[1:], x)
		_, err := h.Write(n[:])
		return err
	case uint32:
		return writeInt(h, n[:], int64(x))
	case uint16:
		return writeInt(h, n[:], int64(x))
	case uint8:
		return writeInt(h, n[:], int64(x))
	}
	v, err := sql.UnwrapAny(ctx, v)
	if err != nil {
		return err
	}
	h.WriteByte('t')
	_, err = fmt.Fprintf(h, "%v", v)
	return err
}

func writeInt(h *maphash.Hash, n []byte, x int64) error {
	n[0] = 'i'
	binary.LittleEndian.PutUint64(n[1:], uint64(x))
	_, err := h.Write(n)
	return err
}
