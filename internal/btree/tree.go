// Package btree provides B+trees over Strata pages: ordered byte keys, point lookups, range
// scans in both directions, and insert, replace and delete with splits, merges and root
// changes, every change a redo record applied through a mini-transaction.
//
// Concurrency: readers take shared latches top-down with coupling (holding a parent until the
// child is latched) and move right along leaves holding the left page while latching the right
// one. The single writer (the engine's writer lock) takes exclusive latches top-down, releasing
// ancestors once a node is safe, and latches siblings left to right. Reverse scans never latch
// right to left while holding a page: they release, latch the left sibling and validate the
// link, or descend again. So latch waits always go down or right and cannot deadlock.
package btree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"strata/internal/bufpool"
	"strata/internal/page"
)

// MaxKeySize is the largest key a tree accepts.
const MaxKeySize = 3200

// ErrKeyTooLarge is returned for a key over MaxKeySize.
var ErrKeyTooLarge = fmt.Errorf("btree: key longer than %d bytes", MaxKeySize)

// ErrCorrupt is returned when a page does not look like part of the tree.
var ErrCorrupt = errors.New("btree: corrupt tree")

// Compare orders keys.
type Compare func(a, b []byte) int

// Tree is a B+tree rooted at a fixed page: a root split moves the root's contents down into a
// new page, so the root ID never changes.
type Tree struct {
	Root page.ID
	Pool *bufpool.Pool
	Cmp  Compare
}

// New returns a handle on the tree rooted at root. cmp nil means bytes.Compare.
func New(pool *bufpool.Pool, root page.ID, cmp Compare) *Tree {
	if cmp == nil {
		cmp = bytes.Compare
	}
	return &Tree{Root: root, Pool: pool, Cmp: cmp}
}

// Value flags in a leaf cell.
const (
	valInline   = 0
	valOverflow = 1
)

// leaf cell: uvarint key length, key, flag byte, then the value (inline) or the value length
// (uvarint) and first overflow page (u64).
// internal cell: uvarint key length, key, child page (u64).

func cellKey(c []byte) ([]byte, []byte, error) {
	n, w := binary.Uvarint(c)
	if w <= 0 || uint64(len(c)-w) < n {
		return nil, nil, fmt.Errorf("%w: bad cell key length", ErrCorrupt)
	}
	return c[w : w+int(n)], c[w+int(n):], nil
}

// keyAt returns the key of cell i; pages in the pool have been verified, so a bad cell is
// reported as an empty key by the checker rather than crashing here.
func keyAt(p *page.Page, i int) []byte {
	k, _, err := cellKey(p.Cell(i))
	if err != nil {
		return nil
	}
	return k
}

func childAt(p *page.Page, i int) page.ID {
	if i < 0 {
		return p.Next()
	}
	_, rest, err := cellKey(p.Cell(i))
	if err != nil || len(rest) != 8 {
		return page.Invalid
	}
	return page.ID(binary.LittleEndian.Uint64(rest))
}

func internalCell(key []byte, child page.ID) []byte {
	c := binary.AppendUvarint(make([]byte, 0, len(key)+18), uint64(len(key)))
	c = append(c, key...)
	return binary.LittleEndian.AppendUint64(c, uint64(child))
}

func leafCellInline(key, val []byte) []byte {
	c := binary.AppendUvarint(make([]byte, 0, len(key)+len(val)+8), uint64(len(key)))
	c = append(c, key...)
	c = append(c, valInline)
	return append(c, val...)
}

func leafCellOverflow(key []byte, n int, first page.ID) []byte {
	c := binary.AppendUvarint(make([]byte, 0, len(key)+24), uint64(len(key)))
	c = append(c, key...)
	c = append(c, valOverflow)
	c = binary.AppendUvarint(c, uint64(n))
	return binary.LittleEndian.AppendUint64(c, uint64(first))
}

// lowerBound returns the first slot whose key is >= key (or NumCells).
func (t *Tree) lowerBound(p *page.Page, key []byte) int {
	lo, hi := 0, p.NumCells()
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.Cmp(keyAt(p, m), key) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// upperBound returns the first slot whose key is > key.
func (t *Tree) upperBound(p *page.Page, key []byte) int {
	lo, hi := 0, p.NumCells()
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.Cmp(keyAt(p, m), key) <= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// childIndex returns the cell index of the child to follow for key in an internal page: the
// last separator <= key, or -1 for the leftmost child. With strict, the last separator < key.
func (t *Tree) childIndex(p *page.Page, key []byte, strict bool) int {
	if strict {
		return t.lowerBound(p, key) - 1
	}
	return t.upperBound(p, key) - 1
}

func (t *Tree) checkNode(p *page.Page, id page.ID) error {
	if p.Type() != page.TypeLeaf && p.Type() != page.TypeInternal {
		return fmt.Errorf("%w: page %d of tree %d is a %s page", ErrCorrupt, id, t.Root, p.Type())
	}
	if p.Owner() != t.Root {
		return fmt.Errorf("%w: page %d belongs to tree %d, not %d", ErrCorrupt, id, p.Owner(), t.Root)
	}
	return nil
}
