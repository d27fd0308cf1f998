package btree

import (
	"context"
	"math/rand/v2"

	"strata/internal/bufpool"
	"strata/internal/page"
)

// Sample descends from the root to a leaf chosen by picking a child uniformly at random at
// every level, visits the leaf's entries in order (stopping early if visit says so), and
// returns the product of the fanouts met on the way down. That product is an unbiased
// estimate of the number of leaves (Knuth's estimator of a tree's size), so the average of
// fanouts × (what a leaf holds) over several dives estimates what the whole tree holds
// without reading it: how InnoDB samples its index statistics from random leaf pages.
func (t *Tree) Sample(ctx context.Context, rng *rand.Rand, visit Visitor) (float64, error) {
	f, err := t.Pool.Get(ctx, t.Root, bufpool.Shared)
	if err != nil {
		return 0, err
	}
	leaves := 1.0
	for {
		if err := t.checkNode(&f.Page, f.ID()); err != nil {
			t.Pool.Release(f, bufpool.Shared)
			return 0, err
		}
		if f.Page.Type() == page.TypeLeaf {
			break
		}
		// An internal node's children: Next() and one per cell.
		n := f.Page.NumCells() + 1
		leaves *= float64(n)
		child := childAt(&f.Page, rng.IntN(n)-1)
		cf, err := t.Pool.Get(ctx, child, bufpool.Shared)
		t.Pool.Release(f, bufpool.Shared)
		if err != nil {
			return 0, err
		}
		f = cf
	}
	defer t.Pool.Release(f, bufpool.Shared)
	for i, n := 0, f.Page.NumCells(); i < n; i++ {
		k, v, err := t.leafValue(ctx, f.Page.Cell(i))
		if err != nil {
			return 0, err
		}
		more, err := visit(k, v)
		if err != nil {
			return 0, err
		}
		if !more {
			break
		}
	}
	return leaves, nil
}
