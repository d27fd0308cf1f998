package btree

import (
	"context"

	"strata/internal/bufpool"
	"strata/internal/page"
)

// Prefetch reads into the pool, in parallel (bufpool.Pool.Prefetch), the leaves on which
// forward scans from keys start: for each key the leaf that holds the first key >= it. The
// inner nodes on the way are read one by one, as a scan reads them, and stay in the pool.
// It returns how many leaves it read, and an error only when an inner node cannot be read; a
// leaf that cannot be is left to the scan that needs it.
func (t *Tree) Prefetch(ctx context.Context, keys [][]byte) (int, error) {
	ids := make([]page.ID, 0, len(keys))
	for _, k := range keys {
		if k == nil {
			continue
		}
		id, err := t.leafOf(ctx, k)
		if err != nil {
			return 0, err
		}
		if id != page.Invalid && (len(ids) == 0 || ids[len(ids)-1] != id) {
			ids = append(ids, id)
		}
	}
	return t.Pool.Prefetch(ctx, ids), nil
}

// leafOf returns the leaf that holds the first key >= key, without reading it, or
// page.Invalid when the root is that leaf (and so in the pool already).
func (t *Tree) leafOf(ctx context.Context, key []byte) (page.ID, error) {
	f, err := t.Pool.Get(ctx, t.Root, bufpool.Shared)
	if err != nil {
		return page.Invalid, err
	}
	for {
		if err := t.checkNode(&f.Page, f.ID()); err != nil {
			t.Pool.Release(f, bufpool.Shared)
			return page.Invalid, err
		}
		if f.Page.Type() == page.TypeLeaf {
			t.Pool.Release(f, bufpool.Shared)
			return page.Invalid, nil
		}
		child := childAt(&f.Page, t.childIndex(&f.Page, key, false))
		if f.Page.Level() == 1 {
			t.Pool.Release(f, bufpool.Shared)
			return child, nil
		}
		cf, err := t.Pool.Get(ctx, child, bufpool.Shared)
		t.Pool.Release(f, bufpool.Shared)
		if err != nil {
			return page.Invalid, err
		}
		f = cf
	}
}
