package pagestore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/storage"
)

// The time index. Every commit record that ends a group and carries a time (redo.CommitTime)
// is indexed, in the batch that consumes it, under 't' + its time (µs, big-endian) with the
// position after it (the end of its group). The indexed time is the record's time raised to
// the last time indexed, so that times and positions grow together along the keys; of several
// commits indexed at the same time the last one stays. Commits are pageless, so every store
// indexes every commit, whatever segments it keeps. Compaction keeps, of the entries below
// its horizon, only the newest (see compactTimes): with the compaction floor it tells where
// the history window starts.

var _ storage.TimeIndex = (*Store)(nil)

// timeKeyLen is the length of a time index key.
const timeKeyLen = 1 + 8

// timeKey returns the time index key of time at (µs since the Unix epoch, not negative).
func timeKey(at int64) []byte {
	return be.AppendUint64(append(make([]byte, 0, timeKeyLen), kindTime), uint64(at))
}

// timeEntry is one entry of the time index.
type timeEntry struct {
	at  int64    // commit time, µs since the Unix epoch
	lsn page.LSN // the end of the commit's group
}

// parseTimeEntry decodes the time index entry under the iterator.
func parseTimeEntry(it *pebble.Iterator) (timeEntry, error) {
	k := it.Key()
	if len(k) != timeKeyLen || k[0] != kindTime || be.Uint64(k[1:]) > math.MaxInt64 {
		return timeEntry{}, fmt.Errorf("pagestore: malformed time index key %x", k)
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return timeEntry{}, fmt.Errorf("pagestore: time index at %x: %w", k, err)
	}
	lsn, err := decodeLSN(v)
	if err != nil {
		return timeEntry{}, fmt.Errorf("pagestore: time index at %x: %w", k, err)
	}
	return timeEntry{at: int64(be.Uint64(k[1:])), lsn: lsn}, nil
}

// newTimeIter returns an iterator over the time index of db.
func newTimeIter(db *pebble.DB) (*pebble.Iterator, error) {
	return db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindTime}, UpperBound: []byte{kindTime + 1}})
}

// indexCommit adds to the batch the time index entry of commit record r, which ends at end,
// when r ends a group and has a time. A commit record without a time (an older log) or with a
// malformed payload (which nothing else reads either) is not indexed.
func (bt *batch) indexCommit(r redo.Record, end page.LSN) error {
	if r.Type != redo.TCommit || !r.GroupEnd() {
		return nil
	}
	at, ok, err := redo.CommitTime(r)
	if err != nil || !ok {
		return nil
	}
	at = max(at, bt.lastTime) // times only grow along the index (and are never negative)
	if err := bt.b.Set(timeKey(at), encodeLSN(end), nil); err != nil {
		return err
	}
	bt.lastTime = at
	bt.times++
	return nil
}

// loadLastTime sets the last indexed time from the newest entry of the index (0 when it is
// empty). db must be usable: s.dbmu held, or the store not yet shared.
func (s *Store) loadLastTime() error {
	it, err := newTimeIter(s.db)
	if err != nil {
		return err
	}
	defer it.Close()
	var at int64
	if it.Last() {
		e, err := parseTimeEntry(it)
		if err != nil {
			return err
		}
		at = e.at
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("pagestore: read the time index: %w", err)
	}
	s.lastTime.Store(at)
	return nil
}

// LSNAt implements storage.TimeIndex: it waits until the store has consumed the log up to
// atLeast (as GetPage waits), then returns the end of the last group whose commit time is at
// or before at. When that group ended below the compaction floor, the answer is the floor if
// no commit lies between the two (the committed state is the same, and pages at the floor
// are kept), and otherwise ErrBeforeHistory (wrapped) with the window the store keeps.
func (s *Store) LSNAt(ctx context.Context, at int64, atLeast page.LSN) (storage.TimePoint, error) {
	return s.searchTimes(ctx, atLeast, func(it *pebble.Iterator, floor page.LSN) (storage.TimePoint, error) {
		return lsnAt(it, at, floor)
	})
}

// searchTimes waits until the store has consumed the log up to atLeast, then answers with
// search over the time index and the compaction floor.
func (s *Store) searchTimes(ctx context.Context, atLeast page.LSN, search func(it *pebble.Iterator, floor page.LSN) (storage.TimePoint, error)) (storage.TimePoint, error) {
	if err := s.damaged(); err != nil {
		return storage.TimePoint{}, err
	}
	if err := s.waitPersisted(ctx, atLeast); err != nil {
		return storage.TimePoint{}, err
	}
	s.dbmu.RLock()
	defer s.dbmu.RUnlock()
	if s.closed {
		return storage.TimePoint{}, storage.ErrClosed
	}
	// The iterator is a snapshot; the floor is read after it, so the snapshot holds at least
	// the entries a compaction to that floor keeps (compactTimes runs after the floor is
	// raised), and entries it holds beyond those do not change the answer.
	it, err := newTimeIter(s.db)
	if err != nil {
		return storage.TimePoint{}, s.readErr(err)
	}
	defer it.Close()
	tp, err := search(it, page.LSN(s.floor.Load()))
	if err != nil && !errors.Is(err, storage.ErrBeforeHistory) {
		return tp, s.readErr(err)
	}
	return tp, err
}

// lsnAt answers LSNAt from the time index under it, with the compaction floor h.
func lsnAt(it *pebble.Iterator, at int64, h page.LSN) (storage.TimePoint, error) {
	var tp storage.TimePoint
	// The window: Newest is the newest entry, Oldest the newest entry at or below h (or the
	// oldest entry when none is). Compaction leaves at most a few entries below h.
	if !it.Last() {
		if err := it.Error(); err != nil {
			return tp, err
		}
		return tp, fmt.Errorf("pagestore: no commit time indexed yet (asked for %s): %w", fmtMicros(at), storage.ErrBeforeHistory)
	}
	newest, err := parseTimeEntry(it)
	if err != nil {
		return tp, err
	}
	tp.Newest = newest.at
	seen := false
	for valid := it.First(); valid; valid = it.Next() {
		e, err := parseTimeEntry(it)
		if err != nil {
			return tp, err
		}
		if e.lsn > h && seen {
			break
		}
		tp.Oldest, seen = e.at, true
		if e.lsn > h {
			break
		}
	}
	if err := it.Error(); err != nil {
		return tp, err
	}
	before := func() (storage.TimePoint, error) {
		return tp, fmt.Errorf("pagestore: %s is before the history window [%s, %s] (floor lsn %d): %w",
			fmtMicros(at), fmtMicros(tp.Oldest), fmtMicros(tp.Newest), h, storage.ErrBeforeHistory)
	}
	// The newest entry at or before at.
	var found bool
	switch {
	case at < 0:
	case at == math.MaxInt64:
		found = it.Last()
	default:
		found = it.SeekLT(timeKey(at + 1))
	}
	if !found {
		if err := it.Error(); err != nil {
			return tp, err
		}
		return before()
	}
	l, err := parseTimeEntry(it)
	if err != nil {
		return tp, err
	}
	if l.lsn >= h {
		tp.LSN = l.lsn
		return tp, nil
	}
	// l ended below the floor: the floor answers if no commit lies between them.
	if it.Next() {
		next, err := parseTimeEntry(it)
		if err != nil {
			return tp, err
		}
		if next.lsn <= h {
			return before()
		}
	} else if err := it.Error(); err != nil {
		return tp, err
	}
	tp.LSN = h
	return tp, nil
}

// fmtMicros formats a time in microseconds since the Unix epoch as RFC 3339 in UTC, with
// microseconds.
func fmtMicros(at int64) string {
	return time.UnixMicro(at).UTC().Format("2006-01-02T15:04:05.000000Z07:00")
}

// compactTimes deletes the time index entries that end below horizon h, except the newest of
// them: it (with the floor h) still answers for the times between it and the next entry.
// LSNs grow with times along the index, so the entries deleted are a prefix.
func (s *Store) compactTimes(h page.LSN) error {
	return s.withDB(func(db *pebble.DB) error {
		it, err := newTimeIter(db)
		if err != nil {
			return err
		}
		defer it.Close()
		var first, keep []byte // the first entry, and the newest one below h
		for valid := it.First(); valid; valid = it.Next() {
			e, err := parseTimeEntry(it)
			if err != nil {
				return err
			}
			if e.lsn >= h {
				break
			}
			if first == nil {
				first = timeKey(e.at)
			}
			keep = timeKey(e.at)
		}
		if err := it.Error(); err != nil {
			return err
		}
		if first == nil || string(first) == string(keep) {
			return nil
		}
		return db.DeleteRange(first, keep, pebble.NoSync)
	})
}

// truncateTimes adds to b the deletion of the time index entries that end above lsn (a
// suffix of the index, read from the newest back). s.dbmu is held.
func (s *Store) truncateTimes(b *pebble.Batch, lsn page.LSN) error {
	it, err := newTimeIter(s.db)
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.Last(); valid; valid = it.Prev() {
		e, err := parseTimeEntry(it)
		if err != nil {
			return err
		}
		if e.lsn <= lsn {
			break
		}
		if err := b.Delete(it.Key(), nil); err != nil {
			return err
		}
	}
	return it.Error()
}

var _ storage.CommitIndex = (*Store)(nil)

// CommitAtOrBefore implements storage.CommitIndex: it waits until the store has consumed the
// log up to lsn, then returns the end of the last commit that ends at or below lsn, with the
// floor rule and the window of LSNAt.
func (s *Store) CommitAtOrBefore(ctx context.Context, lsn page.LSN) (storage.TimePoint, error) {
	return s.searchTimes(ctx, lsn, func(it *pebble.Iterator, floor page.LSN) (storage.TimePoint, error) {
		return commitAtOrBefore(it, lsn, floor)
	})
}

// commitAtOrBefore answers CommitAtOrBefore from the time index under it, with the
// compaction floor h. Positions grow with times along the index, so the newest entry at or
// below lsn is found by bisecting the times; its time then answers as LSNAt does.
func commitAtOrBefore(it *pebble.Iterator, lsn page.LSN, h page.LSN) (storage.TimePoint, error) {
	if !it.First() {
		if err := it.Error(); err != nil {
			return storage.TimePoint{}, err
		}
		return lsnAt(it, -1, h) // nothing indexed: the window says so
	}
	first, err := parseTimeEntry(it)
	if err != nil {
		return storage.TimePoint{}, err
	}
	if first.lsn > lsn {
		return lsnAt(it, -1, h) // before every commit kept
	}
	if !it.Last() {
		return storage.TimePoint{}, it.Error()
	}
	last, err := parseTimeEntry(it)
	if err != nil {
		return storage.TimePoint{}, err
	}
	best := first
	for lo, hi := first.at+1, last.at; lo <= hi; {
		mid := lo + (hi-lo)/2
		if !it.SeekGE(timeKey(mid)) {
			if err := it.Error(); err != nil {
				return storage.TimePoint{}, err
			}
			hi = mid - 1
			continue
		}
		e, err := parseTimeEntry(it)
		if err != nil {
			return storage.TimePoint{}, err
		}
		switch {
		case e.at > hi: // no entry in [mid, hi]
			hi = mid - 1
		case e.lsn <= lsn:
			best, lo = e, e.at+1
		default:
			hi = mid - 1
		}
	}
	return lsnAt(it, best.at, h)
}
