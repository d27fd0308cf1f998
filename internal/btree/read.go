package btree

import (
	"context"
	"encoding/binary"
	"fmt"

	"strata/internal/bufpool"
	"strata/internal/page"
	"strata/internal/redo"
)

// Value is a leaf entry's value as seen during a scan callback; it is valid only until the
// callback returns.
type Value struct {
	t   *Tree
	ctx context.Context
	raw []byte // flag byte and what follows
}

// Len returns the value's length.
func (v Value) Len() int {
	if len(v.raw) == 0 {
		return 0
	}
	if v.raw[0] == valOverflow {
		n, _ := binary.Uvarint(v.raw[1:])
		return int(n)
	}
	return len(v.raw) - 1
}

// Inline returns the value's bytes when it is stored in the leaf (aliasing the page).
func (v Value) Inline() ([]byte, bool) {
	if len(v.raw) > 0 && v.raw[0] == valInline {
		return v.raw[1:], true
	}
	return nil, false
}

// Append appends the value to dst, reading overflow pages if needed.
func (v Value) Append(dst []byte) ([]byte, error) {
	if b, ok := v.Inline(); ok {
		return append(dst, b...), nil
	}
	return v.t.readOverflow(v.ctx, v.raw, dst)
}

// Visitor is called for each entry of a scan while the leaf is latched: it must be quick and
// must not latch pages (other than through Value.Append). It returns false to stop.
type Visitor func(key []byte, v Value) (more bool, err error)

func (t *Tree) leafValue(ctx context.Context, c []byte) ([]byte, Value, error) {
	k, rest, err := cellKey(c)
	if err != nil || len(rest) == 0 {
		return nil, Value{}, fmt.Errorf("%w: bad leaf cell in tree %d", ErrCorrupt, t.Root)
	}
	return k, Value{t: t, ctx: ctx, raw: rest}, nil
}

// descend returns the leaf that holds the first key >= key (strict: the last key < key),
// latched shared.
func (t *Tree) descend(ctx context.Context, key []byte, strict bool) (*bufpool.Frame, error) {
	f, err := t.Pool.Get(ctx, t.Root, bufpool.Shared)
	if err != nil {
		return nil, err
	}
	for {
		if err := t.checkNode(&f.Page, f.ID()); err != nil {
			t.Pool.Release(f, bufpool.Shared)
			return nil, err
		}
		if f.Page.Type() == page.TypeLeaf {
			return f, nil
		}
		var child page.ID
		switch {
		case key == nil && strict:
			child = childAt(&f.Page, f.Page.NumCells()-1)
		case key == nil:
			child = f.Page.Next()
		default:
			child = childAt(&f.Page, t.childIndex(&f.Page, key, strict))
		}
		cf, err := t.Pool.Get(ctx, child, bufpool.Shared)
		t.Pool.Release(f, bufpool.Shared)
		if err != nil {
			return nil, err
		}
		f = cf
	}
}

// Scan visits entries in ascending order from the first key >= start (nil: the first key).
func (t *Tree) Scan(ctx context.Context, start []byte, visit Visitor) error {
	f, err := t.descend(ctx, start, false)
	if err != nil {
		return err
	}
	i := 0
	if start != nil {
		i = t.lowerBound(&f.Page, start)
	}
	for {
		for n := f.Page.NumCells(); i < n; i++ {
			k, v, err := t.leafValue(ctx, f.Page.Cell(i))
			if err != nil {
				t.Pool.Release(f, bufpool.Shared)
				return err
			}
			more, err := visit(k, v)
			if err != nil || !more {
				t.Pool.Release(f, bufpool.Shared)
				return err
			}
		}
		right := f.Page.Right()
		if right == page.Invalid {
			t.Pool.Release(f, bufpool.Shared)
			return nil
		}
		rf, err := t.Pool.Get(ctx, right, bufpool.Shared)
		t.Pool.Release(f, bufpool.Shared)
		if err != nil {
			return err
		}
		if err := t.checkNode(&rf.Page, right); err != nil {
			t.Pool.Release(rf, bufpool.Shared)
			return err
		}
		f, i = rf, 0
	}
}

// ScanReverse visits entries in descending order from the last key < end (nil: the last key).
func (t *Tree) ScanReverse(ctx context.Context, end []byte, visit Visitor) error {
	bound := end // entries below bound are still to visit
	var keyBuf []byte
	f, err := t.descend(ctx, bound, true)
	if err != nil {
		return err
	}
	for {
		i := f.Page.NumCells() - 1
		if bound != nil {
			i = t.lowerBound(&f.Page, bound) - 1
		}
		for ; i >= 0; i-- {
			k, v, err := t.leafValue(ctx, f.Page.Cell(i))
			if err != nil {
				t.Pool.Release(f, bufpool.Shared)
				return err
			}
			more, err := visit(k, v)
			if err != nil || !more {
				t.Pool.Release(f, bufpool.Shared)
				return err
			}
			keyBuf = append(keyBuf[:0], k...)
			bound = keyBuf
		}
		cur, left := f.ID(), f.Page.Left()
		t.Pool.Release(f, bufpool.Shared)
		if left == page.Invalid {
			return nil
		}
		// Latching right to left while holding a page could deadlock with a forward scan or the
		// writer, so release first and check the link still holds.
		lf, err := t.Pool.Get(ctx, left, bufpool.Shared)
		if err != nil {
			return err
		}
		if lf.Page.Type() == page.TypeLeaf && lf.Page.Owner() == t.Root && lf.Page.Right() == cur {
			f = lf
			continue
		}
		t.Pool.Release(lf, bufpool.Shared)
		if bound == nil {
			return fmt.Errorf("%w: tree %d changed during a reverse scan with no key seen", ErrCorrupt, t.Root)
		}
		if f, err = t.descend(ctx, bound, true); err != nil {
			return err
		}
	}
}

// Get returns the value stored under exactly key, appended to dst.
func (t *Tree) Get(ctx context.Context, key, dst []byte) ([]byte, bool, error) {
	var found bool
	var out []byte
	err := t.Scan(ctx, key, func(k []byte, v Value) (bool, error) {
		if t.Cmp(k, key) == 0 {
			found = true
			var err error
			out, err = v.Append(dst)
			return false, err
		}
		return false, nil
	})
	return out, found, err
}

// readOverflow reads a value stored in overflow pages; raw is the leaf cell's value part.
func (t *Tree) readOverflow(ctx context.Context, raw, dst []byte) ([]byte, error) {
	n, w := binary.Uvarint(raw[1:])
	if w <= 0 || len(raw) != 1+w+8 {
		return nil, fmt.Errorf("%w: bad overflow reference in tree %d", ErrCorrupt, t.Root)
	}
	id := page.ID(binary.LittleEndian.Uint64(raw[1+w:]))
	start := len(dst)
	for id != page.Invalid {
		f, err := t.Pool.Get(ctx, id, bufpool.Shared)
		if err != nil {
			return nil, err
		}
		if f.Page.Owner() != t.Root {
			t.Pool.Release(f, bufpool.Shared)
			return nil, fmt.Errorf("%w: overflow page %d belongs to tree %d", ErrCorrupt, id, f.Page.Owner())
		}
		data, err := redo.OverflowData(&f.Page)
		if err == nil && uint64(len(dst)-start+len(data)) > n {
			err = fmt.Errorf("%w: overflow chain longer than %d bytes", ErrCorrupt, n)
		}
		if err != nil {
			t.Pool.Release(f, bufpool.Shared)
			return nil, err
		}
		dst = append(dst, data...)
		next := f.Page.Next()
		t.Pool.Release(f, bufpool.Shared)
		id = next
	}
	if uint64(len(dst)-start) != n {
		return nil, fmt.Errorf("%w: overflow chain of %d bytes, want %d", ErrCorrupt, len(dst)-start, n)
	}
	return dst, nil
}
