package pagestore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"strata/internal/page"
	"strata/internal/placement"
	"strata/internal/retry"
	"strata/internal/storage"
)

// Copying segments between replicas. A store given a segment it has no history of (a segment
// moved to it, or all of its data after it was wiped while the log was truncated) stores the
// segment's records from its consume position P on at once, and copies from a peer replica
// every page of the segment as of P: one image per page, at the page's own LSN. From then on
// the store holds the segment exactly like a replica that had it all along, except for the
// history below P, which it refuses with ErrCompacted. Until the copy is done the segment is
// kept but not served (ErrNotOwned), so a reader falls back to another replica.

// SegmentSource copies segments from peer replicas.
type SegmentSource interface {
	// CopySegment calls emit with every page of segment seg as of lsn (every record below
	// lsn applied), read from a replica other than this store, after calling pages with how
	// many it will send at most. It returns an error wrapping storage.ErrCompacted when no
	// replica holds the segment's history at lsn any more.
	CopySegment(ctx context.Context, seg uint64, lsn page.LSN, pages func(n int), emit func(p *page.Page) error) error
	// UsedSegments returns the segments a peer keeping every unlisted segment holds pages
	// of, as of now.
	UsedSegments(ctx context.Context) ([]uint64, error)
}

// ErrOwnership is returned (wrapped) by SetOwnership for a change a store cannot make.
var ErrOwnership = errors.New("pagestore: ownership change not supported")

// ownKey holds the store's ownState (JSON).
var ownKey = []byte{kindMeta, 'o', 'w', 'n'}

// copyRetry is the wait before a failed copy is tried again.
const copyRetry = 2 * time.Second

// Copying returns the segments being copied, in order; a copy of every unlisted segment (after
// a wipe) shows as the segments it has started, with RestIncoming set in Ownership().
func (s *Store) Copying() []placement.CopyProgress {
	st := s.own.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []placement.CopyProgress
	for seg, from := range st.Incoming {
		p := s.progress[seg]
		out = append(out, placement.CopyProgress{Segment: seg, From: from, Copied: p.Copied, Total: p.Total})
	}
	if st.RestIncoming != 0 {
		for seg, p := range s.progress {
			if _, listed := st.Incoming[seg]; !listed {
				out = append(out, placement.CopyProgress{Segment: seg, From: st.RestIncoming, Copied: p.Copied, Total: p.Total})
			}
		}
	}
	slices.SortFunc(out, func(a, b placement.CopyProgress) int { return cmp.Compare(a.Segment, b.Segment) })
	return out
}

// CopyingRest reports whether the store is copying every unlisted segment from peers.
func (s *Store) CopyingRest() bool { return s.own.Load().RestIncoming != 0 }

// SetOwnership changes the segments the store keeps. Segments it no longer keeps are deleted
// at once; segments it gains are copied from peers (Options.Source) in the background and
// served when the copy is done (see Copying). The segment size may change only while the store
// keeps every page, and whether it keeps the unlisted segments may not change.
func (s *Store) SetOwnership(o placement.Ownership) error {
	o = o.Normal()
	s.ownMu.Lock()
	defer s.ownMu.Unlock()
	cur := s.own.Load()
	if cur.Ownership.Normal().Equal(o) {
		return nil // the same segments: nothing to persist (callers apply the placement every second)
	}
	next := cur.clone()
	if cur.SegmentPages != o.SegmentPages {
		if !cur.KeepsEverything() || len(cur.Incoming) > 0 || cur.RestIncoming != 0 {
			return fmt.Errorf("pagestore: segment size %d → %d while keeping %s: %w", cur.SegmentPages, o.SegmentPages, cur.Ownership, ErrOwnership)
		}
		// Every page is here: the same data, cut differently.
		next.Ownership = placement.Ownership{SegmentPages: o.SegmentPages, Rest: true}
		if f := slices.Max(append(slices.Collect(maps.Values(cur.Floors)), 0)); f > s.Floor() {
			if err := s.raiseFloor(f); err != nil {
				return err
			}
		}
		clear(next.Floors)
	}
	if next.Rest != o.Rest {
		return fmt.Errorf("pagestore: keeping the unlisted segments %v → %v: %w", next.Rest, o.Rest, ErrOwnership)
	}
	var adds, drops []uint64
	for _, seg := range slices.Sorted(maps.Keys(mergeKeys(next.Segments, o.Segments))) {
		was, will := next.Keeps(seg), o.Keeps(seg)
		switch {
		case was && !will:
			drops = append(drops, seg)
			delete(next.Incoming, seg)
			delete(next.Floors, seg)
		case !was && will:
			adds = append(adds, seg)
		}
	}
	next.Ownership = placement.Ownership{SegmentPages: o.SegmentPages, Rest: o.Rest, Segments: maps.Clone(o.Segments)}
	for _, seg := range drops {
		if o.SegmentPages == 0 || seg > math.MaxUint64/o.SegmentPages-1 {
			return fmt.Errorf("pagestore: cannot drop segment %d of %d pages: %w", seg, o.SegmentPages, ErrOwnership)
		}
	}
	err := s.commitOwnState(next, len(adds) > 0, func(b *pebble.Batch, pos page.LSN) error {
		for _, seg := range drops {
			if err := deleteSegment(b, seg, o.SegmentPages); err != nil {
				return err
			}
		}
		for _, seg := range adds {
			next.Incoming[seg] = pos
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pagestore: set ownership %s: %w", o, err)
	}
	if len(drops) > 0 {
		s.cache.reset()
		s.forgetPages(func(id page.ID) bool { return !next.keeps(id) })
	}
	if len(adds) > 0 || len(drops) > 0 {
		s.log.Info("pagestore: ownership changed", "keeps", o.String(), "copying", adds, "dropped", drops)
	}
	if len(adds) > 0 {
		s.kickCopy()
	}
	return nil
}

func mergeKeys(a, b map[uint64]bool) map[uint64]bool {
	m := maps.Clone(a)
	if m == nil {
		m = map[uint64]bool{}
	}
	maps.Copy(m, b)
	return m
}

// deleteSegment adds to b the deletion of every version of the pages of segment seg.
func deleteSegment(b *pebble.Batch, seg, pages uint64) error {
	lo, hi := page.ID(seg*pages), page.ID((seg+1)*pages)
	for _, kind := range []byte{kindDelta, kindImage} {
		if err := b.DeleteRange(versionKey(kind, lo, 0), versionKey(kind, hi, 0), nil); err != nil {
			return err
		}
	}
	return nil
}

func putOwnState(b *pebble.Batch, st *ownState) error {
	v, err := st.encode()
	if err != nil {
		return err
	}
	return b.Set(ownKey, v, nil)
}

// forgetPages drops the in-memory tracking of pages for which drop is true.
func (s *Store) forgetPages(drop func(page.ID) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.pages {
		if drop(id) {
			delete(s.pages, id)
			delete(s.hot, id)
		}
	}
}

// raiseFloor raises the compaction floor to f, durably.
func (s *Store) raiseFloor(f page.LSN) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	if f <= s.Floor() {
		return nil
	}
	if err := s.withDB(func(db *pebble.DB) error {
		if err := db.Set(floorKey, encodeLSN(f), pebble.NoSync); err != nil {
			return err
		}
		return db.Flush()
	}); err != nil {
		return fmt.Errorf("pagestore: raise the floor to %d: %w", f, err)
	}
	s.floor.Store(uint64(f))
	return nil
}

func (s *Store) kickCopy() {
	select {
	case s.copyKick <- struct{}{}:
	default:
	}
}

// copyLoop copies the incoming segments, one at a time, until Close.
func (s *Store) copyLoop() {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-s.closedCh; cancel() }()
	for {
		select {
		case <-s.closedCh:
			return
		case <-s.copyKick:
		}
		for ctx.Err() == nil {
			st := s.own.Load()
			if len(st.Incoming) == 0 && st.RestIncoming == 0 {
				break
			}
			var err error
			if st.Rebase {
				err = s.rebase()
			} else if len(st.Incoming) > 0 {
				seg := slices.Min(slices.Collect(maps.Keys(st.Incoming)))
				err = s.copyIncoming(ctx, seg, st.Incoming[seg])
			} else {
				err = s.copyRest(ctx, st.RestIncoming)
			}
			if err != nil && ctx.Err() == nil {
				s.log.Error("pagestore: copying from a peer; retrying", "retry_in", copyRetry, "err", err)
				if !retry.Sleep(ctx, copyRetry) {
					return
				}
			}
		}
	}
}

// copyIncoming copies segment seg as of from, and serves it.
func (s *Store) copyIncoming(ctx context.Context, seg uint64, from page.LSN) error {
	start := time.Now()
	n, err := s.copySegment(ctx, seg, from, func(st *ownState) bool { return st.Incoming[seg] == from })
	if errors.Is(err, storage.ErrCompacted) {
		// No peer holds the segment as of from any more: start again from here.
		s.log.Warn("pagestore: peers compacted past the copy position; copying again", "segment", seg, "from", from)
		return s.restartCopy(seg, from)
	}
	if err != nil {
		return err
	}
	err = s.finishCopy(func(st *ownState) (bool, error) {
		if st.Incoming[seg] != from {
			return false, nil
		}
		delete(st.Incoming, seg)
		st.Floors[seg] = from
		return true, nil
	})
	if err == nil {
		s.mu.Lock()
		delete(s.progress, seg)
		s.mu.Unlock()
		s.log.Info("pagestore: segment copied from a peer; serving it", "segment", seg, "as_of", from, "pages", n, "took", time.Since(start))
	}
	return err
}

// copyRest copies every unlisted segment as of from (the store's data was lost while the log
// was truncated below from), and serves them.
func (s *Store) copyRest(ctx context.Context, from page.LSN) error {
	if s.opts.Source == nil {
		return errors.New("pagestore: no peer to copy from (Options.Source)")
	}
	segs, err := s.opts.Source.UsedSegments(ctx)
	if err != nil {
		return fmt.Errorf("pagestore: list the peers' segments: %w", err)
	}
	start, total := time.Now(), 0
	for _, seg := range segs {
		if _, listed := s.own.Load().Segments[seg]; listed {
			continue
		}
		n, err := s.copySegment(ctx, seg, from, func(st *ownState) bool { return st.RestIncoming == from })
		if errors.Is(err, storage.ErrCompacted) {
			return fmt.Errorf("pagestore: peers no longer hold segment %d as of %d; the store stays refused: %w", seg, from, err)
		}
		if err != nil {
			return err
		}
		total += n
	}
	// The copied history starts at from: below it, reads answer ErrCompacted.
	if err := s.raiseFloor(from); err != nil {
		return err
	}
	err = s.finishCopy(func(st *ownState) (bool, error) {
		if st.RestIncoming != from {
			return false, nil
		}
		st.RestIncoming = 0
		return true, nil
	})
	if err == nil {
		s.mu.Lock()
		clear(s.progress)
		s.mu.Unlock()
		s.log.Info("pagestore: every segment copied from peers; serving", "segments", len(segs), "as_of", from, "pages", total, "took", time.Since(start))
	}
	return err
}

// copySegment writes the pages of segment seg as of from, copied from a peer, while valid
// holds for the ownership; it returns how many pages it wrote.
func (s *Store) copySegment(ctx context.Context, seg uint64, from page.LSN, valid func(*ownState) bool) (int, error) {
	if s.opts.Source == nil {
		return 0, errors.New("pagestore: no peer to copy from (Options.Source)")
	}
	s.setProgress(seg, 0, 0)
	pages := s.own.Load().SegmentPages
	var batch []*page.Page
	written := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.withDB(func(db *pebble.DB) error {
			b := db.NewBatch()
			defer b.Close()
			for _, p := range batch {
				if err := b.Set(versionKey(kindImage, p.ID(), p.LSN()), p[:], nil); err != nil {
					return err
				}
			}
			s.writeMu.Lock()
			defer s.writeMu.Unlock()
			if !valid(s.own.Load()) {
				return fmt.Errorf("pagestore: segment %d is no longer being copied as of %d", seg, from)
			}
			return b.Commit(pebble.NoSync)
		})
		written += len(batch)
		batch = batch[:0]
		s.setProgress(seg, written, -1)
		return err
	}
	err := s.opts.Source.CopySegment(ctx, seg, from, func(n int) { s.setProgress(seg, 0, n) }, func(p *page.Page) error {
		if err := p.Verify(); err != nil {
			return fmt.Errorf("pagestore: copied page of segment %d: %w", seg, err)
		}
		if placement.SegmentOf(p.ID(), pages) != seg || p.LSN() >= from {
			return fmt.Errorf("pagestore: copied page %d at lsn %d is not of segment %d below %d: %w", p.ID(), p.LSN(), seg, from, page.ErrCorrupt)
		}
		c := *p
		batch = append(batch, &c)
		if len(batch) >= 64 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return written, fmt.Errorf("pagestore: copy segment %d as of %d: %w", seg, from, err)
	}
	return written, nil
}

// finishCopy makes the copied pages durable, then applies change to the ownership and
// persists it when change says so.
func (s *Store) finishCopy(change func(*ownState) (bool, error)) error {
	s.ownMu.Lock()
	defer s.ownMu.Unlock()
	if err := s.withDB(func(db *pebble.DB) error { return db.Flush() }); err != nil {
		return fmt.Errorf("pagestore: make the copied pages durable: %w", err)
	}
	next := s.own.Load().clone()
	ok, err := change(next)
	if err != nil || !ok {
		return err
	}
	return s.commitOwnState(next, false, nil)
}

// restartCopy deletes what was copied of segment seg as of from and starts again from the
// consume position.
func (s *Store) restartCopy(seg uint64, from page.LSN) error {
	s.ownMu.Lock()
	defer s.ownMu.Unlock()
	next := s.own.Load().clone()
	if next.Incoming[seg] != from {
		return nil
	}
	err := s.commitOwnState(next, true, func(b *pebble.Batch, pos page.LSN) error {
		next.Incoming[seg] = pos
		return deleteSegment(b, seg, next.SegmentPages)
	})
	s.cache.reset()
	return err
}

// rebase moves every copy position to the consume position once it is at a group end (see
// ownState.Rebase).
func (s *Store) rebase() error {
	s.ownMu.Lock()
	defer s.ownMu.Unlock()
	next := s.own.Load().clone()
	if !next.Rebase {
		return nil
	}
	err := s.commitOwnState(next, true, func(_ *pebble.Batch, pos page.LSN) error {
		for seg := range next.Incoming {
			next.Incoming[seg] = pos
		}
		if next.RestIncoming != 0 {
			next.RestIncoming = pos
		}
		next.Rebase = false
		return nil
	})
	if err != nil {
		return fmt.Errorf("pagestore: start copying at a group end: %w", err)
	}
	return nil
}

// commitOwnState persists next and publishes it, in one batch with what prepare adds, under
// writeMu (so that no batch of records built with the previous state commits after it; with
// atGroupEnd, at a moment when the consume position is a group end), then flushes. prepare,
// when set, gets the consume position and may still change next.
func (s *Store) commitOwnState(next *ownState, atGroupEnd bool, prepare func(b *pebble.Batch, pos page.LSN) error) error {
	err := s.withDB(func(db *pebble.DB) error {
		b := db.NewBatch()
		defer b.Close()
		if err := s.lockAtGroupEnd(atGroupEnd); err != nil {
			return err
		}
		defer s.writeMu.Unlock()
		if prepare != nil {
			if err := prepare(b, s.Consumed()); err != nil {
				return err
			}
		}
		if err := putOwnState(b, next); err != nil {
			return err
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			return err
		}
		s.own.Store(next)
		s.needFullCompaction()
		return nil
	})
	if err != nil {
		return err
	}
	return s.flushAll() // the ownership, and everything consumed, durable
}

// groupEndWait bounds how long a copy waits for the consumer to stop at a group end.
const groupEndWait = 10 * time.Second

// ErrMidGroup is returned (wrapped) when a segment cannot start copying because the store has
// consumed part of a group for a long time (a very large transaction is being written).
var ErrMidGroup = errors.New("pagestore: the consumed log ends inside a group")

// lockAtGroupEnd takes writeMu; with atEnd, at a moment when the consume position is at a
// group end, so that a copy's position is a consistent state (a void group, redo.TAbort,
// never starts before it).
func (s *Store) lockAtGroupEnd(atEnd bool) error {
	deadline := time.Now().Add(groupEndWait)
	for {
		s.writeMu.Lock()
		if ge := s.groupEnd.Load(); !atEnd || ge != 0 && ge == s.consumedTo.Load() {
			return nil
		}
		s.writeMu.Unlock()
		if time.Now().After(deadline) {
			return fmt.Errorf("%w at %d (last group end %d)", ErrMidGroup, s.Consumed(), s.groupEnd.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// setProgress records a copy's progress; a negative total leaves it as it is.
func (s *Store) setProgress(seg uint64, copied, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.progress[seg]
	p.Copied = copied
	if total >= 0 {
		p.Total = total
	}
	s.progress[seg] = p
}
