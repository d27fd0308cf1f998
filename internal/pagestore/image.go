package pagestore

import (
	"context"
	"errors"

	"github.com/cockroachdb/pebble/v2"

	"strata/internal/page"
	"strata/internal/storage"
)

// materialiseLoop builds images of the pages that have collected ImageEvery deltas since
// their last image.
func (s *Store) materialiseLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		for ctx.Err() == nil {
			id, ok := s.popHot()
			if !ok {
				break
			}
			if err := s.materialise(id); err != nil {
				s.log.Error("pagestore: materialising an image", "page", id, "err", err)
			}
		}
	}
}

func (s *Store) popHot() (page.ID, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.hot {
		delete(s.hot, id)
		return id, true
	}
	return 0, false
}

// materialise stores an image of page id as of its newest persisted delta.
func (s *Store) materialise(id page.ID) error {
	if !s.own.Load().serves(id) {
		return nil // being copied (no base image yet) or dropped
	}
	discards := s.discards.Load()
	var p page.Page
	applied, err := s.build(id, 0, s.Consumed(), &p)
	if errors.Is(err, storage.ErrPageNotFound) || errors.Is(err, storage.ErrClosed) || errors.Is(err, ErrCompacted) {
		return nil
	}
	if err != nil {
		return err
	}
	if applied > 0 { // else the newest version already is an image
		p.Seal()
		if err := s.putImage(id, &p, discards); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if st, ok := s.pages[id]; ok {
		st.pending = max(0, st.pending-applied)
		s.pages[id] = st
	}
	s.mu.Unlock()
	return nil
}

// putImage stores the sealed image p under its own LSN, unless a void group was discarded since
// the discards count was read (the image may hold its records). Images are derived data: they
// are not synced, and one lost in a crash is simply built again.
func (s *Store) putImage(id page.ID, p *page.Page, discards uint64) error {
	s.dbmu.RLock()
	defer s.dbmu.RUnlock()
	if s.closed {
		return storage.ErrClosed
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.discards.Load() != discards {
		return nil
	}
	if err := s.db.Set(versionKey(kindImage, id, p.LSN()), p[:], pebble.NoSync); err != nil {
		return err
	}
	s.stats.images.Add(1)
	return nil
}
