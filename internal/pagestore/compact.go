package pagestore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"strata/internal/page"
	"strata/internal/storage"
)

// compactLoop compacts up to the horizon every CompactInterval when the horizon has moved.
func (s *Store) compactLoop(ctx context.Context) {
	if s.opts.CompactInterval < 0 {
		return
	}
	t := time.NewTicker(s.opts.CompactInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if min(s.horizon.Load(), s.consumedTo.Load()) <= s.floor.Load() && !s.retainDropped() {
			continue
		}
		if err := s.Compact(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("pagestore: compaction", "err", err)
		}
	}
}

// Compact removes the versions that are needed only to answer GetPage below the horizon (see
// SetHorizon; it is capped at Persisted): for each page it keeps the newest image below the
// horizon, materialising one from the deltas if needed, and deletes the older images and the
// deltas it covers; of the time index entries below the horizon it keeps only the newest.
// Afterwards GetPage below the horizon returns ErrCompacted.
func (s *Store) Compact(ctx context.Context) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	h := page.LSN(min(s.horizon.Load(), s.consumedTo.Load()))
	floor := page.LSN(s.floor.Load())
	var want []page.LSN
	if p := s.retainWant.Load(); p != nil {
		want = *p
	}
	retained, dropped := nextRetained(s.Retained(), want, floor, max(h, floor))
	if h <= floor {
		if !dropped {
			return nil
		}
		h = floor // no new horizon, but versions kept for a position no longer retained go
	}
	if dropped {
		s.needFullCompaction()
	}
	// Raise the floor and record the retained positions, durably, before deleting anything,
	// so that no GetPage below it can read a half-compacted page, before or after a crash.
	if err := s.withDB(func(db *pebble.DB) error {
		b := db.NewBatch()
		defer b.Close()
		if err := b.Set(floorKey, encodeLSN(h), nil); err != nil {
			return err
		}
		if err := b.Set(retainKey, encodeRetained(retained), nil); err != nil {
			return err
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			return err
		}
		return db.Flush() // pebble writes no WAL here (see Open): flushing makes it durable
	}); err != nil {
		return fmt.Errorf("pagestore: compact to %d: %w", h, err)
	}
	s.retained.Store(&retained)
	s.floor.Store(uint64(h))
	if err := s.compactTimes(h); err != nil {
		return fmt.Errorf("pagestore: compact the time index to %d: %w", h, err)
	}
	start := time.Now()
	var pages int
	var removed uint64
	// Only the pages given deltas at or above the last pass's horizon have anything to
	// remove, unless a full pass is due.
	s.mu.Lock()
	gen := s.fullGen
	full := gen != s.fullDone
	var ids []page.ID
	if !full {
		for id, st := range s.pages {
			if st.last >= s.compactedTo {
				ids = append(ids, id)
			}
		}
	}
	s.mu.Unlock()
	slices.Sort(ids)
	compact := func(db *pebble.DB, it *pebble.Iterator, id page.ID) error {
		if !s.own.Load().serves(id) { // a page being copied has no base image yet
			return nil
		}
		n, err := s.compactPage(db, it, id, h, retained)
		if err != nil {
			return fmt.Errorf("pagestore: compact page %d to %d: %w", id, h, err)
		}
		pages++
		removed += n
		s.stats.compactVisits.Add(1)
		return nil
	}
	// One iterator for the whole pass (a snapshot: the versions below h do not change but for
	// what this pass deletes), repositioned for each page.
	err := s.withDB(func(db *pebble.DB) error {
		it, err := db.NewIter(nil)
		if err != nil {
			return err
		}
		defer it.Close()
		if !full {
			for _, id := range ids {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := compact(db, it, id); err != nil {
					return err
				}
			}
			return nil
		}
		for id := page.Invalid; ; {
			if err := ctx.Err(); err != nil {
				return err
			}
			next, ok, err := nextPage(it, id)
			if err != nil || !ok {
				return err
			}
			if err := compact(db, it, next); err != nil {
				return err
			}
			if next == math.MaxUint64 {
				return nil
			}
			id = next
		}
	})
	if err == nil {
		// Deltas consumed since the pass began are at or above h.
		s.mu.Lock()
		s.compactedTo = h
		if full {
			s.fullDone = gen
		}
		s.mu.Unlock()
		s.log.Debug("pagestore: compacted", "horizon", h, "full", full, "pages", pages, "removed", removed, "took", time.Since(start))
	}
	return err
}

// retainDropped says whether a retained position in effect is no longer named (a pass is
// due to fold its versions away).
func (s *Store) retainDropped() bool {
	var want []page.LSN
	if p := s.retainWant.Load(); p != nil {
		want = *p
	}
	_, dropped := nextRetained(s.Retained(), want, page.LSN(s.floor.Load()), page.LSN(s.floor.Load()))
	return dropped
}

// needFullCompaction makes the next compaction visit every page.
func (s *Store) needFullCompaction() {
	s.mu.Lock()
	s.fullGen++
	s.mu.Unlock()
}

func (s *Store) withDB(fn func(db *pebble.DB) error) error {
	s.dbmu.RLock()
	defer s.dbmu.RUnlock()
	if s.closed {
		return storage.ErrClosed
	}
	return fn(s.db)
}

// nextPage returns the first page after id that has a delta or an image, positioning it.
func nextPage(it *pebble.Iterator, id page.ID) (page.ID, bool, error) {
	var next page.ID
	var ok bool
	for _, kind := range []byte{kindDelta, kindImage} {
		it.SetBounds(versionKey(kind, id+1, 0), []byte{kind + 1})
		if it.First() {
			_, n, _, err := parseVersionKey(it.Key())
			if err != nil {
				return 0, false, err
			}
			if !ok || n < next {
				next, ok = n, true
			}
		} else if err := it.Error(); err != nil {
			return 0, false, err
		}
	}
	return next, ok, nil
}

// compactPage compacts page id to horizon h with iterator it over db, keeping the page as of
// each retained position below h, and returns how many versions it removed.
func (s *Store) compactPage(db *pebble.DB, it *pebble.Iterator, id page.ID, h page.LSN, retained []page.LSN) (uint64, error) {
	var removed uint64
	err := func() error {
		var imageAt, deltaAt []page.LSN // every one below h, ascending
		for _, kind := range []byte{kindImage, kindDelta} {
			it.SetBounds(versionKey(kind, id, 0), versionKey(kind, id, h))
			for valid := it.First(); valid; valid = it.Next() {
				_, _, at, err := parseVersionKey(it.Key())
				if err != nil {
					return err
				}
				if kind == kindImage {
					imageAt = append(imageAt, at)
				} else {
					deltaAt = append(deltaAt, at)
				}
			}
			if err := it.Error(); err != nil {
				return err
			}
		}
		if len(imageAt)+len(deltaAt) <= 1 {
			return nil // a single version is its own base, at every position
		}
		b := db.NewBatch()
		defer b.Close()
		// Keep the page as of each point: the retained positions below h, and h. As of a point
		// it is its newest version below it: an image there, else one made from the versions.
		keep := map[page.LSN]bool{}
		for _, pt := range append(slices.Clone(retained), h) {
			if pt > h {
				continue
			}
			newest, isImage := page.LSN(0), false
			if i, _ := slices.BinarySearch(imageAt, pt); i > 0 {
				newest, isImage = imageAt[i-1], true
			}
			if i, _ := slices.BinarySearch(deltaAt, pt); i > 0 && deltaAt[i-1] > newest {
				newest, isImage = deltaAt[i-1], false
			}
			if newest == 0 || keep[newest] {
				continue // no version yet as of pt, or the one of an earlier point
			}
			keep[newest] = true
			if isImage {
				continue
			}
			var p page.Page
			if _, err := applyVersions(it, id, 0, pt, &p, s.basePage); err != nil {
				return err
			}
			p.Seal()
			if p.LSN() != newest {
				return fmt.Errorf("pagestore: page %d as of %d is at lsn %d, its newest version at %d: %w", id, pt, p.LSN(), newest, page.ErrCorrupt)
			}
			if err := b.Set(versionKey(kindImage, id, newest), p[:], nil); err != nil {
				return err
			}
			s.stats.images.Add(1)
		}
		// Point deletions: a page has a few hundred versions at most, and range deletions, one
		// pair per page, cost pebble more to fragment at every flush than they save.
		key := make([]byte, 0, versionKeyLen)
		for _, at := range imageAt {
			if !keep[at] {
				if err := b.Delete(appendVersionKey(key[:0], kindImage, id, at), nil); err != nil {
					return err
				}
			}
		}
		for _, at := range deltaAt { // every delta below h is folded into a kept image
			if err := b.Delete(appendVersionKey(key[:0], kindDelta, id, at), nil); err != nil {
				return err
			}
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			return err
		}
		removed = uint64(len(deltaAt)) // every delta went, and the images not kept
		for _, at := range imageAt {
			if !keep[at] {
				removed++
			}
		}
		return nil
	}()
	if err != nil {
		removed = 0
	}
	s.stats.compacted.Add(removed)
	return removed, err
}
