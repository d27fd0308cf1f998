package btree

import (
	"context"
	"fmt"

	"strata/internal/bufpool"
	"strata/internal/page"
)

// Nodes calls visit with the ID of every internal and leaf page of the tree, the root first
// (overflow pages are not visited). It latches one page at a time, so a tree being written
// may be seen part before and part after a change: call it while the tree holds still.
func (t *Tree) Nodes(ctx context.Context, visit func(page.ID)) error {
	todo := []page.ID{t.Root}
	for len(todo) > 0 {
		id := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		visit(id)
		f, err := t.Pool.Get(ctx, id, bufpool.Shared)
		if err != nil {
			return err
		}
		if err := t.checkNode(&f.Page, id); err != nil {
			t.Pool.Release(f, bufpool.Shared)
			return err
		}
		if f.Page.Type() == page.TypeInternal {
			for i := -1; i < f.Page.NumCells(); i++ {
				c := childAt(&f.Page, i)
				if c == page.Invalid {
					t.Pool.Release(f, bufpool.Shared)
					return fmt.Errorf("%w: page %d slot %d has no child", ErrCorrupt, id, i)
				}
				todo = append(todo, c)
			}
		}
		t.Pool.Release(f, bufpool.Shared)
	}
	return nil
}
