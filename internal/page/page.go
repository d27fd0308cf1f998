// Package page provides Strata's 16 KiB page: a fixed header (type, level, page ID, page LSN,
// sibling and child links, checksum) followed by a slotted area of opaque cells kept in slot
// order. Every change to a page is made through the redo package's Apply, which calls the
// methods here; all of them are deterministic, so the same records applied to the same bytes
// give the same bytes on every node.
package page

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
)

// Size is the size of every page in bytes.
const Size = 16 << 10

// HeaderSize is the number of bytes before the slot array.
const HeaderSize = 64

// MaxCell is the largest cell a page accepts; it guarantees at least four cells fit, so a split
// of a full page always leaves both halves with room for the entry being inserted.
const MaxCell = (Size-HeaderSize)/4 - 2*slotSize

const slotSize = 2    // one uint16 offset per slot
const cellLenSize = 2 // every cell is stored with a uint16 length prefix

// ID names a page. ID 0 is never a real page.
type ID uint64

// Invalid is the zero ID, meaning "no page".
const Invalid ID = 0

// LSN is a log sequence number: the byte position of a redo record in the log.
type LSN uint64

// Type says what a page holds.
type Type uint8

// Page types.
const (
	TypeZero     Type = 0 // never initialised
	TypeMeta     Type = 1 // page 1: allocation state and catalog root
	TypeLeaf     Type = 2 // B+tree leaf
	TypeInternal Type = 3 // B+tree internal node
	TypeOverflow Type = 4 // part of a large value
	TypeFree     Type = 5 // on the free list
)

func (t Type) String() string {
	switch t {
	case TypeZero:
		return "zero"
	case TypeMeta:
		return "meta"
	case TypeLeaf:
		return "leaf"
	case TypeInternal:
		return "internal"
	case TypeOverflow:
		return "overflow"
	case TypeFree:
		return "free"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Header offsets.
const (
	offChecksum = 0
	offType     = 4
	offLevel    = 5
	offFlags    = 6
	offID       = 8
	offLSN      = 16
	offSlots    = 24
	offCellTop  = 26
	offGarbage  = 28
	offLeft     = 32
	offRight    = 40
	offNext     = 48 // leftmost child (internal), next page (overflow, free)
	offOwner    = 56 // tree the page belongs to
)

// ErrFull is returned when a cell does not fit in the page.
var ErrFull = errors.New("page: not enough free space")

// ErrCorrupt is returned for a page whose structure is inconsistent.
var ErrCorrupt = errors.New("page: corrupt")

// Page is one page's bytes.
type Page [Size]byte

var le = binary.LittleEndian

func (p *Page) u16(off int) int          { return int(le.Uint16(p[off:])) }
func (p *Page) setU16(off int, v int)    { le.PutUint16(p[off:], uint16(v)) }
func (p *Page) u64(off int) uint64       { return le.Uint64(p[off:]) }
func (p *Page) setU64(off int, v uint64) { le.PutUint64(p[off:], v) }

// Type returns the page type.
func (p *Page) Type() Type { return Type(p[offType]) }

// Level returns the B+tree level (0 for leaves).
func (p *Page) Level() int { return int(p[offLevel]) }

// ID returns the page's own ID.
func (p *Page) ID() ID { return ID(p.u64(offID)) }

// LSN returns the LSN of the last record applied to the page.
func (p *Page) LSN() LSN { return LSN(p.u64(offLSN)) }

// SetLSN stamps the page with the LSN of the record just applied.
func (p *Page) SetLSN(l LSN) { p.setU64(offLSN, uint64(l)) }

// NumCells returns the number of cells (slots).
func (p *Page) NumCells() int { return p.u16(offSlots) }

// Left returns the left sibling.
func (p *Page) Left() ID { return ID(p.u64(offLeft)) }

// Right returns the right sibling.
func (p *Page) Right() ID { return ID(p.u64(offRight)) }

// Next returns the leftmost child of an internal page, or the next page of an overflow or free page.
func (p *Page) Next() ID { return ID(p.u64(offNext)) }

// Owner returns the tree the page belongs to.
func (p *Page) Owner() ID { return ID(p.u64(offOwner)) }

// SetLinks sets the sibling links.
func (p *Page) SetLinks(left, right ID) {
	p.setU64(offLeft, uint64(left))
	p.setU64(offRight, uint64(right))
}

// SetNext sets the leftmost child or next page.
func (p *Page) SetNext(n ID) { p.setU64(offNext, uint64(n)) }

// Init clears the page and gives it a type, level, ID and owner. The LSN is left at zero for
// the caller (redo.Apply) to stamp.
func (p *Page) Init(id ID, t Type, level int, owner ID) {
	clear(p[:])
	p[offType] = byte(t)
	p[offLevel] = byte(level)
	p.setU64(offID, uint64(id))
	p.setU64(offOwner, uint64(owner))
	p.setU16(offCellTop, Size)
}

// slotEnd is the first byte after the slot array.
func (p *Page) slotEnd() int { return HeaderSize + slotSize*p.NumCells() }

func (p *Page) cellTop() int {
	t := p.u16(offCellTop)
	if t == 0 {
		return Size // a zero page: nothing stored
	}
	return t
}

// FreeSpace returns the bytes available for new cells and slots, counting dead cell bytes that
// a compaction would reclaim.
func (p *Page) FreeSpace() int {
	return p.cellTop() - p.slotEnd() + p.u16(offGarbage)
}

// CellCost is the space a cell of n bytes takes in a page, slot included.
func CellCost(n int) int { return slotSize + cellLenSize + n }

// Fits reports whether a cell of n bytes can be inserted.
func (p *Page) Fits(n int) bool { return n <= MaxCell && CellCost(n) <= p.FreeSpace() }

// UsedSpace returns the bytes taken by live cells and their slots.
func (p *Page) UsedSpace() int { return Size - HeaderSize - p.FreeSpace() }

func (p *Page) slotOff(i int) int { return p.u16(HeaderSize + slotSize*i) }

// Cell returns cell i. The slice aliases the page.
func (p *Page) Cell(i int) []byte {
	off := p.slotOff(i)
	n := p.u16(off)
	return p[off+cellLenSize : off+cellLenSize+n]
}

// CheckCell validates slot i so that Cell(i) cannot go out of bounds; it is used on pages
// read from outside the process.
func (p *Page) CheckCell(i int) error {
	if i < 0 || i >= p.NumCells() {
		return fmt.Errorf("%w: slot %d of %d", ErrCorrupt, i, p.NumCells())
	}
	off := p.slotOff(i)
	if off < p.slotEnd() || off+cellLenSize > Size {
		return fmt.Errorf("%w: slot %d offset %d", ErrCorrupt, i, off)
	}
	if off+cellLenSize+p.u16(off) > Size {
		return fmt.Errorf("%w: slot %d length %d", ErrCorrupt, i, p.u16(off))
	}
	return nil
}

// Check validates the page's structure (header fields and every slot).
func (p *Page) Check() error {
	if p.Type() > TypeFree {
		return fmt.Errorf("%w: type %d", ErrCorrupt, p.Type())
	}
	if p.slotEnd() > Size || p.cellTop() < p.slotEnd() || p.cellTop() > Size {
		return fmt.Errorf("%w: %d slots, cell top %d", ErrCorrupt, p.NumCells(), p.cellTop())
	}
	// Every cell lies in [cellTop, Size), no two overlap, and the live cells plus the dead
	// bytes fill that area exactly: then no operation on the page can index outside it.
	n := p.NumCells()
	top := p.cellTop()
	garbage := p.u16(offGarbage)
	if garbage > Size-top {
		return fmt.Errorf("%w: %d dead bytes in a cell area of %d", ErrCorrupt, garbage, Size-top)
	}
	type span struct{ off, end int }
	spans := make([]span, 0, n)
	live := 0
	for i := 0; i < n; i++ {
		if err := p.CheckCell(i); err != nil {
			return err
		}
		off := p.slotOff(i)
		if off < top {
			return fmt.Errorf("%w: slot %d offset %d below the cell top %d", ErrCorrupt, i, off, top)
		}
		end := off + cellLenSize + p.u16(off)
		spans = append(spans, span{off, end})
		live += end - off
	}
	slices.SortFunc(spans, func(a, b span) int { return a.off - b.off })
	for i := 1; i < len(spans); i++ {
		if spans[i].off < spans[i-1].end {
			return fmt.Errorf("%w: cells at offsets %d and %d overlap", ErrCorrupt, spans[i-1].off, spans[i].off)
		}
	}
	if live+garbage != Size-top {
		return fmt.Errorf("%w: %d live and %d dead bytes in a cell area of %d", ErrCorrupt, live, garbage, Size-top)
	}
	return nil
}

// Insert puts cell at slot i, shifting later slots right.
func (p *Page) Insert(i int, cell []byte) error {
	n := p.NumCells()
	if i < 0 || i > n {
		return fmt.Errorf("%w: insert at slot %d of %d", ErrCorrupt, i, n)
	}
	if len(cell) > MaxCell {
		return fmt.Errorf("page: cell of %d bytes exceeds %d: %w", len(cell), MaxCell, ErrFull)
	}
	need := CellCost(len(cell))
	if need > p.FreeSpace() {
		return ErrFull
	}
	if p.cellTop()-p.slotEnd() < need {
		cell = append([]byte(nil), cell...) // it may point into the page Compact rewrites
		p.Compact()
	}
	top := p.cellTop() - cellLenSize - len(cell)
	p.setU16(top, len(cell))
	copy(p[top+cellLenSize:], cell)
	p.setU16(offCellTop, top)
	s := HeaderSize + slotSize*i
	copy(p[s+slotSize:p.slotEnd()+slotSize], p[s:p.slotEnd()])
	p.setU16(s, top)
	p.setU16(offSlots, n+1)
	return nil
}

// Delete removes slot i; its bytes become garbage until the next compaction.
func (p *Page) Delete(i int) error {
	n := p.NumCells()
	if i < 0 || i >= n {
		return fmt.Errorf("%w: delete slot %d of %d", ErrCorrupt, i, n)
	}
	off := p.slotOff(i)
	p.setU16(offGarbage, p.u16(offGarbage)+cellLenSize+p.u16(off))
	s := HeaderSize + slotSize*i
	end := p.slotEnd()
	copy(p[s:end-slotSize], p[s+slotSize:end])
	p.setU16(end-slotSize, 0)
	p.setU16(offSlots, n-1)
	return nil
}

// Replace swaps the cell in slot i for cell.
func (p *Page) Replace(i int, cell []byte) error {
	n := p.NumCells()
	if i < 0 || i >= n {
		return fmt.Errorf("%w: replace slot %d of %d", ErrCorrupt, i, n)
	}
	old := len(p.Cell(i))
	if len(cell) > MaxCell || CellCost(len(cell))-CellCost(old) > p.FreeSpace() {
		return ErrFull
	}
	if err := p.Delete(i); err != nil {
		return err
	}
	return p.Insert(i, cell)
}

// Truncate removes slots from..NumCells()-1.
func (p *Page) Truncate(from int) error {
	n := p.NumCells()
	if from < 0 || from > n {
		return fmt.Errorf("%w: truncate from slot %d of %d", ErrCorrupt, from, n)
	}
	for i := n - 1; i >= from; i-- {
		if err := p.Delete(i); err != nil {
			return err
		}
	}
	return nil
}

// Compact rewrites the live cells, in slot order, at the end of the page and zeroes the rest
// of the cell area, leaving no garbage.
func (p *Page) Compact() {
	n := p.NumCells()
	var tmp Page
	top := Size
	for i := 0; i < n; i++ {
		c := p.Cell(i)
		top -= cellLenSize + len(c)
		tmp.setU16(top, len(c))
		copy(tmp[top+cellLenSize:], c)
		p.setU16(HeaderSize+slotSize*i, top)
	}
	end := p.slotEnd()
	clear(p[end:top])
	copy(p[top:], tmp[top:])
	p.setU16(offCellTop, top)
	p.setU16(offGarbage, 0)
}

// Data returns the bytes after the header, used by overflow and meta pages.
func (p *Page) Data() []byte { return p[HeaderSize:] }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum computes the page's CRC32C over everything but the checksum field.
func (p *Page) Checksum() uint32 { return crc32.Checksum(p[offChecksum+4:], castagnoli) }

// Seal stores the checksum; call it before the page leaves the process or goes to disk.
func (p *Page) Seal() { le.PutUint32(p[offChecksum:], p.Checksum()) }

// Verify checks a sealed page's checksum and structure.
func (p *Page) Verify() error {
	if got, want := le.Uint32(p[offChecksum:]), p.Checksum(); got != want {
		return fmt.Errorf("%w: checksum %08x, computed %08x (page %d)", ErrCorrupt, got, want, p.ID())
	}
	return p.Check()
}

// StoredChecksum returns the checksum field as last sealed.
func (p *Page) StoredChecksum() uint32 { return le.Uint32(p[offChecksum:]) }
