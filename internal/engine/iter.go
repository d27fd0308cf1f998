package engine

import (
	"bytes"
	"context"
	"math"

	"strata/internal/btree"
	"strata/internal/page"
)

// Iter iterates over a key range of one tree at a transaction's snapshot, merged with the
// transaction's own writes. It copies rows out a batch at a time, so it holds no latch between
// calls.
type Iter struct {
	t       *Txn
	ctx     context.Context
	tree    *btree.Tree
	lo, hi  []byte
	reverse bool
	snap    page.LSN

	batch   []kv
	pos     int
	treeEnd bool
	resume  []byte // versioned key to continue the tree scan from
	started bool
	lastU   []byte // forward: last user key decided

	ws    []*wsEntry
	wsPos int

	key, val []byte
	err      error
}

type kv struct{ k, v []byte }

const iterBatch = 128

// Scan returns an iterator over the user keys in [lo, hi) of tree (nil bounds are open),
// ascending or, with reverse, descending.
func (t *Txn) Scan(ctx context.Context, tree page.ID, lo, hi []byte, reverse bool) *Iter {
	return t.scan(ctx, tree, lo, hi, reverse, false, false)
}

// ScanAtStatementStart is Scan as the open statement found the data when it began: its own
// writes are not seen (a statement must not revisit the rows it changes). Without an open
// statement it is Scan.
func (t *Txn) ScanAtStatementStart(ctx context.Context, tree page.ID, lo, hi []byte, reverse bool) *Iter {
	return t.scan(ctx, tree, lo, hi, reverse, false, true)
}

// ScanCurrent is Scan reading the newest committed versions instead of the snapshot, as
// locking reads and uniqueness checks do (the caller holds the locks that make it stable).
func (t *Txn) ScanCurrent(ctx context.Context, tree page.ID, lo, hi []byte, reverse bool) *Iter {
	return t.scan(ctx, tree, lo, hi, reverse, true, false)
}

func (t *Txn) scan(ctx context.Context, tree page.ID, lo, hi []byte, reverse, current, atStmtStart bool) *Iter {
	it := &Iter{t: t, ctx: ctx, tree: t.db.tree(tree), lo: bytes.Clone(lo), hi: bytes.Clone(hi), reverse: reverse}
	if err := t.check(); err != nil {
		it.err = err
		return it
	}
	if current {
		it.snap = math.MaxUint64
	} else {
		it.snap = t.snapshot()
	}
	// The write set's entries in range, in iteration order.
	it.ws = t.rangeEntries(tree, lo, hi, atStmtStart)
	if reverse {
		for a, b := 0, len(it.ws)-1; a < b; a, b = a+1, b-1 {
			it.ws[a], it.ws[b] = it.ws[b], it.ws[a]
		}
	}
	return it
}

// Next advances to the next row and reports whether there is one.
func (it *Iter) Next() bool {
	for it.err == nil {
		if it.pos >= len(it.batch) && !it.treeEnd {
			it.fill()
			continue
		}
		var tk *kv
		if it.pos < len(it.batch) {
			tk = &it.batch[it.pos]
		}
		var we *wsEntry
		if it.wsPos < len(it.ws) {
			we = it.ws[it.wsPos]
		}
		if tk == nil && we == nil {
			return false
		}
		c := 0
		switch {
		case tk == nil:
			c = 1
		case we == nil:
			c = -1
		default:
			c = bytes.Compare(tk.k, we.key)
			if it.reverse {
				c = -c
			}
		}
		if c < 0 {
			it.key, it.val = tk.k, tk.v
			it.pos++
			return true
		}
		if we.snapshot {
			// The statement-start view holds the snapshot's version: skip the placeholder and
			// let the tree's entry (if any) through.
			it.wsPos++
			continue
		}
		if c == 0 {
			it.pos++
		}
		it.wsPos++
		if we.del {
			continue
		}
		it.key, it.val = we.key, we.val
		return true
	}
	return false
}

// Key returns the current row's key; valid until the next call to Next.
func (it *Iter) Key() []byte { return it.key }

// Value returns the current row's value; valid until the next call to Next.
func (it *Iter) Value() []byte { return it.val }

// Err returns the error that stopped the iteration, if any.
func (it *Iter) Err() error { return it.err }

// Close releases the iterator.
func (it *Iter) Close() { it.batch = nil; it.ws = nil }

func (it *Iter) fill() {
	release, err := it.t.db.readBarrier(it.snap)
	if err != nil {
		it.err = err
		return
	}
	defer release()
	it.batch = it.batch[:0]
	it.pos = 0
	if it.reverse {
		it.fillReverse()
	} else {
		it.fillForward()
	}
}

// seekAfter is how many versions of one user key a forward iterator steps over before it seeks
// past them instead. While old snapshots are open a hot row keeps a version for each change
// since the oldest, and stepping over each made reading it cost the number of its versions
// (oltp_update_non_index on one row at 512 threads spent most of its time there).
const seekAfter = 8

func (it *Iter) fillForward() {
	start := it.resume
	if !it.started {
		it.started = true
		if it.lo != nil {
			start = firstVersion(nil, it.lo)
		}
	}
	var skipU []byte // the user key whose versions are being stepped over
	for {
		var seek []byte
		skipped, stopped := 0, false
		err := it.tree.Scan(it.ctx, start, func(k []byte, v btree.Value) (bool, error) {
			u, stamp := splitKey(k)
			if it.hi != nil && bytes.Compare(u, it.hi) >= 0 {
				return false, nil
			}
			read := it.lastU != nil && bytes.Equal(u, it.lastU) // an older version of the key read
			if read || stamp >= it.snap {
				if !bytes.Equal(u, skipU) {
					skipU, skipped = append(skipU[:0], u...), 0
				}
				if skipped++; skipped > seekAfter {
					if read {
						seek = mvccKey(nil, u, 0) // past its oldest version
					} else {
						seek = seekVisible(nil, u, it.snap) // to its version the snapshot sees
					}
					return false, nil
				}
				return true, nil
			}
			if len(it.batch) >= iterBatch {
				it.resume = firstVersion(it.resume[:0], u)
				stopped = true
				return false, nil
			}
			it.lastU = append(it.lastU[:0], u...)
			b, err := v.Append(nil)
			if err != nil {
				return false, err
			}
			if len(b) > 0 && b[0] == kindPut {
				it.batch = append(it.batch, kv{bytes.Clone(u), b[1:]})
			}
			return true, nil
		})
		if err != nil {
			it.err = err
			return
		}
		if seek != nil {
			start = seek
			continue
		}
		if !stopped {
			it.treeEnd = true
		}
		return
	}
}

func (it *Iter) fillReverse() {
	end := it.resume
	if !it.started {
		it.started = true
		if it.hi != nil {
			end = firstVersion(nil, it.hi)
		}
	}
	emit := func(u, v []byte) {
		if len(v) > 0 && v[0] == kindPut {
			it.batch = append(it.batch, kv{bytes.Clone(u), v[1:]})
		}
	}
	for {
		// A key's versions come oldest first: the one the snapshot sees is the last below it.
		var curU, curV, jump []byte
		has, n, stopped := false, 0, false
		err := it.tree.ScanReverse(it.ctx, end, func(k []byte, v btree.Value) (bool, error) {
			u, stamp := splitKey(k)
			if curU == nil || !bytes.Equal(u, curU) {
				if curU != nil {
					if has {
						emit(curU, curV)
					}
					if len(it.batch) >= iterBatch {
						it.resume = firstVersion(nil, curU)
						stopped = true
						curU = nil
						return false, nil
					}
				}
				if it.lo != nil && bytes.Compare(u, it.lo) < 0 {
					curU = nil
					return false, nil
				}
				curU, curV, has, n = append(curU[:0], u...), nil, false, 0
			}
			if n++; n > seekAfter { // many versions: seek to the one the snapshot sees
				jump = curU
				return false, nil
			}
			if stamp < it.snap {
				b, err := v.Append(curV[:0])
				if err != nil {
					return false, err
				}
				curV, has = b, true
			}
			return true, nil
		})
		if err == nil && jump != nil {
			var v []byte
			var put bool
			if v, put, err = visibleVersion(it.ctx, it.tree, jump, it.snap); err == nil && put {
				it.batch = append(it.batch, kv{bytes.Clone(jump), v})
			}
		}
		if err != nil {
			it.err = err
			return
		}
		if jump != nil {
			end = firstVersion(nil, jump)
			if len(it.batch) >= iterBatch {
				it.resume = end
				return
			}
			continue
		}
		if curU != nil && has {
			emit(curU, curV)
		}
		if !stopped {
			it.treeEnd = true
		}
		return
	}
}

// Prefetches reports whether reading pages ahead pays on this engine (Options.RemotePages).
func (db *DB) Prefetches() bool { return db.opts.RemotePages }

// Prefetch reads into the buffer pool, in parallel, the leaves of tree on which scans from
// each of the user keys los would start, so that those scans, made one after another, find
// them there (btree.Tree.Prefetch), and returns how many it read. It changes nothing a read
// returns.
func (t *Txn) Prefetch(ctx context.Context, tree page.ID, los [][]byte) (int, error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	release, err := t.db.readBarrier(t.snapshot())
	if err != nil {
		return 0, err
	}
	defer release()
	keys := make([][]byte, 0, len(los))
	for _, lo := range los {
		if lo != nil {
			keys = append(keys, firstVersion(nil, lo))
		}
	}
	return t.db.tree(tree).Prefetch(ctx, keys)
}
