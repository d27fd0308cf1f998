package btree

import (
	"context"
	"fmt"

	"strata/internal/bufpool"
	"strata/internal/page"
	"strata/internal/redo"
)

const maxOverflowData = redo.MaxOverflowData

// Stats describe a tree's shape, as found by Check.
type Stats struct {
	Height, Internal, Leaves, Overflow, Entries int
}

// Check verifies the tree's invariants: node types, owners and levels; keys ascending in
// every node and within the bounds its parent's separators give; all leaves at one depth and
// linked left to right in key order; overflow chains of the stated length. It latches one page
// at a time, so run it while the tree is not being written.
func (t *Tree) Check(ctx context.Context) (Stats, error) {
	c := checker{t: t, ctx: ctx}
	rf, err := t.Pool.Get(ctx, t.Root, bufpool.Shared)
	if err != nil {
		return Stats{}, err
	}
	level := rf.Page.Level()
	t.Pool.Release(rf, bufpool.Shared)
	c.st.Height = level + 1
	if err := c.node(t.Root, level, nil, nil); err != nil {
		return c.st, err
	}
	for j, id := range c.leaves {
		var wantL, wantR page.ID
		if j > 0 {
			wantL = c.leaves[j-1]
		}
		if j+1 < len(c.leaves) {
			wantR = c.leaves[j+1]
		}
		if c.links[j][0] != wantL || c.links[j][1] != wantR {
			return c.st, fmt.Errorf("%w: leaf %d links (%d, %d), want (%d, %d)", ErrCorrupt, id,
				c.links[j][0], c.links[j][1], wantL, wantR)
		}
	}
	return c.st, nil
}

type checker struct {
	t      *Tree
	ctx    context.Context
	st     Stats
	leaves []page.ID
	links  [][2]page.ID
}

// node checks page id expected at level, with keys in [lo, hi) (nil: unbounded).
func (c *checker) node(id page.ID, level int, lo, hi []byte) error {
	t := c.t
	f, err := t.Pool.Get(c.ctx, id, bufpool.Shared)
	if err != nil {
		return err
	}
	p := &f.Page
	type child struct {
		id     page.ID
		lo, hi []byte
	}
	var children []child
	var ovf [][]byte // overflow references, read after the leaf is released
	err = func() error {
		if err := t.checkNode(p, id); err != nil {
			return err
		}
		if err := p.Check(); err != nil {
			return fmt.Errorf("page %d: %w", id, err)
		}
		if p.Level() != level {
			return fmt.Errorf("%w: page %d at level %d, want %d", ErrCorrupt, id, p.Level(), level)
		}
		if (level == 0) != (p.Type() == page.TypeLeaf) {
			return fmt.Errorf("%w: page %d is a %s page at level %d", ErrCorrupt, id, p.Type(), level)
		}
		var prev []byte
		for i := 0; i < p.NumCells(); i++ {
			k, rest, err := cellKey(p.Cell(i))
			if err != nil {
				return fmt.Errorf("page %d slot %d: %w", id, i, err)
			}
			if len(k) > MaxKeySize {
				return fmt.Errorf("%w: page %d slot %d key of %d bytes", ErrCorrupt, id, i, len(k))
			}
			if i > 0 && t.Cmp(prev, k) >= 0 {
				return fmt.Errorf("%w: page %d slot %d key %q not above %q", ErrCorrupt, id, i, k, prev)
			}
			if lo != nil && t.Cmp(k, lo) < 0 || hi != nil && t.Cmp(k, hi) >= 0 {
				return fmt.Errorf("%w: page %d slot %d key %q outside [%q, %q)", ErrCorrupt, id, i, k, lo, hi)
			}
			prev = k
			if level == 0 {
				c.st.Entries++
				if len(rest) == 0 {
					return fmt.Errorf("%w: page %d slot %d has no value flag", ErrCorrupt, id, i)
				}
				if rest[0] == valOverflow {
					ovf = append(ovf, append([]byte(nil), rest...))
				} else if rest[0] != valInline {
					return fmt.Errorf("%w: page %d slot %d value flag %d", ErrCorrupt, id, i, rest[0])
				}
			} else if len(rest) != 8 {
				return fmt.Errorf("%w: page %d slot %d internal cell of %d bytes", ErrCorrupt, id, i, len(rest))
			}
		}
		if level == 0 {
			c.st.Leaves++
			c.leaves = append(c.leaves, id)
			c.links = append(c.links, [2]page.ID{p.Left(), p.Right()})
			return nil
		}
		c.st.Internal++
		n := p.NumCells()
		for i := -1; i < n; i++ {
			ch := child{id: childAt(p, i), lo: lo, hi: hi}
			if i >= 0 {
				ch.lo = append([]byte(nil), keyAt(p, i)...)
			}
			if i+1 < n {
				ch.hi = append([]byte(nil), keyAt(p, i+1)...)
			}
			children = append(children, ch)
		}
		return nil
	}()
	t.Pool.Release(f, bufpool.Shared)
	if err != nil {
		return err
	}
	for _, raw := range ovf {
		v := Value{t: t, ctx: c.ctx, raw: raw}
		b, err := v.Append(nil)
		if err != nil {
			return fmt.Errorf("leaf %d: %w", id, err)
		}
		c.st.Overflow += (len(b) + maxOverflowData - 1) / maxOverflowData
	}
	for _, ch := range children {
		if err := c.node(ch.id, level-1, ch.lo, ch.hi); err != nil {
			return err
		}
	}
	return nil
}
