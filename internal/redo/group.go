package redo

import (
	"fmt"

	"strata/internal/page"
)

// Group builds the records of one mini-transaction. Each method appends one record and
// returns its decoded form so that the caller can apply it at once with Apply; Bytes seals the
// group (group-end flag, CRCs) for the log.
type Group struct {
	buf   []byte
	last  int // offset of the last record, -1 when empty
	delta [2][]byte
}

// NewGroup returns an empty group.
func NewGroup() *Group { return &Group{last: -1} }

// Reset empties the group, keeping its buffer.
func (g *Group) Reset() { g.buf = g.buf[:0]; g.last = -1 }

// Len returns the encoded size of the records so far; the next record starts at this offset.
func (g *Group) Len() int { return len(g.buf) }

// Empty reports whether the group has no records.
func (g *Group) Empty() bool { return g.last < 0 }

func (g *Group) add(t Type, pg page.ID, payload int) []byte {
	off := len(g.buf)
	n := HeaderSize + payload
	if n > MaxRecord {
		panic(fmt.Sprintf("redo: %s record of %d bytes exceeds the maximum", t, n)) // caller bug
	}
	g.buf = append(g.buf, make([]byte, n)...)
	b := g.buf[off:]
	putLength(b, n)
	b[8] = byte(t)
	le.PutUint64(b[10:], uint64(pg))
	g.last = off
	return b[HeaderSize:n]
}

func (g *Group) record() Record {
	b := g.buf[g.last:]
	return Record{Type: Type(b[8]), Page: page.ID(le.Uint64(b[10:])), Payload: b[HeaderSize:recordLen(b)]}
}

// Init records clearing pg as a page of type t at level, owned by owner.
func (g *Group) Init(pg page.ID, t page.Type, level int, owner page.ID) Record {
	p := g.add(TInit, pg, 10)
	p[0] = byte(t)
	p[1] = byte(level)
	le.PutUint64(p[2:], uint64(owner))
	return g.record()
}

// Insert records inserting cell at slot.
func (g *Group) Insert(pg page.ID, slot int, cell []byte) Record {
	p := g.add(TInsert, pg, 2+len(cell))
	le.PutUint16(p, uint16(slot))
	copy(p[2:], cell)
	return g.record()
}

// InsertDelta records inserting at slot the cell that delta (AppendDelta) makes from the
// cell at slot base, counted before the insert.
func (g *Group) InsertDelta(pg page.ID, slot, base int, delta []byte) Record {
	p := g.add(TInsertDelta, pg, 4+len(delta))
	le.PutUint16(p, uint16(slot))
	le.PutUint16(p[2:], uint16(base))
	copy(p[4:], delta)
	return g.record()
}

// InsertLeaf records inserting cell at slot of the leaf p: as a delta of the cell beside it
// (at slot, then slot-1) when that is smaller, else as the cell. A new version of a row lands
// beside the old one, and most of its bytes are the old one's.
func (g *Group) InsertLeaf(pg page.ID, p *page.Page, slot int, cell []byte) Record {
	best, size := -1, len(cell)-deltaMinSaving
	for k, base := range [2]int{slot, slot - 1} {
		if base < 0 || base >= p.NumCells() {
			continue
		}
		g.delta[k] = AppendDelta(g.delta[k][:0], p.Cell(base), cell)
		if n := 2 + len(g.delta[k]); n < size {
			best, size = k, n
		}
		if best == 0 && size <= len(cell)/8 {
			break
		}
	}
	if best < 0 {
		return g.Insert(pg, slot, cell)
	}
	return g.InsertDelta(pg, slot, slot-best, g.delta[best])
}

// Delete records deleting the cell at slot.
func (g *Group) Delete(pg page.ID, slot int) Record {
	p := g.add(TDelete, pg, 2)
	le.PutUint16(p, uint16(slot))
	return g.record()
}

// Replace records replacing the cell at slot.
func (g *Group) Replace(pg page.ID, slot int, cell []byte) Record {
	p := g.add(TReplace, pg, 2+len(cell))
	le.PutUint16(p, uint16(slot))
	copy(p[2:], cell)
	return g.record()
}

// Truncate records deleting every cell from slot on.
func (g *Group) Truncate(pg page.ID, from int) Record {
	p := g.add(TTruncate, pg, 2)
	le.PutUint16(p, uint16(from))
	return g.record()
}

// Append records appending cells at the end of pg.
func (g *Group) Append(pg page.ID, cells [][]byte) Record {
	n := 2
	for _, c := range cells {
		n += 2 + len(c)
	}
	p := g.add(TAppend, pg, n)
	le.PutUint16(p, uint16(len(cells)))
	o := 2
	for _, c := range cells {
		le.PutUint16(p[o:], uint16(len(c)))
		copy(p[o+2:], c)
		o += 2 + len(c)
	}
	return g.record()
}

// Links records setting the sibling links of pg.
func (g *Group) Links(pg page.ID, left, right page.ID) Record {
	p := g.add(TLinks, pg, 16)
	le.PutUint64(p, uint64(left))
	le.PutUint64(p[8:], uint64(right))
	return g.record()
}

// Next records setting the leftmost child (internal pages) or next page of pg.
func (g *Group) Next(pg page.ID, next page.ID) Record {
	p := g.add(TNext, pg, 8)
	le.PutUint64(p, uint64(next))
	return g.record()
}

// Meta records setting the allocation state in the meta page.
func (g *Group) Meta(m page.Meta) Record {
	p := g.add(TMeta, page.MetaID, page.MetaSize)
	var tmp page.Page
	tmp.SetMeta(m)
	copy(p, tmp[page.HeaderSize:page.HeaderSize+page.MetaSize])
	return g.record()
}

// MaxOverflowData is the number of value bytes one overflow page holds.
const MaxOverflowData = page.Size - page.HeaderSize - 2

// Overflow records initialising pg as an overflow page of owner holding data, followed by next.
func (g *Group) Overflow(pg, owner, next page.ID, data []byte) Record {
	p := g.add(TOverflow, pg, 16+len(data))
	le.PutUint64(p, uint64(owner))
	le.PutUint64(p[8:], uint64(next))
	copy(p[16:], data)
	return g.record()
}

// Free records putting pg on the free list in front of next.
func (g *Group) Free(pg, next page.ID) Record {
	p := g.add(TFree, pg, 8)
	le.PutUint64(p, uint64(next))
	return g.record()
}

// Commit records the commit of transaction txn at the wall-clock time at, in microseconds
// since the Unix epoch: the time AS OF queries and point-in-time restore name it by (see
// CommitTime). A commit record of an older log has no time (8 bytes of payload).
func (g *Group) Commit(txn uint64, at int64) Record {
	p := g.add(TCommit, page.Invalid, 16)
	le.PutUint64(p, txn)
	le.PutUint64(p[8:], uint64(at))
	return g.record()
}

// End records the end of a group whose other records were appended before (see Partial).
func (g *Group) End() Record {
	g.add(TEnd, page.Invalid, 0)
	return g.record()
}

// Abort records that the incomplete group starting at from is void (see TAbort).
func (g *Group) Abort(from page.LSN) Record {
	p := g.add(TAbort, page.Invalid, 8)
	le.PutUint64(p, uint64(from))
	return g.record()
}

// AbortFrom returns where the void group of an abort record starts.
func AbortFrom(r Record) (page.LSN, error) {
	if r.Type != TAbort || len(r.Payload) != 8 {
		return 0, fmt.Errorf("%w: not an abort record: %s", ErrCorrupt, r)
	}
	return page.LSN(le.Uint64(r.Payload)), nil
}

// Bytes seals the group, marking its last record as the group end and computing every
// record's CRC, and returns its encoding. The group must not be empty.
func (g *Group) Bytes() []byte {
	if g.last < 0 {
		return nil
	}
	for off := 0; off < len(g.buf); {
		n := recordLen(g.buf[off:])
		if off == g.last {
			g.buf[off+9] |= FlagGroupEnd
		} else {
			g.buf[off+9] &^= FlagGroupEnd
		}
		le.PutUint32(g.buf[off+4:], recordCRC(g.buf[off:off+n]))
		off += n
	}
	return g.buf
}

// CommitTxn returns the transaction of a commit record.
func CommitTxn(r Record) (uint64, error) {
	if r.Type != TCommit || (len(r.Payload) != 8 && len(r.Payload) != 16) {
		return 0, fmt.Errorf("%w: not a commit record: %s", ErrCorrupt, r)
	}
	return le.Uint64(r.Payload), nil
}

// CommitTime returns the commit time of a commit record in microseconds since the Unix
// epoch, and false for a commit record written without one.
func CommitTime(r Record) (int64, bool, error) {
	if _, err := CommitTxn(r); err != nil {
		return 0, false, err
	}
	if len(r.Payload) != 16 {
		return 0, false, nil
	}
	return int64(le.Uint64(r.Payload[8:])), true, nil
}

// Partial seals the records so far without marking a group end, for appending the first part
// of a large group; the caller then Resets the group and continues it.
func (g *Group) Partial() []byte {
	for off := 0; off < len(g.buf); {
		n := recordLen(g.buf[off:])
		g.buf[off+9] &^= FlagGroupEnd
		le.PutUint32(g.buf[off+4:], recordCRC(g.buf[off:off+n]))
		off += n
	}
	return g.buf
}
