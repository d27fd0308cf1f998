package engine

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"strata/internal/btree"
	"strata/internal/mtr"
	"strata/internal/page"
)

// takeSnapshot registers and returns the current visible LSN as a snapshot.
func (db *DB) takeSnapshot() page.LSN {
	db.snapMu.Lock()
	defer db.snapMu.Unlock()
	s := db.VisibleLSN()
	db.snaps[s]++
	return s
}

// registerSnapshot registers an explicit snapshot; with check it must not be older than the
// history purge has kept.
func (db *DB) registerSnapshot(s page.LSN, check bool) error {
	db.snapMu.Lock()
	defer db.snapMu.Unlock()
	if check {
		if s > db.VisibleLSN() {
			return fmt.Errorf("engine: snapshot %d is past the visible LSN %d", s, db.VisibleLSN())
		}
		if s < page.LSN(db.purged.Load()) {
			return fmt.Errorf("%w: snapshot %d, history kept from %d", ErrSnapshotTooOld, s, db.purged.Load())
		}
	}
	db.snaps[s]++
	return nil
}

func (db *DB) releaseSnapshot(s page.LSN) {
	db.snapMu.Lock()
	defer db.snapMu.Unlock()
	if db.snaps[s] <= 1 {
		delete(db.snaps, s)
	} else {
		db.snaps[s]--
	}
}

// ReportSnapshot records the oldest snapshot another node (a read-only replica) still reads
// at, so purge keeps the versions it can see; lsn 0 removes the node.
func (db *DB) ReportSnapshot(node string, lsn page.LSN) {
	db.snapMu.Lock()
	defer db.snapMu.Unlock()
	if lsn == 0 {
		delete(db.remote, node)
	} else {
		db.remote[node] = lsn
	}
}

// Horizon returns the oldest snapshot any reader here or on a reporting node may use:
// versions needed only by older snapshots can be purged. It never goes backwards.
func (db *DB) Horizon() page.LSN {
	db.snapMu.Lock()
	defer db.snapMu.Unlock()
	h := db.VisibleLSN()
	for s := range db.snaps {
		h = min(h, s)
	}
	for _, s := range db.remote {
		h = min(h, s)
	}
	if p := page.LSN(db.purged.Load()); h < p {
		h = p
	}
	db.purged.Store(uint64(h))
	return h
}

// obsolete appends to dst the versioned keys among versions (one user key's versions, newest
// first) that no snapshot at or after horizon can see: every version older than the newest one
// below the horizon, and that one too if it is a tombstone. They are appended oldest first:
// readers see each deletion as it happens, and a tombstone must go last so that no reader finds
// the row it hid.
func obsolete(dst [][]byte, versions []version, horizon page.LSN) [][]byte {
	for i, v := range versions {
		if v.stamp < horizon {
			if v.tombstone {
				i--
			}
			for j := len(versions) - 1; j > i; j-- {
				dst = append(dst, versions[j].key)
			}
			return dst
		}
	}
	return dst
}

type version struct {
	key       []byte
	stamp     page.LSN
	tombstone bool
}

// maxPrune bounds the versions of one key examined when a commit writes it.
const maxPrune = 64

// pruneKey deletes the versions of user key ukey that are obsolete at horizon; a commit calls
// it after writing a new version so that updated rows do not pile up versions. It reports
// whether garbage may remain (versions a snapshot still needs now, or a tombstone), which
// the purge queue then revisits once the horizon has passed.
func (db *DB) pruneKey(m *mtr.Mtr, tr *btree.Tree, ukey []byte, horizon page.LSN) (bool, error) {
	var versions []version
	err := tr.Scan(m.Context(), firstVersion(nil, ukey), func(k []byte, v btree.Value) (bool, error) {
		u, stamp := splitKey(k)
		if !bytes.Equal(u, ukey) || len(versions) >= maxPrune {
			return false, nil
		}
		versions = append(versions, version{key: bytes.Clone(k), stamp: stamp, tombstone: isTombstone(v)})
		return true, nil
	})
	if err != nil || len(versions) == 0 {
		return false, err
	}
	dead := obsolete(nil, versions, horizon)
	for _, k := range dead {
		if _, err := tr.Delete(m, k); err != nil {
			return false, err
		}
	}
	left := len(versions) - len(dead)
	return left > 1 || left == 1 && versions[0].tombstone || len(versions) >= maxPrune, nil
}

// purgeItem is a key whose commit left versions that only a later horizon can remove.
type purgeItem struct {
	tree  page.ID
	key   []byte
	stamp page.LSN
}

// enqueuePurge records keys to revisit; items arrive in stamp order (commit order).
func (db *DB) enqueuePurge(items []purgeItem) {
	if len(items) == 0 {
		return
	}
	db.purgeMu.Lock()
	db.purgeQ = append(db.purgeQ, items...)
	db.purgeMu.Unlock()
}

// PurgeQueued prunes the queued keys whose commit is below the horizon, in batches: the
// steady-state purge, whose work follows the writes rather than the size of the data.
func (db *DB) PurgeQueued(ctx context.Context) (PurgeStats, error) {
	var st PurgeStats
	horizon := db.Horizon()
	for {
		db.purgeMu.Lock()
		n := 0
		for n < len(db.purgeQ) && n < 256 && db.purgeQ[n].stamp < horizon {
			n++
		}
		batch := append([]purgeItem(nil), db.purgeQ[:n]...)
		db.purgeMu.Unlock()
		if n == 0 {
			return st, nil
		}
		var again []purgeItem
		end, err := db.write(ctx, func(m *mtr.Mtr) error {
			for _, it := range batch {
				if !db.hasTree(it.tree) {
					continue // dropped
				}
				root := it.tree
				more, err := db.pruneKey(m, db.tree(root), it.key, horizon)
				if err != nil {
					return err
				}
				if more && db.versionsBelow(ctx, db.tree(root), it.key, horizon) >= maxPrune {
					again = append(again, purgeItem{tree: it.tree, key: it.key, stamp: horizon})
				}
				st.Versions++
				if err := m.Spill(); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return st, err
		}
		db.purgeMu.Lock()
		db.purgeQ = append(db.purgeQ[:0], db.purgeQ[n:]...)
		// Keys with more versions than one pass examines go round again, behind newer commits.
		db.purgeQ = append(db.purgeQ, again...)
		db.purgeMu.Unlock()
		db.advanceVisibleAfter(ctx, end)
		if len(again) == n {
			return st, nil // nothing but repeats: wait for the next round
		}
	}
}

// versionsBelow counts (up to maxPrune) the versions of ukey older than horizon.
func (db *DB) versionsBelow(ctx context.Context, tr *btree.Tree, ukey []byte, horizon page.LSN) int {
	n := 0
	_ = tr.Scan(ctx, firstVersion(nil, ukey), func(k []byte, v btree.Value) (bool, error) {
		u, stamp := splitKey(k)
		if !bytes.Equal(u, ukey) || n >= maxPrune {
			return false, nil
		}
		if stamp < horizon {
			n++
		}
		return true, nil
	})
	return n
}

func isTombstone(v btree.Value) bool {
	b, ok := v.Inline()
	return ok && len(b) > 0 && b[0] == kindTombstone
}

// PurgeStats count what a purge pass removed.
type PurgeStats struct{ Versions int }

// Purge removes, from every tree, the versions no snapshot at or after the horizon can see,
// including deleted rows' tombstones. It works in batches, each its own mini-transaction.
func (db *DB) Purge(ctx context.Context) (PurgeStats, error) {
	var cur purgeCursor
	return db.purgeFrom(ctx, &cur)
}

// purgeCursor is where a full purge pass goes on: the tree (by name, in Trees order) and the
// versioned key to scan from (nil: the tree's first key).
type purgeCursor struct {
	tree string
	key  []byte
	done bool
}

// purgeFrom runs a full purge pass from cur, moving cur along as batches are written: if ctx
// ends half way, a later call with the same cursor goes on where this one stopped instead of
// scanning the trees already done again. cur.done is set at the end of the last tree.
func (db *DB) purgeFrom(ctx context.Context, cur *purgeCursor) (PurgeStats, error) {
	var st PurgeStats
	horizon := db.Horizon()
	for _, name := range db.Trees() {
		if name < cur.tree {
			continue // done in an earlier call
		}
		if name != cur.tree {
			cur.tree, cur.key = name, nil
		}
		root, err := db.Tree(name)
		if err != nil {
			continue
		}
		tr := db.tree(root)
		for {
			if err := ctx.Err(); err != nil {
				return st, err // cur says where to go on
			}
			keys, next, err := db.collectObsolete(ctx, tr, cur.key, horizon, 256)
			if err != nil {
				return st, fmt.Errorf("engine: purge %q: %w", name, err)
			}
			if len(keys) > 0 {
				end, err := db.write(ctx, func(m *mtr.Mtr) error {
					for _, k := range keys {
						if _, err := tr.Delete(m, k); err != nil {
							return err
						}
						if err := m.Spill(); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					return st, fmt.Errorf("engine: purge %q: %w", name, err)
				}
				db.advanceVisibleAfter(ctx, end)
				st.Versions += len(keys)
			}
			if next == nil {
				break
			}
			cur.key = next
		}
		// The next tree in name order: one past this name.
		cur.tree, cur.key = name+"\x00", nil
	}
	cur.done = true
	return st, nil
}

// advanceVisibleAfter waits for a group that changed no rows to be durable and moves the
// visible LSN past it (so snapshots stay at group ends).
func (db *DB) advanceVisibleAfter(ctx context.Context, end page.LSN) {
	if err := db.log.WaitDurable(context.WithoutCancel(ctx), end); err == nil {
		db.advanceVisible(end)
	}
}

// collectObsolete scans from start (a versioned key, nil: the beginning) and returns up to
// limit obsolete versioned keys and where to continue (nil at the end).
func (db *DB) collectObsolete(ctx context.Context, tr *btree.Tree, start []byte, horizon page.LSN, limit int) ([][]byte, []byte, error) {
	var out [][]byte
	var cur []byte
	var versions []version
	var next []byte
	flush := func() {
		out = obsolete(out, versions, horizon)
		versions = versions[:0]
	}
	scanned := 0
	err := tr.Scan(ctx, start, func(k []byte, v btree.Value) (bool, error) {
		u, stamp := splitKey(k)
		if cur == nil || !bytes.Equal(u, cur) {
			flush()
			if len(out) >= limit || scanned >= 16*limit {
				next = firstVersion(nil, u)
				return false, nil
			}
			cur = append(cur[:0], u...)
		}
		scanned++
		versions = append(versions, version{key: bytes.Clone(k), stamp: stamp, tombstone: isTombstone(v)})
		return true, nil
	})
	if err != nil {
		return nil, nil, err
	}
	if next == nil {
		flush()
	}
	return out, next, nil
}

func (db *DB) purgeLoop() {
	defer db.bgDone.Done()
	t := time.NewTicker(db.opts.PurgeInterval)
	defer t.Stop()
	var last uint64
	// The queue does not survive a restart: one full pass finds what it held. It may take
	// longer than one round's minute on a large database, so it goes on from where the last
	// round stopped.
	var full purgeCursor
	for {
		select {
		case <-db.stopBg:
			return
		case <-t.C:
		}
		if db.failure() != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if !full.done {
			_, err := db.purgeFrom(ctx, &full)
			switch {
			case err == nil:
				db.lg.Debug("engine: full purge pass done")
			case ctx.Err() != nil:
				db.lg.Debug("engine: full purge pass goes on in the next round", "tree", full.tree)
			default:
				db.lg.Warn("engine: purge", "err", err)
			}
		} else if w := db.writes.Load(); w != last {
			last = w
			if _, err := db.PurgeQueued(ctx); err != nil {
				db.lg.Warn("engine: purge", "err", err)
			}
		}
		cancel()
	}
}
