package pagestore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/retry"
	"strata/internal/storage"
)

// consume reads the log from the persisted position and persists its records until ctx ends
// or the log holds bytes that are not a valid record.
func (s *Store) consume(ctx context.Context) {
	pos := s.Consumed()
	var buf []byte // log bytes from pos on that do not yet make a complete record
	backoff := retry.NewBackoff(10*time.Millisecond, 5*time.Second)
	for ctx.Err() == nil {
		b, err := s.opts.Log.Read(ctx, pos+page.LSN(len(buf)), readSize)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Error("pagestore: reading the log", "lsn", pos+page.LSN(len(buf)), "err", err)
			if !backoff.Wait(ctx) {
				return
			}
			continue
		}
		if len(b) == 0 { // a reader that does not block: do not spin
			if !retry.Sleep(ctx, time.Millisecond) {
				return
			}
			continue
		}
		buf = append(buf, b...)
		n, err := s.persistRecords(ctx, pos, buf)
		// An abort record is persisted alone: what follows it may already be here, and no
		// more log may come until it is handled (a recovering writer waits for it).
		for err == nil && n > 0 && n < len(buf) {
			pos += page.LSN(n)
			buf = append(buf[:0], buf[n:]...)
			n, err = s.persistRecords(ctx, pos, buf)
		}
		pos += page.LSN(n)
		buf = append(buf[:0], buf[n:]...)
		switch {
		case err == nil:
			backoff.Reset()
		case errors.Is(err, redo.ErrCorrupt):
			s.log.Error("pagestore: corrupt log, consuming stopped", "lsn", pos, "err", err)
			s.mu.Lock()
			s.consumed = err
			s.mu.Unlock()
			return
		case errors.Is(err, storage.ErrClosed) || ctx.Err() != nil:
			return
		default:
			s.log.Error("pagestore: persisting records", "lsn", pos, "err", err)
			if !backoff.Wait(ctx) {
				return
			}
		}
	}
}

// touch is what one batch did to a page.
type touch struct {
	count int
	last  page.LSN
}

// batch is the records of one persistRecords call, built under one ownership.
type batch struct {
	b        *pebble.Batch
	touched  map[page.ID]touch
	records  uint64
	off      int      // bytes of buf the batch covers
	groupEnd page.LSN // the position after the last group end in it (0: none)
	abort    bool     // buf[off:] starts with an abort record
	corrupt  error    // buf[off:] starts with bytes that are not a record
	lastTime int64    // the last commit time indexed, the store's before the batch (history.go)
	times    uint64   // commit times indexed
}

// build adds to bt the complete records at the start of buf (which starts at log position
// pos) that own keeps, stopping before an abort record.
func (bt *batch) build(pos page.LSN, buf []byte, own *ownState) error {
	key := make([]byte, 0, versionKeyLen)
	for bt.off < len(buf) {
		r, n, err := redo.Decode(buf[bt.off:])
		if errors.Is(err, redo.ErrShort) {
			break
		}
		lsn := pos + page.LSN(bt.off)
		if err != nil {
			bt.corrupt = fmt.Errorf("pagestore: log at lsn %d: %w", lsn, err)
			break
		}
		if r.Type == redo.TAbort {
			bt.abort = true
			break
		}
		if !r.Type.PageLess() && own.keeps(r.Page) {
			key = appendVersionKey(key[:0], kindDelta, r.Page, lsn)
			if err := bt.b.Set(key, buf[bt.off:bt.off+n], nil); err != nil {
				return err
			}
			t := bt.touched[r.Page]
			t.count++
			t.last = lsn
			bt.touched[r.Page] = t
			bt.records++
		}
		if err := bt.indexCommit(r, lsn+page.LSN(n)); err != nil {
			return err
		}
		bt.off += n
		if r.GroupEnd() {
			bt.groupEnd = pos + page.LSN(bt.off)
		}
	}
	return nil
}

// persistRecords persists the complete records at the start of buf, which starts at log
// position pos, in one batch with the new consume position, and returns how many bytes they
// take. It returns a redo.ErrCorrupt error (after persisting the records before it) for
// bytes that are not a record. An abort record is handled alone (see discard).
func (s *Store) persistRecords(ctx context.Context, pos page.LSN, buf []byte) (int, error) {
	s.dbmu.RLock()
	defer s.dbmu.RUnlock()
	if s.closed {
		return 0, storage.ErrClosed
	}
	bt := batch{b: s.db.NewBatch(), touched: make(map[page.ID]touch), lastTime: s.lastTime.Load()}
	defer bt.b.Close()
	for {
		// The batch is built with the ownership of now, and committed only if it is still
		// the store's ownership then (see SetOwnership); else it is built again.
		own := s.own.Load()
		if err := bt.build(pos, buf, own); err != nil {
			return 0, err
		}
		if bt.off == 0 {
			if bt.abort {
				return s.discard(ctx, pos, buf)
			}
			return 0, bt.corrupt
		}
		end := pos + page.LSN(bt.off)
		if err := bt.b.Set(persistedKey, encodeLSN(end), nil); err != nil {
			return 0, err
		}
		if bt.groupEnd != 0 {
			if err := bt.b.Set(groupEndKey, encodeLSN(bt.groupEnd), nil); err != nil {
				return 0, err
			}
		}
		s.writeMu.Lock()
		if err := ctx.Err(); err != nil { // stopped: TruncateAfter may be about to run
			s.writeMu.Unlock()
			return 0, err
		}
		if s.own.Load() != own {
			s.writeMu.Unlock()
			bt.b.Reset()
			bt = batch{b: bt.b, touched: make(map[page.ID]touch), lastTime: s.lastTime.Load()}
			continue
		}
		// No sync: the log is this store's WAL (see Open); syncLoop flushes.
		if err := bt.b.Commit(pebble.NoSync); err != nil {
			s.writeMu.Unlock()
			return 0, fmt.Errorf("pagestore: commit records [%d, %d): %w", pos, end, err)
		}
		s.stats.records.Add(bt.records)
		s.stats.times.Add(bt.times)
		s.lastTime.Store(bt.lastTime) // only once the batch is in: it may have been built again
		wake := false
		s.mu.Lock()
		for id, t := range bt.touched {
			st := s.pages[id]
			st.pending += t.count
			st.last = t.last
			s.pages[id] = st
			if st.pending >= s.opts.ImageEvery {
				s.hot[id] = struct{}{}
				wake = true
			}
		}
		s.advanceConsumed(end, bt.groupEnd)
		s.mu.Unlock()
		s.writeMu.Unlock()
		if wake {
			s.wakeMaterialiser()
		}
		return bt.off, bt.corrupt
	}
}

// advanceConsumed moves the consume position to end (and the last group end to groupEnd when
// nonzero) and wakes the waiters. s.mu and s.writeMu must be held.
func (s *Store) advanceConsumed(end, groupEnd page.LSN) {
	if groupEnd != 0 {
		s.groupEnd.Store(uint64(groupEnd))
	}
	s.consumedTo.Store(uint64(end))
	close(s.advanced)
	s.advanced = make(chan struct{})
}

// discard handles the abort record at the start of buf (at log position pos): the records of
// the void group, from the last group end the store consumed (or, when it does not know it,
// the start the record names) to pos, are deleted from every page, with the images made from
// them, as if they had never been consumed. s.dbmu is held for reading.
func (s *Store) discard(ctx context.Context, pos page.LSN, buf []byte) (int, error) {
	r, n, err := redo.Decode(buf)
	if err != nil {
		return 0, err
	}
	from, err := redo.AbortFrom(r)
	if ge := page.LSN(s.groupEnd.Load()); err == nil && (from > pos || ge != 0 && from < ge) {
		err = fmt.Errorf("%w: abort at lsn %d of a group from %d, but the last group ended at %d",
			redo.ErrCorrupt, pos, from, s.groupEnd.Load())
	}
	if err != nil {
		return 0, fmt.Errorf("pagestore: log at lsn %d: %w", pos, err)
	}
	// The void group is the one this store has consumed since its last group end: the abort
	// record's start may be later when the recovering writer kept a log restarted after the
	// group began (docs/logstore.md), never earlier (checked above).
	if ge := page.LSN(s.groupEnd.Load()); ge != 0 {
		from = ge
	}
	end := pos + page.LSN(n)
	// The time index needs nothing here: it holds only commits that end a group, and a void
	// group has no end (its records are written with redo.Group.Partial), so none of its
	// records was indexed.
	// Under writeMu from the scan to the commit: an image the materialiser stores meanwhile
	// is either seen by the scan (and deleted) or refused after it (see putImage).
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	pages := 0
	if from < pos {
		for _, kind := range []byte{kindDelta, kindImage} {
			k, err := s.deleteVersionsIn(b, kind, from, pos)
			if err != nil {
				return 0, err
			}
			pages += k
		}
	}
	if err := b.Set(persistedKey, encodeLSN(end), nil); err != nil {
		return 0, err
	}
	if err := b.Set(groupEndKey, encodeLSN(end), nil); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return 0, fmt.Errorf("pagestore: discard the void group [%d, %d): %w", from, pos, err)
	}
	s.discards.Add(1)
	s.cache.reset()
	s.mu.Lock()
	s.advanceConsumed(end, end)
	s.mu.Unlock()
	s.log.Warn("pagestore: discarded a void group (its writer failed before ending it)",
		"from", from, "to", pos, "versions_of_pages", pages)
	return n, nil
}

// deleteVersionsIn adds to b the deletion of every version of kind at LSNs in [from, to), and
// returns how many pages had some.
func (s *Store) deleteVersionsIn(b *pebble.Batch, kind byte, from, to page.LSN) (int, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kind}, UpperBound: []byte{kind + 1}})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	n := 0
	for valid := it.First(); valid; {
		_, id, _, err := parseVersionKey(it.Key())
		if err != nil {
			return 0, err
		}
		lo, hi := versionKey(kind, id, from), versionKey(kind, id, to)
		if it.SeekGE(lo) && string(it.Key()) < string(hi) {
			if err := b.DeleteRange(lo, hi, nil); err != nil {
				return 0, err
			}
			n++
		}
		valid = it.SeekGE(pageUpper(kind, id))
	}
	return n, it.Error()
}

func (s *Store) wakeMaterialiser() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// waitPersisted waits until every record below lsn is consumed (in pebble, served).
func (s *Store) waitPersisted(ctx context.Context, lsn page.LSN) error {
	for {
		if s.Consumed() >= lsn {
			return nil
		}
		s.mu.Lock()
		ch, stopped := s.advanced, s.consumed
		s.mu.Unlock()
		if s.Consumed() >= lsn {
			return nil
		}
		select {
		case <-ch:
		case <-s.closedCh:
			return storage.ErrClosed
		case <-ctx.Done():
			if stopped != nil {
				return fmt.Errorf("pagestore: waiting for lsn %d (persisted %d; consuming stopped: %v): %w",
					lsn, s.Consumed(), stopped, ctx.Err())
			}
			return fmt.Errorf("pagestore: waiting for lsn %d (persisted %d): %w", lsn, s.Consumed(), ctx.Err())
		}
	}
}
