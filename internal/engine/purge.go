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

func compareBytes(a, b []byte) int { return bytes.Compare(a, b) }

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
// it after writing a new version so that updated rows do not pile up versions.
func (db *DB) pruneKey(m *mtr.Mtr, tr *btree.Tree, ukey []byte, horizon page.LSN) error {
	var versions []version
	err := tr.Scan(m.Context(), firstVersion(nil, ukey), func(k []byte, v btree.Value) (bool, error) {
		u, stamp := splitKey(k)
		if !bytes.Equal(u, ukey) || len(versions) >= maxPrune {
			return false, nil
		}
		versions = append(versions, version{key: bytes.Clone(k), stamp: stamp, tombstone: isTombstone(v)})
		return true, nil
	})
	if err != nil || len(versions) < 2 {
		return err
	}
	for _, k := range obsolete(nil, versions, horizon) {
		if _, err := tr.Delete(m, k); err != nil {
			return err
		}
	}
	return nil
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
	var st PurgeStats
	horizon := db.Horizon()
	for _, name := range db.Trees() {
		root, err := db.Tree(name)
		if err != nil {
			continue
		}
		tr := db.tree(root)
		var start []byte
		for {
			keys, next, err := db.collectObsolete(ctx, tr, start, horizon, 256)
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
			start = next
		}
	}
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
	for {
		select {
		case <-db.stopBg:
			return
		case <-t.C:
		}
		if w := db.writes.Load(); w != last && db.failure() == nil {
			last = w
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if _, err := db.Purge(ctx); err != nil {
				db.lg.Warn("engine: purge", "err", err)
			}
			cancel()
		}
	}
}
