package pagestore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/storage"
)

// GetPage fills dst with page id with every record whose LSN is below lsn applied, waiting
// until the store has persisted the log up to lsn (or ctx ends). dst is sealed. It returns
// storage.ErrPageNotFound (wrapped) when the page has no version below lsn and ErrCompacted
// for a position below the compaction horizon; ErrNotOwned for a page of a segment the store
// does not own.
func (s *Store) GetPage(ctx context.Context, id page.ID, lsn page.LSN, dst *page.Page) error {
	s.stats.getPages.Add(1)
	f := s.opts.EventListener.GetPage
	if f == nil {
		return s.getPage(ctx, id, lsn, dst)
	}
	began := time.Now()
	err := s.getPage(ctx, id, lsn, dst)
	f(GetPageInfo{Duration: time.Since(began), Err: err})
	return err
}

func (s *Store) getPage(ctx context.Context, id page.ID, lsn page.LSN, dst *page.Page) error {
	if id == page.Invalid {
		return fmt.Errorf("pagestore: page %d: %w", id, storage.ErrPageNotFound)
	}
	own := s.own.Load()
	if !own.serves(id) {
		return s.notOwned(id)
	}
	if s.opts.Base != nil && lsn <= s.opts.BaseLSN {
		return s.opts.Base.GetPage(ctx, id, lsn, dst) // before the branch: the base's
	}
	if f := own.floorOf(id); lsn < f {
		return fmt.Errorf("pagestore: page %d at lsn %d (its segment was copied as of %d): %w", id, lsn, f, ErrCompacted)
	}
	if err := s.damaged(); err != nil {
		return err
	}
	if err := s.waitPersisted(ctx, lsn); err != nil {
		return err
	}
	if err := s.damaged(); err != nil {
		return err
	}
	gen := s.cache.generation()
	if e := s.cache.get(id); e != nil && lsn > e.pg.LSN() {
		// e.pg has every record below e.upTo applied, the newest at e.pg.LSN().
		if lsn <= e.upTo || s.noDeltaSince(id, e.upTo) {
			*dst = e.pg
			return nil
		}
		*dst = e.pg
		_, err := s.build(id, e.upTo, lsn, dst)
		if err == nil {
			dst.Seal()
			s.cache.put(gen, id, dst, lsn)
			return nil
		}
		if !errors.Is(err, ErrCompacted) {
			return s.readErr(err)
		}
		// The deltas after the cached version may be folded into an image: start afresh.
	}
	clear(dst[:])
	applied, err := s.build(id, 0, lsn, dst)
	if err != nil {
		return s.readErr(err)
	}
	if applied >= s.opts.ImageEvery {
		s.markHot(id) // the in-memory count missed these deltas (a restart)
	}
	dst.Seal()
	s.cache.put(gen, id, dst, lsn)
	return nil
}

// noDeltaSince reports whether the store knows that page id has no delta at or above from.
func (s *Store) noDeltaSince(id page.ID, from page.LSN) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return from >= s.stateBase && s.pages[id].last < from
}

func (s *Store) markHot(id page.ID) {
	s.mu.Lock()
	s.hot[id] = struct{}{}
	s.mu.Unlock()
	s.wakeMaterialiser()
}

// build brings p to page id with every record below lsn applied, from pebble, and returns how
// many deltas it applied. With from == 0 it starts from the newest image below lsn (or a zero
// page) and returns storage.ErrPageNotFound if there is neither image nor delta below lsn;
// with from > 0 p already has every record below from applied and only the deltas in
// [from, lsn) are applied. It returns ErrCompacted when the versions it needs may have been
// compacted away.
func (s *Store) build(id page.ID, from, lsn page.LSN, p *page.Page) (int, error) {
	s.dbmu.RLock()
	defer s.dbmu.RUnlock()
	if s.closed {
		return 0, storage.ErrClosed
	}
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: versionKey(kindImage, id, 0),
		UpperBound: versionKey(kindImage, id, lsn),
	})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	// The iterator is a consistent snapshot. A compaction raises the floor before it deletes
	// anything, so a floor at or below the position checked here means the snapshot holds
	// every version that position needs.
	need := lsn // every version below lsn, or below from when only [from, lsn) is read
	if from > 0 {
		need = from
	}
	if need < page.LSN(s.floor.Load()) && (from > 0 || !s.isRetained(lsn)) {
		// Below the floor only a retained position is kept whole (retain.go).
		return 0, fmt.Errorf("pagestore: page %d at lsn %d (floor %d): %w", id, need, s.floor.Load(), ErrCompacted)
	}
	return applyVersions(it, id, from, lsn, p, s.basePage)
}

// applyVersions is build on a given iterator (any bounds); see build. A page with no image
// below lsn starts from base (a zero page when base says it has none: see basePage).
func applyVersions(it *pebble.Iterator, id page.ID, from, lsn page.LSN, p *page.Page, base func(page.ID, *page.Page) (bool, error)) (int, error) {
	found := from > 0
	if from == 0 {
		it.SetBounds(versionKey(kindImage, id, 0), versionKey(kindImage, id, lsn))
		if it.Last() {
			_, _, at, err := parseVersionKey(it.Key())
			if err != nil {
				return 0, err
			}
			v, err := it.ValueAndErr()
			if err != nil {
				return 0, fmt.Errorf("pagestore: page %d image at lsn %d: %w", id, at, err)
			}
			if len(v) != page.Size {
				return 0, fmt.Errorf("pagestore: page %d image at lsn %d: %w: %d bytes", id, at, page.ErrCorrupt, len(v))
			}
			copy(p[:], v)
			if err := p.Verify(); err != nil {
				return 0, fmt.Errorf("pagestore: page %d image at lsn %d: %w", id, at, err)
			}
			if p.ID() != id || p.LSN() != at {
				return 0, fmt.Errorf("pagestore: page %d image at lsn %d: %w: holds page %d at lsn %d",
					id, at, page.ErrCorrupt, p.ID(), p.LSN())
			}
			from, found = at+1, true
		} else if err := it.Error(); err != nil {
			return 0, err
		} else if found, err = base(id, p); err != nil {
			return 0, err
		}
	}
	applied := 0
	it.SetBounds(versionKey(kindDelta, id, from), versionKey(kindDelta, id, lsn))
	for valid := it.First(); valid; valid = it.Next() {
		_, _, at, err := parseVersionKey(it.Key())
		if err != nil {
			return 0, err
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return 0, fmt.Errorf("pagestore: page %d delta at lsn %d: %w", id, at, err)
		}
		r, n, err := redo.Decode(v)
		if err == nil && (n != len(v) || r.Page != id) {
			err = fmt.Errorf("%w: %d of %d bytes, page %d", redo.ErrCorrupt, n, len(v), r.Page)
		}
		if err != nil {
			return 0, fmt.Errorf("pagestore: page %d delta at lsn %d: %w", id, at, err)
		}
		if err := redo.Apply(p, at, r); err != nil {
			return 0, fmt.Errorf("pagestore: page %d delta at lsn %d: %w", id, at, err)
		}
		applied++
		found = true
	}
	if err := it.Error(); err != nil {
		return 0, fmt.Errorf("pagestore: page %d: %w", id, err)
	}
	if !found {
		return 0, fmt.Errorf("pagestore: page %d below lsn %d: %w", id, lsn, storage.ErrPageNotFound)
	}
	return applied, nil
}
