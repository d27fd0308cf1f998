package redo

import (
	"fmt"

	"strata/internal/page"
)

func corrupt(r Record, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, r, fmt.Sprintf(format, args...))
}

// Apply applies record r, found at lsn, to p and stamps p with lsn. It is deterministic: the
// same records applied in log order to the same bytes give the same bytes on every node. A
// record at or below the page's LSN has already been applied and is skipped, so replay is
// idempotent. Apply returns an error, never panics, for a record that does not fit the page.
func Apply(p *page.Page, lsn page.LSN, r Record) error {
	if r.Type.PageLess() || r.Page == page.Invalid {
		return corrupt(r, "record names no page")
	}
	initRec := r.Type == TInit || r.Type == TOverflow || r.Type == TFree
	if p.Type() != page.TypeZero {
		if p.ID() != r.Page {
			return corrupt(r, "applied to page %d", p.ID())
		}
		if lsn <= p.LSN() {
			return nil
		}
	} else if !initRec && !(r.Type == TMeta && r.Page == page.MetaID) {
		return corrupt(r, "page %d not initialised", r.Page)
	}
	pl := r.Payload
	need := func(n int) error {
		if len(pl) < n {
			return corrupt(r, "payload of %d bytes, want %d", len(pl), n)
		}
		return nil
	}
	exact := func(n int) error {
		if len(pl) != n {
			return corrupt(r, "payload of %d bytes, want %d", len(pl), n)
		}
		return nil
	}
	var err error
	switch r.Type {
	case TInit:
		if err = exact(10); err == nil {
			t := page.Type(pl[0])
			if t != page.TypeLeaf && t != page.TypeInternal && t != page.TypeMeta {
				return corrupt(r, "init as %s", t)
			}
			p.Init(r.Page, t, int(pl[1]), page.ID(le.Uint64(pl[2:])))
		}
	case TInsert, TReplace:
		if err = need(2); err == nil {
			if !isCellPage(p) {
				return corrupt(r, "on a %s page", p.Type())
			}
			if r.Type == TInsert {
				err = p.Insert(int(le.Uint16(pl)), pl[2:])
			} else {
				err = p.Replace(int(le.Uint16(pl)), pl[2:])
			}
		}
	case TInsertDelta:
		err = applyInsertDelta(p, r)
	case TDelete, TTruncate:
		if err = exact(2); err == nil {
			if !isCellPage(p) {
				return corrupt(r, "on a %s page", p.Type())
			}
			if r.Type == TDelete {
				err = p.Delete(int(le.Uint16(pl)))
			} else {
				err = p.Truncate(int(le.Uint16(pl)))
			}
		}
	case TAppend:
		err = applyAppend(p, r)
	case TLinks:
		if err = exact(16); err == nil {
			p.SetLinks(page.ID(le.Uint64(pl)), page.ID(le.Uint64(pl[8:])))
		}
	case TNext:
		if err = exact(8); err == nil {
			p.SetNext(page.ID(le.Uint64(pl)))
		}
	case TMeta:
		if err = exact(page.MetaSize); err == nil {
			if p.Type() == page.TypeZero {
				p.Init(page.MetaID, page.TypeMeta, 0, page.Invalid)
			} else if p.Type() != page.TypeMeta {
				return corrupt(r, "on a %s page", p.Type())
			}
			copy(p[page.HeaderSize:], pl)
		}
	case TOverflow:
		if err = need(16); err == nil {
			data := pl[16:]
			if len(data) > MaxOverflowData {
				return corrupt(r, "%d bytes of overflow data", len(data))
			}
			p.Init(r.Page, page.TypeOverflow, 0, page.ID(le.Uint64(pl)))
			p.SetNext(page.ID(le.Uint64(pl[8:])))
			d := p.Data()
			le.PutUint16(d, uint16(len(data)))
			copy(d[2:], data)
		}
	case TFree:
		if err = exact(8); err == nil {
			p.Init(r.Page, page.TypeFree, 0, page.Invalid)
			p.SetNext(page.ID(le.Uint64(pl)))
		}
	default:
		return corrupt(r, "unknown type")
	}
	if err != nil {
		return fmt.Errorf("redo: apply %s at lsn %d: %w", r, lsn, err)
	}
	p.SetLSN(lsn)
	return nil
}

func applyInsertDelta(p *page.Page, r Record) error {
	pl := r.Payload
	if len(pl) < 4 {
		return corrupt(r, "short payload")
	}
	if p.Type() != page.TypeLeaf {
		return corrupt(r, "on a %s page", p.Type())
	}
	base := int(le.Uint16(pl[2:]))
	if base >= p.NumCells() {
		return corrupt(r, "base cell %d of %d", base, p.NumCells())
	}
	var buf [page.MaxCell]byte
	cell, err := applyDelta(buf[:0], p.Cell(base), pl[4:])
	if err != nil {
		return corrupt(r, "%v", err)
	}
	return p.Insert(int(le.Uint16(pl)), cell)
}

func isCellPage(p *page.Page) bool {
	return p.Type() == page.TypeLeaf || p.Type() == page.TypeInternal
}

func applyAppend(p *page.Page, r Record) error {
	if !isCellPage(p) {
		return corrupt(r, "on a %s page", p.Type())
	}
	pl := r.Payload
	if len(pl) < 2 {
		return corrupt(r, "short payload")
	}
	n := int(le.Uint16(pl))
	// Validate the whole payload and the space before changing the page, so that a bad record
	// leaves the page as it was.
	o, total := 2, 0
	for i := 0; i < n; i++ {
		if o+2 > len(pl) {
			return corrupt(r, "cell %d past the payload", i)
		}
		c := int(le.Uint16(pl[o:]))
		if o+2+c > len(pl) || c > page.MaxCell {
			return corrupt(r, "cell %d of %d bytes", i, c)
		}
		total += page.CellCost(c)
		o += 2 + c
	}
	if o != len(pl) {
		return corrupt(r, "%d trailing bytes", len(pl)-o)
	}
	if total > p.FreeSpace() {
		return fmt.Errorf("append %d bytes: %w", total, page.ErrFull)
	}
	o = 2
	for i := 0; i < n; i++ {
		c := int(le.Uint16(pl[o:]))
		if err := p.Insert(p.NumCells(), pl[o+2:o+2+c]); err != nil {
			return err
		}
		o += 2 + c
	}
	return nil
}

// OverflowData returns the value bytes held by an overflow page.
func OverflowData(p *page.Page) ([]byte, error) {
	if p.Type() != page.TypeOverflow {
		return nil, fmt.Errorf("%w: page %d is a %s page, not overflow", ErrCorrupt, p.ID(), p.Type())
	}
	d := p.Data()
	n := int(le.Uint16(d))
	if n > MaxOverflowData {
		return nil, fmt.Errorf("%w: overflow page %d holds %d bytes", ErrCorrupt, p.ID(), n)
	}
	return d[2 : 2+n], nil
}
