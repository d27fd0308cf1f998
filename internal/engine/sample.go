package engine

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"

	stbtree "strata/internal/btree"
	"strata/internal/page"
)

// Sample reads one random leaf of tree (see btree.Tree.Sample) at the transaction's snapshot:
// fn gets each row the snapshot sees there, in key order, and Sample returns an estimate of
// the rows the snapshot sees in the whole tree (the leaf's visible rows times the fanouts
// above it; average several dives). The transaction's own uncommitted writes are not seen.
// A row whose versions straddle two leaves may be counted in both, which an estimate
// tolerates; what fn gets is always the row as the snapshot sees it.
func (t *Txn) Sample(ctx context.Context, tree page.ID, rng *rand.Rand, fn func(key, val []byte) error) (float64, error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	snap := t.snapshot()
	type row struct{ key, val []byte }
	var rows []row
	var cur []byte // user key whose visible version was decided
	decided, first := false, true
	var firstKey []byte
	release, err := t.db.readBarrier(snap)
	if err != nil {
		return 0, err
	}
	leaves, err := t.db.tree(tree).Sample(ctx, rng, func(k []byte, v stbtree.Value) (bool, error) {
		u, stamp := splitKey(k)
		if first {
			// Newer versions of the leaf's first key may sit at the end of the leaf before:
			// it is decided below by a lookup, out of the leaf's latch.
			first, firstKey, cur, decided = false, bytes.Clone(u), append(cur[:0], u...), true
			return true, nil
		}
		if decided && bytes.Equal(u, cur) {
			return true, nil // an older version of a key already decided
		}
		cur, decided = append(cur[:0], u...), false
		if stamp >= snap {
			return true, nil // too new for the snapshot: an older version may follow
		}
		decided = true
		b, err := v.Append(nil)
		if err != nil {
			return false, err
		}
		if len(b) == 0 {
			return false, fmt.Errorf("engine: empty version of %q", u)
		}
		if b[0] == kindPut {
			rows = append(rows, row{bytes.Clone(u), b[1:]})
		}
		return true, nil
	})
	release()
	if err != nil {
		return 0, err
	}
	if firstKey != nil {
		v, ok, err := t.db.get(ctx, tree, firstKey, snap)
		if err != nil {
			return 0, err
		}
		if ok {
			rows = append([]row{{firstKey, v}}, rows...)
		}
	}
	for _, r := range rows {
		if err := fn(r.key, r.val); err != nil {
			return 0, err
		}
	}
	return leaves * float64(len(rows)), nil
}
