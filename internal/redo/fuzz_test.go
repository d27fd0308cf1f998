package redo

import (
	"bytes"
	"errors"
	"testing"

	"strata/internal/page"
)

// reencode rebuilds r with the Group method for its type when its payload has the layout that
// method writes, returning the encoded record (flags included) and true.
func reencode(r Record) ([]byte, bool) {
	g := NewGroup()
	pl := r.Payload
	switch r.Type {
	case TInit:
		if len(pl) != 10 {
			return nil, false
		}
		g.Init(r.Page, page.Type(pl[0]), int(pl[1]), page.ID(le.Uint64(pl[2:])))
	case TInsert, TReplace:
		if len(pl) < 2 {
			return nil, false
		}
		if r.Type == TInsert {
			g.Insert(r.Page, int(le.Uint16(pl)), pl[2:])
		} else {
			g.Replace(r.Page, int(le.Uint16(pl)), pl[2:])
		}
	case TInsertDelta:
		if len(pl) < 4 {
			return nil, false
		}
		g.InsertDelta(r.Page, int(le.Uint16(pl)), int(le.Uint16(pl[2:])), pl[4:])
	case TDelete, TTruncate:
		if len(pl) != 2 {
			return nil, false
		}
		if r.Type == TDelete {
			g.Delete(r.Page, int(le.Uint16(pl)))
		} else {
			g.Truncate(r.Page, int(le.Uint16(pl)))
		}
	case TAppend:
		if len(pl) < 2 {
			return nil, false
		}
		n := int(le.Uint16(pl))
		cells := make([][]byte, 0, min(n, len(pl)/2))
		o := 2
		for i := 0; i < n; i++ {
			if o+2 > len(pl) {
				return nil, false
			}
			c := int(le.Uint16(pl[o:]))
			if o+2+c > len(pl) {
				return nil, false
			}
			cells = append(cells, pl[o+2:o+2+c])
			o += 2 + c
		}
		if o != len(pl) {
			return nil, false
		}
		g.Append(r.Page, cells)
	case TLinks:
		if len(pl) != 16 {
			return nil, false
		}
		g.Links(r.Page, page.ID(le.Uint64(pl)), page.ID(le.Uint64(pl[8:])))
	case TNext:
		if len(pl) != 8 {
			return nil, false
		}
		g.Next(r.Page, page.ID(le.Uint64(pl)))
	case TMeta:
		if len(pl) != page.MetaSize || r.Page != page.MetaID {
			return nil, false
		}
		var tmp page.Page
		copy(tmp.Data(), pl)
		g.Meta(tmp.Meta())
	case TOverflow:
		if len(pl) < 16 {
			return nil, false
		}
		g.Overflow(r.Page, page.ID(le.Uint64(pl)), page.ID(le.Uint64(pl[8:])), pl[16:])
	case TFree:
		if len(pl) != 8 {
			return nil, false
		}
		g.Free(r.Page, page.ID(le.Uint64(pl)))
	case TCommit:
		if len(pl) != 16 || r.Page != page.Invalid {
			return nil, false
		}
		g.Commit(le.Uint64(pl), int64(le.Uint64(pl[8:])))
	default:
		return nil, false
	}
	if !r.GroupEnd() {
		g.Commit(0, 0) // so that the record under test is not the group's last
	}
	return g.Bytes()[:r.Size()], true
}

func decodeSeeds() [][]byte {
	var seeds [][]byte
	for _, r := range everyType(NewGroup()) {
		seeds = append(seeds, rawRecord(r.Type, FlagGroupEnd, r.Page, r.Payload), rawRecord(r.Type, 0, r.Page, r.Payload))
	}
	g := NewGroup()
	everyType(g)
	all := bytes.Clone(g.Bytes())
	flipped := bytes.Clone(all)
	flipped[40] ^= 4
	seeds = append(seeds, all, all[:len(all)-1], append(bytes.Clone(all), all[:30]...), flipped,
		nil, make([]byte, HeaderSize), rawRecord(TInsert, 2, 5, nil), rawRecord(0, 0, 5, nil))
	return seeds
}

func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, n, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Decode error %v is neither ErrShort nor ErrCorrupt", err)
			}
			if n != 0 {
				t.Fatalf("Decode error with n=%d", n)
			}
		} else {
			if n < HeaderSize || n > len(data) || n > MaxRecord || n != r.Size() {
				t.Fatalf("Decode n=%d, size %d, len %d", n, r.Size(), len(data))
			}
			if r.Type < 1 || r.Type > maxType || r.Flags&^FlagGroupEnd != 0 || r.Type.PageLess() != (r.Page == page.Invalid) {
				t.Fatalf("Decode accepted %v flags %#x", r, r.Flags)
			}
			raw := rawRecord(r.Type, r.Flags, r.Page, r.Payload)
			if !bytes.Equal(raw, data[:n]) {
				t.Fatalf("re-encoding %v from its fields gives different bytes", r)
			}
			if b, ok := reencode(r); ok && !bytes.Equal(b, data[:n]) {
				t.Fatalf("re-encoding %v with Group gives different bytes:\n%x\n%x", r, b, data[:n])
			}
		}

		prevEnd := 0
		lastGroupEnd := 0
		end, err := Scan(data, func(off int, r Record) error {
			if off != prevEnd {
				t.Fatalf("record at %d, previous ended at %d", off, prevEnd)
			}
			r2, n, err := Decode(data[off:])
			if err != nil || !sameRecord(r, r2) || n != r.Size() {
				t.Fatalf("Scan gave %v at %d, Decode gives %v %d %v", r, off, r2, n, err)
			}
			prevEnd = off + n
			if r.GroupEnd() {
				lastGroupEnd = prevEnd
			}
			return nil
		})
		if end != lastGroupEnd {
			t.Fatalf("Scan end %d, last group end seen %d", end, lastGroupEnd)
		}
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Scan error %v is not ErrCorrupt", err)
		}
		if err == nil && prevEnd != len(data) {
			// A clean stop before the end is a torn tail.
			if _, _, derr := Decode(data[prevEnd:]); derr != ErrShort {
				t.Fatalf("Scan stopped at %d of %d with no error; Decode there: %v", prevEnd, len(data), derr)
			}
		}
		// The kept prefix scans cleanly to its end.
		if end2, err := Scan(data[:end], nil); end2 != end || err != nil {
			t.Fatalf("Scan of the kept prefix %d: %d, %v", end, end2, err)
		}
	})
}

// Targets for FuzzApply: pages with content of every kind.
const (
	targetLeaf = iota
	targetInternal
	targetFull
	targetMeta
	targetOverflow
	targetFree
	targetZero
	numTargets
)

const fuzzPageLSN = 1000

func fuzzTarget(sel uint8) *page.Page {
	p := new(page.Page)
	switch sel % numTargets {
	case targetLeaf, targetInternal:
		if sel%numTargets == targetLeaf {
			p.Init(5, page.TypeLeaf, 0, 2)
		} else {
			p.Init(5, page.TypeInternal, 1, 2)
		}
		for i := 0; i < 10; i++ {
			_ = p.Insert(i, bytes.Repeat([]byte{byte('a' + i)}, 1+i*7))
		}
		_ = p.Delete(3)
		p.SetLinks(4, 6)
	case targetFull:
		// Nearly full, with garbage, so that inserts compact and appends hit ErrFull.
		p.Init(5, page.TypeLeaf, 0, 2)
		for i := 0; p.Fits(700); i++ {
			_ = p.Insert(i, bytes.Repeat([]byte{byte(i)}, 700))
		}
		_ = p.Delete(2)
		_ = p.Delete(7)
		_ = p.Insert(0, make([]byte, p.FreeSpace()-page.CellCost(0)-900))
	case targetMeta:
		p.Init(page.MetaID, page.TypeMeta, 0, page.Invalid)
		p.SetMeta(page.Meta{Magic: page.MetaMagic, NextPage: 10, FreeHead: 7, FreeCount: 1, CatalogRoot: 2})
	case targetOverflow:
		p.Init(5, page.TypeOverflow, 0, 2)
		p.SetNext(6)
		d := p.Data()
		le.PutUint16(d, 3)
		copy(d[2:], "abc")
	case targetFree:
		p.Init(5, page.TypeFree, 0, page.Invalid)
		p.SetNext(8)
	case targetZero:
		return p
	}
	p.SetLSN(fuzzPageLSN)
	return p
}

// fuzzRecordPage picks the record's page: mostly the target's own so that records get past
// the page check.
func fuzzRecordPage(sel uint8, target *page.Page, raw uint64) page.ID {
	switch sel % 4 {
	case 0:
		if target.ID() == page.Invalid {
			return 5
		}
		return target.ID()
	case 1:
		return page.MetaID
	case 2:
		return page.ID(raw)
	}
	return page.Invalid
}

func FuzzApply(f *testing.F) {
	g := NewGroup()
	m := page.Meta{Magic: page.MetaMagic, NextPage: 11, FreeHead: 0, FreeCount: 0, CatalogRoot: 2}
	seeds := []Record{
		g.Init(5, page.TypeLeaf, 0, 2),
		g.Init(5, page.TypeInternal, 2, 2),
		g.Init(5, page.TypeMeta, 0, 0),
		g.Init(5, page.TypeOverflow, 0, 0),
		g.Insert(5, 0, []byte("seed")),
		g.Insert(5, 9, make([]byte, 900)),
		g.Insert(5, 1, make([]byte, page.MaxCell)),
		g.Delete(5, 0),
		g.Delete(5, 8),
		g.Replace(5, 1, []byte("replaced")),
		g.Replace(5, 0, make([]byte, 1500)),
		g.Truncate(5, 2),
		g.Truncate(5, 0),
		g.Append(5, [][]byte{[]byte("x"), []byte("yy"), nil}),
		g.Append(5, [][]byte{make([]byte, 800), make([]byte, 200)}),
		g.Append(5, nil),
		g.Links(5, 3, 9),
		g.Next(5, 12),
		g.Meta(m),
		g.Overflow(5, 2, 0, []byte("overflow")),
		g.Overflow(5, 2, 7, make([]byte, MaxOverflowData)),
		g.Free(5, 3),
		g.Commit(77, 1),
	}
	for _, r := range seeds {
		pageSel := uint8(0)
		switch r.Page {
		case page.MetaID:
			pageSel = 1
		case page.Invalid:
			pageSel = 3
		}
		for target := uint8(0); target < numTargets; target++ {
			f.Add(target, pageSel, uint8(r.Type), uint64(r.Page), uint8(10), bytes.Clone(r.Payload))
		}
	}
	f.Add(uint8(targetLeaf), uint8(0), uint8(TInsert), uint64(0), uint8(4), []byte{0, 0, 'x'}) // at the page LSN
	f.Add(uint8(targetLeaf), uint8(2), uint8(TInsert), uint64(6), uint8(10), []byte{0, 0, 'x'})
	f.Add(uint8(targetLeaf), uint8(0), uint8(0), uint64(0), uint8(10), []byte{})
	f.Add(uint8(targetLeaf), uint8(0), uint8(200), uint64(0), uint8(10), []byte{1, 2, 3})
	f.Add(uint8(targetFull), uint8(0), uint8(TAppend), uint64(0), uint8(10), []byte{3, 0, 0, 0, 0, 0, 0, 0})

	f.Fuzz(func(t *testing.T, targetSel, pageSel, typ uint8, rawPage uint64, lsnSel uint8, payload []byte) {
		p := fuzzTarget(targetSel)
		if err := p.Check(); err != nil {
			t.Fatalf("target %d: %v", targetSel, err)
		}
		if len(payload) > MaxRecord-HeaderSize {
			payload = payload[:MaxRecord-HeaderSize]
		}
		r := Record{Type: Type(typ), Flags: FlagGroupEnd, Page: fuzzRecordPage(pageSel, p, rawPage), Payload: payload}
		// Go through the encoding when the record is one Decode accepts.
		if dr, n, err := Decode(rawRecord(r.Type, r.Flags, r.Page, r.Payload)); err == nil {
			if n != r.Size() || !sameRecord(dr, r) {
				t.Fatalf("Decode changed the record: %v -> %v", r, dr)
			}
			r = dr
		}
		lsn := page.LSN(fuzzPageLSN - 4 + uint64(lsnSel))
		before := *p
		err := Apply(p, lsn, r)
		if err != nil {
			if *p != before {
				t.Fatalf("Apply(%v at %d) failed (%v) and changed the page", r, lsn, err)
			}
			return
		}
		if before.Type() != page.TypeZero && lsn <= before.LSN() {
			if *p != before {
				t.Fatalf("Apply(%v at %d) below the page LSN %d changed the page", r, lsn, before.LSN())
			}
			return
		}
		if err := p.Check(); err != nil {
			t.Fatalf("Apply(%v at %d) left a page that fails Check: %v", r, lsn, err)
		}
		if p.LSN() != lsn || p.ID() != r.Page || p.Type() == page.TypeZero {
			t.Fatalf("Apply(%v at %d): page %d lsn %d type %v", r, lsn, p.ID(), p.LSN(), p.Type())
		}
		p.Seal()
		if err := p.Verify(); err != nil {
			t.Fatalf("Apply(%v at %d): Verify: %v", r, lsn, err)
		}
		// Deterministic: the same record on the same bytes gives the same bytes.
		q := before
		if err := Apply(&q, lsn, r); err != nil {
			t.Fatalf("second Apply(%v) on a copy: %v", r, err)
		}
		q.Seal()
		if q != *p {
			t.Fatalf("Apply(%v) is not deterministic", r)
		}
		// Idempotent: applying it again does nothing.
		if err := Apply(&q, lsn, r); err != nil || q != *p {
			t.Fatalf("reapplying %v: %v (changed %v)", r, err, q != *p)
		}
		if p.Type() != page.TypeLeaf && p.Type() != page.TypeInternal {
			return
		}
		// Cell pages: the space accounting matches the cells, and compaction keeps the cells.
		used := 0
		var cells [][]byte
		for i := 0; i < p.NumCells(); i++ {
			used += page.CellCost(len(p.Cell(i)))
			cells = append(cells, p.Cell(i))
		}
		if used != p.UsedSpace() {
			t.Fatalf("Apply(%v): cells take %d, UsedSpace %d", r, used, p.UsedSpace())
		}
		c := *p
		c.Compact()
		if c.FreeSpace() != p.FreeSpace() || c.NumCells() != len(cells) {
			t.Fatalf("Apply(%v): compaction changes space %d -> %d", r, p.FreeSpace(), c.FreeSpace())
		}
		for i := range cells {
			if !bytes.Equal(c.Cell(i), cells[i]) {
				t.Fatalf("Apply(%v): compaction changes cell %d", r, i)
			}
		}
		// The record did what it says.
		n0 := before.NumCells()
		if !isCellPage(&before) {
			n0 = 0
		}
		switch r.Type {
		case TInsert, TReplace:
			slot := int(le.Uint16(r.Payload))
			if !bytes.Equal(p.Cell(slot), r.Payload[2:]) {
				t.Fatalf("%v: cell %d is not the payload", r, slot)
			}
			want := n0
			if r.Type == TInsert {
				want++
			}
			if p.NumCells() != want {
				t.Fatalf("%v: %d cells, want %d", r, p.NumCells(), want)
			}
		case TInsertDelta:
			slot, base := int(le.Uint16(r.Payload)), int(le.Uint16(r.Payload[2:]))
			want, err := applyDelta(nil, before.Cell(base), r.Payload[4:])
			if err != nil || !bytes.Equal(p.Cell(slot), want) || p.NumCells() != n0+1 {
				t.Fatalf("%v: cell %d is %x (%d cells), want %x (%v)", r, slot, p.Cell(slot), p.NumCells(), want, err)
			}
		case TDelete:
			if p.NumCells() != n0-1 {
				t.Fatalf("%v: %d cells, want %d", r, p.NumCells(), n0-1)
			}
		case TTruncate:
			if p.NumCells() != int(le.Uint16(r.Payload)) {
				t.Fatalf("%v: %d cells", r, p.NumCells())
			}
		case TAppend:
			if p.NumCells() != n0+int(le.Uint16(r.Payload)) {
				t.Fatalf("%v: %d cells, had %d", r, p.NumCells(), n0)
			}
		case TInit:
			if p.NumCells() != 0 {
				t.Fatalf("%v: %d cells after init", r, p.NumCells())
			}
		}
	})
}
