package btree

import (
	"encoding/binary"

	"strata/internal/bufpool"
	"strata/internal/mtr"
	"strata/internal/page"
)

// Drop frees every page of the tree, root and overflow chains included. Nobody may use the
// tree any more: the caller has removed it from the catalog. Large trees are freed in
// several spilled pieces of the same mini-transaction.
func (t *Tree) Drop(m *mtr.Mtr) error {
	level := []page.ID{t.Root}
	for len(level) > 0 {
		var next []page.ID
		for _, id := range level {
			f, err := m.Get(id, bufpool.Exclusive)
			if err != nil {
				return err
			}
			if err := t.checkNode(&f.Page, id); err != nil {
				m.Release(f, bufpool.Exclusive)
				return err
			}
			p := &f.Page
			var chains []page.ID
			if p.Type() == page.TypeInternal {
				for i := -1; i < p.NumCells(); i++ {
					next = append(next, childAt(p, i))
				}
			} else {
				for i := 0; i < p.NumCells(); i++ {
					_, rest, err := cellKey(p.Cell(i))
					if err == nil && len(rest) > 9 && rest[0] == valOverflow {
						chains = append(chains, page.ID(binary.LittleEndian.Uint64(rest[len(rest)-8:])))
					}
				}
			}
			err = m.Free(f)
			m.Release(f, bufpool.Exclusive)
			if err != nil {
				return err
			}
			for _, c := range chains {
				if err := t.freeChain(m, c); err != nil {
					return err
				}
			}
			if err := m.Spill(); err != nil {
				return err
			}
		}
		level = next
	}
	return nil
}
