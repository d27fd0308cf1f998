package btree

import (
	"encoding/binary"
	"fmt"

	"strata/internal/bufpool"
	"strata/internal/mtr"
	"strata/internal/page"
	"strata/internal/redo"
)

// minFill is the used space below which a non-root node is merged with a sibling.
const minFill = (page.Size - page.HeaderSize) / 4

// maxSepCost is the most space one separator insertion can take in an internal page.
var maxSepCost = page.CellCost(MaxKeySize + binary.MaxVarintLen64 + 8)

// Create makes a new empty tree (a leaf root) and returns its root page.
func Create(m *mtr.Mtr) (page.ID, error) {
	f, err := m.Alloc()
	if err != nil {
		return page.Invalid, err
	}
	defer m.Release(f, bufpool.Exclusive)
	id := f.ID()
	if err := m.Apply(f, m.Group().Init(id, page.TypeLeaf, 0, id)); err != nil {
		return page.Invalid, err
	}
	return id, nil
}

// pathEntry is a latched node on the writer's path and the index of the child taken.
type pathEntry struct {
	f   *bufpool.Frame
	idx int // child index followed (-1 leftmost); unused for the leaf
}

type path []pathEntry

func (p path) release(m *mtr.Mtr) {
	for _, e := range p {
		if e.f != nil {
			m.Release(e.f, bufpool.Exclusive)
		}
	}
}

// writePath latches the path to the leaf for key exclusively, keeping only the ancestors that
// an operation on the leaf could change (those above the first node, from the bottom, that is
// not safe).
func (t *Tree) writePath(m *mtr.Mtr, key []byte, safe func(p *page.Page, root bool) bool) (path, error) {
	f, err := m.Get(t.Root, bufpool.Exclusive)
	if err != nil {
		return nil, err
	}
	pth := path{{f: f}}
	for {
		cur := &pth[len(pth)-1]
		if err := t.checkNode(&cur.f.Page, cur.f.ID()); err != nil {
			pth.release(m)
			return nil, err
		}
		if cur.f.Page.Type() == page.TypeLeaf {
			return pth, nil
		}
		cur.idx = t.childIndex(&cur.f.Page, key, false)
		child := childAt(&cur.f.Page, cur.idx)
		cf, err := m.Get(child, bufpool.Exclusive)
		if err != nil {
			pth.release(m)
			return nil, err
		}
		if safe(&cf.Page, false) {
			pth.release(m)
			pth = pth[:0]
		}
		pth = append(pth, pathEntry{f: cf})
	}
}

// Put stores value under key, replacing any value already there.
func (t *Tree) Put(m *mtr.Mtr, key, value []byte) error {
	if len(key) > MaxKeySize {
		return ErrKeyTooLarge
	}
	cell := leafCellInline(key, value)
	var chain page.ID
	if len(cell) > page.MaxCell {
		var err error
		if chain, err = t.writeOverflow(m, value); err != nil {
			return err
		}
		cell = leafCellOverflow(key, len(value), chain)
	}
	safe := func(p *page.Page, root bool) bool {
		if p.Type() == page.TypeLeaf {
			return p.Fits(len(cell))
		}
		return p.FreeSpace() >= maxSepCost
	}
	pth, err := t.writePath(m, key, safe)
	if err != nil {
		return err
	}
	defer pth.release(m)
	leaf := pth[len(pth)-1].f
	i := t.lowerBound(&leaf.Page, key)
	if i < leaf.Page.NumCells() && t.Cmp(keyAt(&leaf.Page, i), key) == 0 {
		old := leaf.Page.Cell(i)
		if err := t.freeValue(m, old); err != nil {
			return err
		}
		if page.CellCost(len(cell))-page.CellCost(len(old)) <= leaf.Page.FreeSpace() {
			return m.Apply(leaf, m.Group().Replace(leaf.ID(), i, cell))
		}
		if err := m.Apply(leaf, m.Group().Delete(leaf.ID(), i)); err != nil {
			return err
		}
	}
	if leaf.Page.Fits(len(cell)) {
		leaf.LastInsert = int32(i)
		return m.Apply(leaf, m.Group().InsertLeaf(leaf.ID(), &leaf.Page, i, cell))
	}
	return t.insertSplit(m, pth, len(pth)-1, i, cell)
}

// insertSplit inserts cell at slot i of the full node pth[level], splitting it and inserting
// the separator into its parent, recursively.
func (t *Tree) insertSplit(m *mtr.Mtr, pth path, level, i int, cell []byte) error {
	f := pth[level].f
	if f.ID() == t.Root {
		// Move the root's contents into a new page so the root keeps its ID.
		nf, err := t.raiseRoot(m, f)
		if err != nil {
			return err
		}
		pth = append(pth[:level+1:level+1], append(path{{f: nf}}, pth[level+1:]...)...)
		pth[level].idx = -1
		// The raised path now holds nf too; release it with the rest of the caller's path by
		// recording it in place of the original slice is not possible, so release it here.
		defer m.Release(nf, bufpool.Exclusive)
		level++
		f = nf
	}
	p := &f.Page
	n := p.NumCells()
	cells := make([][]byte, 0, n+1)
	for j := 0; j < n; j++ {
		if j == i {
			cells = append(cells, cell)
		}
		cells = append(cells, append([]byte(nil), p.Cell(j)...))
	}
	if i == n {
		cells = append(cells, cell)
	}
	leaf := p.Type() == page.TypeLeaf
	// An insert at the end of a leaf, or just after the one before it, is taken as a step of
	// an ascending run (InnoDB's heuristic).
	ascending := leaf && (i == n || int(f.LastInsert) == i-1)
	k := splitPoint(cells, i, ascending)
	if leaf {
		f.LastInsert = -1
	}

	nf, err := m.Alloc()
	if err != nil {
		return err
	}
	defer m.Release(nf, bufpool.Exclusive)
	g := m.Group()
	nid, id := nf.ID(), f.ID()
	if err := m.Apply(nf, g.Init(nid, p.Type(), p.Level(), t.Root)); err != nil {
		return err
	}
	var sep []byte
	if leaf {
		if err := m.Apply(nf, g.Append(nid, cells[k:])); err != nil {
			return err
		}
		right := p.Right()
		if err := m.Apply(nf, g.Links(nid, id, right)); err != nil {
			return err
		}
		if right != page.Invalid {
			rf, err := m.Get(right, bufpool.Exclusive)
			if err != nil {
				return err
			}
			err = m.Apply(rf, g.Links(right, nid, rf.Page.Right()))
			m.Release(rf, bufpool.Exclusive)
			if err != nil {
				return err
			}
		}
		sk, _, _ := cellKey(cells[k])
		sep = append([]byte(nil), sk...)
	} else {
		// cells[k] moves up: its key becomes the separator, its child the new page's leftmost.
		sk, rest, err := cellKey(cells[k])
		if err != nil || len(rest) != 8 {
			return fmt.Errorf("%w: bad internal cell", ErrCorrupt)
		}
		sep = append([]byte(nil), sk...)
		if err := m.Apply(nf, g.Next(nid, page.ID(binary.LittleEndian.Uint64(rest)))); err != nil {
			return err
		}
		if err := m.Apply(nf, g.Append(nid, cells[k+1:])); err != nil {
			return err
		}
	}
	if leaf && i >= k {
		nf.LastInsert = int32(i - k)
	}
	// Shrink the old node to cells[:k].
	if i < k {
		if leaf {
			f.LastInsert = int32(i)
		}
		if err := m.Apply(f, g.Truncate(id, k-1)); err != nil {
			return err
		}
		if err := m.Apply(f, g.Insert(id, i, cell)); err != nil {
			return err
		}
	} else if err := m.Apply(f, g.Truncate(id, k)); err != nil {
		return err
	}
	if leaf {
		if err := m.Apply(f, g.Links(id, p.Left(), nid)); err != nil {
			return err
		}
	}
	parent := &pth[level-1]
	pcell := internalCell(sep, nid)
	slot := parent.idx + 1
	if parent.f.Page.Fits(len(pcell)) {
		return m.Apply(parent.f, g.Insert(parent.f.ID(), slot, pcell))
	}
	return t.insertSplit(m, pth, level-1, slot, pcell)
}

// splitPoint chooses the first cell of the new right page; cells[i] is the one being
// inserted. An ascending run (auto-increment keys at the right edge, or keys under a prefix
// that grows in the middle of the tree: an order number per district, warehouses loaded side
// by side) split in the middle would leave every page behind it half empty for good. So an
// ascending insert keeps on the left what precedes it, up to seqFill of a page (InnoDB also
// leaves 1/16 free, for the versions later updates add), and moves what follows it to the
// right: the run goes on where the new cell is, in a page with room, and the cells after it,
// which the run will not touch, are not carried along. Each side fits in a page: the left
// one holds at most seqFill, or the new cell and old cells before it when the right one holds
// only old cells; otherwise at most a page's worth beyond seqFill plus two cells go right.
// Other inserts split in the middle by bytes, each half holding at most half plus one cell.
func splitPoint(cells [][]byte, i int, ascending bool) int {
	if ascending {
		k, acc := i+1, 0
		for j, c := range cells[:i+1] {
			acc += page.CellCost(len(c))
			if acc > seqFill {
				k = j
				break
			}
		}
		return max(1, min(k, len(cells)-1))
	}
	total := 0
	for _, c := range cells {
		total += page.CellCost(len(c))
	}
	acc := 0
	for k, c := range cells {
		acc += page.CellCost(len(c))
		if acc >= total/2 {
			return max(1, min(k+1, len(cells)-1))
		}
	}
	return len(cells) - 1
}

// seqFill is how many bytes of cells a page split by an ascending run keeps: 15/16 of
// what a page can hold.
const seqFill = (page.Size - page.HeaderSize) * 15 / 16

// raiseRoot moves the root's contents into a new page and makes the root an internal node
// one level up whose only child is that page. It returns the new page, latched.
func (t *Tree) raiseRoot(m *mtr.Mtr, root *bufpool.Frame) (*bufpool.Frame, error) {
	nf, err := m.Alloc()
	if err != nil {
		return nil, err
	}
	g := m.Group()
	p := &root.Page
	nid := nf.ID()
	cells := make([][]byte, p.NumCells())
	for j := range cells {
		cells[j] = append([]byte(nil), p.Cell(j)...)
	}
	err = m.Apply(nf, g.Init(nid, p.Type(), p.Level(), t.Root))
	if err == nil && len(cells) > 0 {
		err = m.Apply(nf, g.Append(nid, cells))
	}
	if err == nil && p.Type() == page.TypeInternal {
		err = m.Apply(nf, g.Next(nid, p.Next()))
	}
	if err == nil {
		err = m.Apply(root, g.Init(t.Root, page.TypeInternal, p.Level()+1, t.Root))
	}
	if err == nil {
		err = m.Apply(root, g.Next(t.Root, nid))
	}
	if err != nil {
		m.Release(nf, bufpool.Exclusive)
		return nil, err
	}
	return nf, nil
}

// Delete removes key and reports whether it was there.
func (t *Tree) Delete(m *mtr.Mtr, key []byte) (bool, error) {
	safe := func(p *page.Page, root bool) bool {
		if p.Type() == page.TypeLeaf {
			return p.UsedSpace()-page.CellCost(page.MaxCell) >= minFill
		}
		return p.UsedSpace()-maxSepCost >= minFill
	}
	pth, err := t.writePath(m, key, safe)
	if err != nil {
		return false, err
	}
	defer func() { pth.release(m) }()
	leaf := pth[len(pth)-1].f
	i := t.lowerBound(&leaf.Page, key)
	if i >= leaf.Page.NumCells() || t.Cmp(keyAt(&leaf.Page, i), key) != 0 {
		return false, nil
	}
	if err := t.freeValue(m, leaf.Page.Cell(i)); err != nil {
		return false, err
	}
	if err := m.Apply(leaf, m.Group().Delete(leaf.ID(), i)); err != nil {
		return false, err
	}
	return true, t.rebalance(m, &pth, len(pth)-1)
}

// rebalance merges the node at pth[level] with a sibling if it has become underfull, and
// continues with the parent; at the root it lowers the tree when the root has one child.
func (t *Tree) rebalance(m *mtr.Mtr, pth *path, level int) error {
	f := (*pth)[level].f
	p := &f.Page
	if f.ID() == t.Root {
		for p.Type() == page.TypeInternal && p.NumCells() == 0 {
			if err := t.lowerRoot(m, f); err != nil {
				return err
			}
		}
		return nil
	}
	if p.UsedSpace() >= minFill || level == 0 {
		return nil
	}
	parent := (*pth)[level-1]
	pp := &parent.f.Page
	idx := parent.idx
	var leftIdx int // separator index between the merged pair
	var lf, rf *bufpool.Frame
	g := m.Group()
	switch {
	case idx+1 < pp.NumCells():
		// Merge the right sibling into this node.
		rid := childAt(pp, idx+1)
		r, err := m.Get(rid, bufpool.Exclusive)
		if err != nil {
			return err
		}
		lf, rf, leftIdx = f, r, idx+1
	case idx >= 0:
		// Merge this node into its left sibling: latch left to right.
		lid := childAt(pp, idx-1)
		m.Release(f, bufpool.Exclusive)
		(*pth)[level].f = nil
		l, err := m.Get(lid, bufpool.Exclusive)
		if err != nil {
			return err
		}
		f2, err := m.Get(f.ID(), bufpool.Exclusive)
		if err != nil {
			m.Release(l, bufpool.Exclusive)
			return err
		}
		(*pth)[level].f = f2
		lf, rf, leftIdx = l, f2, idx
	default:
		return nil // only child of its parent
	}
	release := func() {
		if lf != (*pth)[level].f {
			m.Release(lf, bufpool.Exclusive)
		}
		if rf != (*pth)[level].f {
			m.Release(rf, bufpool.Exclusive)
		}
	}
	if err := t.checkNode(&lf.Page, lf.ID()); err != nil {
		release()
		return err
	}
	if err := t.checkNode(&rf.Page, rf.ID()); err != nil {
		release()
		return err
	}
	var cells [][]byte
	if lf.Page.Type() == page.TypeInternal {
		cells = append(cells, internalCell(keyAt(pp, leftIdx), rf.Page.Next()))
	}
	for j := 0; j < rf.Page.NumCells(); j++ {
		cells = append(cells, append([]byte(nil), rf.Page.Cell(j)...))
	}
	need := 0
	for _, c := range cells {
		need += page.CellCost(len(c))
	}
	if need > lf.Page.FreeSpace() {
		release()
		return nil // cannot merge; the node stays underfull
	}
	err := func() error {
		if len(cells) > 0 {
			if err := m.Apply(lf, g.Append(lf.ID(), cells)); err != nil {
				return err
			}
		}
		if lf.Page.Type() == page.TypeLeaf {
			rr := rf.Page.Right()
			if err := m.Apply(lf, g.Links(lf.ID(), lf.Page.Left(), rr)); err != nil {
				return err
			}
			if rr != page.Invalid {
				rrf, err := m.Get(rr, bufpool.Exclusive)
				if err != nil {
					return err
				}
				err = m.Apply(rrf, g.Links(rr, lf.ID(), rrf.Page.Right()))
				m.Release(rrf, bufpool.Exclusive)
				if err != nil {
					return err
				}
			}
		}
		if err := m.Apply(parent.f, g.Delete(parent.f.ID(), leftIdx)); err != nil {
			return err
		}
		return m.Free(rf)
	}()
	release()
	if err != nil {
		return err
	}
	// Nothing at this level changes any more; unlatch it so the parent's rebalance (which may
	// latch this node again, e.g. to lower the root) does not wait on ourselves.
	if f := (*pth)[level].f; f != nil {
		m.Release(f, bufpool.Exclusive)
		(*pth)[level].f = nil
	}
	return t.rebalance(m, pth, level-1)
}

// lowerRoot copies the root's only child into the root and frees the child.
func (t *Tree) lowerRoot(m *mtr.Mtr, root *bufpool.Frame) error {
	cid := root.Page.Next()
	cf, err := m.Get(cid, bufpool.Exclusive)
	if err != nil {
		return err
	}
	defer m.Release(cf, bufpool.Exclusive)
	if err := t.checkNode(&cf.Page, cid); err != nil {
		return err
	}
	c := &cf.Page
	g := m.Group()
	cells := make([][]byte, c.NumCells())
	for j := range cells {
		cells[j] = append([]byte(nil), c.Cell(j)...)
	}
	if err := m.Apply(root, g.Init(t.Root, c.Type(), c.Level(), t.Root)); err != nil {
		return err
	}
	if len(cells) > 0 {
		if err := m.Apply(root, g.Append(t.Root, cells)); err != nil {
			return err
		}
	}
	if c.Type() == page.TypeInternal {
		if err := m.Apply(root, g.Next(t.Root, c.Next())); err != nil {
			return err
		}
	}
	return m.Free(cf)
}

// writeOverflow stores value in a chain of overflow pages and returns the first.
func (t *Tree) writeOverflow(m *mtr.Mtr, value []byte) (page.ID, error) {
	// Write back to front so each page knows its successor when it is initialised.
	var next page.ID
	n := (len(value) + redo.MaxOverflowData - 1) / redo.MaxOverflowData
	for j := n - 1; j >= 0; j-- {
		f, err := m.Alloc()
		if err != nil {
			return page.Invalid, err
		}
		end := min((j+1)*redo.MaxOverflowData, len(value))
		err = m.Apply(f, m.Group().Overflow(f.ID(), t.Root, next, value[j*redo.MaxOverflowData:end]))
		next = f.ID()
		m.Release(f, bufpool.Exclusive)
		if err != nil {
			return page.Invalid, err
		}
	}
	return next, nil
}

// freeValue frees the overflow pages of a leaf cell, if any.
func (t *Tree) freeValue(m *mtr.Mtr, cell []byte) error {
	_, rest, err := cellKey(cell)
	if err != nil || len(rest) == 0 {
		return fmt.Errorf("%w: bad leaf cell", ErrCorrupt)
	}
	if rest[0] != valOverflow {
		return nil
	}
	_, w := binary.Uvarint(rest[1:])
	if w <= 0 || len(rest) != 1+w+8 {
		return fmt.Errorf("%w: bad overflow reference", ErrCorrupt)
	}
	return t.freeChain(m, page.ID(binary.LittleEndian.Uint64(rest[1+w:])))
}

// freeChain frees an overflow chain starting at id.
func (t *Tree) freeChain(m *mtr.Mtr, id page.ID) error {
	for id != page.Invalid {
		f, err := m.Get(id, bufpool.Exclusive)
		if err != nil {
			return err
		}
		if f.Page.Type() != page.TypeOverflow || f.Page.Owner() != t.Root {
			m.Release(f, bufpool.Exclusive)
			return fmt.Errorf("%w: page %d in an overflow chain of tree %d is a %s page of %d",
				ErrCorrupt, id, t.Root, f.Page.Type(), f.Page.Owner())
		}
		next := f.Page.Next()
		err = m.Free(f)
		m.Release(f, bufpool.Exclusive)
		if err != nil {
			return err
		}
		id = next
	}
	return nil
}
