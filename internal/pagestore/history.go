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
//
// A branch store (Options.Base, branch point B) indexes only the commits of its own log, which
// all end above B; before its first commit, its history is its base's up to B. So when its own
// index cannot answer because the time or position asked is before its first commit (or it
// has indexed none yet), LSNAt and CommitAtOrBefore ask the base, if the base is a
// storage.TimeIndex (CommitIndex), and clamp the answer to B: the base may have gone on past
// B, and those commits are not the branch's (a moment after B's commit but before the
// branch's first one answers B). Positions at or below B read the base's pages, so the
// branch's own compaction floor does not apply to those answers; the base's, through its
// own answer, does. An answer from the branch's own index follows the floor rule as always,
// so after its compaction the window can have a hole: the base's history before the
// branch's first commit stays readable while the branch's own commits below its floor do
// not. Telling "before the first commit" from "compacted away" needs the index to start with
// the branch's first commit: a branch store that consumed its log from B (branchTimesKey)
// keeps that entry through compaction, and one that did not (it started further on, copied
// from peers, or was made before the key) answers from its own index only.

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

// loadBranchTimes sets branchTimes from branchTimesKey. db must be usable (see loadLastTime).
func (s *Store) loadBranchTimes() error {
	lsn, err := s.readPosition(branchTimesKey, 0)
	if err != nil {
		return err
	}
	s.branchTimes.Store(s.opts.Base != nil && lsn == s.opts.BaseLSN)
	return nil
}

// LSNAt implements storage.TimeIndex: it waits until the store has consumed the log up to
// atLeast (as GetPage waits), then returns the end of the last group whose commit time is at
// or before at. When that group ended below the compaction floor, the answer is the floor if
// no commit lies between the two (the committed state is the same, and pages at the floor
// are kept), and otherwise ErrBeforeHistory (wrapped) with the window the store keeps.
//
// A branch store asks its base for a time before its first commit (see above):
// Base.LSNAt(at, min(atLeast, BaseLSN)), its LSN clamped to BaseLSN; the window is then from
// the base's oldest time to the branch's newest (the base's newest while the branch has
// indexed no commit: that may be a commit of the base after the branch point). An error of
// the base is returned wrapped (ErrBeforeHistory for a time before the base's window). An
// answer from the branch's own index (its first commit's time or later) names the branch's
// own window, as any store's does.
func (s *Store) LSNAt(ctx context.Context, at int64, atLeast page.LSN) (storage.TimePoint, error) {
	base, _ := s.timeBase().(storage.TimeIndex)
	tp, own, err := s.searchOwnTimes(ctx, atLeast, base != nil,
		func(it *pebble.Iterator, floor page.LSN) (storage.TimePoint, error) { return lsnAt(it, at, floor) },
		func(first timeEntry) bool { return at < first.at })
	if !own.before {
		return tp, err
	}
	btp, err := base.LSNAt(ctx, at, min(atLeast, s.opts.BaseLSN))
	btp.LSN = min(btp.LSN, s.opts.BaseLSN)
	return s.fromBase(own, btp, err, fmtMicros(at))
}

// timeBase returns the base a branch store asks for the times before its first commit (see
// above), nil when it asks none.
func (s *Store) timeBase() storage.PageSource {
	if s.branchTimes.Load() {
		return s.opts.Base
	}
	return nil
}

// searchOwnTimes answers with search over the store's own time index (searchTimes); when
// withBase and the search found nothing because what was asked is before the index's first
// entry (before says so of it), own.before is set: the base answers instead.
func (s *Store) searchOwnTimes(ctx context.Context, atLeast page.LSN, withBase bool,
	search func(it *pebble.Iterator, floor page.LSN) (storage.TimePoint, error), before func(first timeEntry) bool) (storage.TimePoint, ownTimes, error) {
	var own ownTimes
	tp, err := s.searchTimes(ctx, atLeast, func(it *pebble.Iterator, floor page.LSN) (storage.TimePoint, error) {
		tp, err := search(it, floor)
		if withBase && errors.Is(err, storage.ErrBeforeHistory) {
			if err := own.read(it, tp, before); err != nil {
				return tp, err
			}
		}
		return tp, err
	})
	return tp, own, err
}

// ownTimes is what a branch store's own time index says when it cannot answer.
type ownTimes struct {
	before  bool              // what was asked is before the first entry, or there is none
	indexed bool              // the index has entries: window names them
	window  storage.TimePoint // the index's window (Oldest, Newest)
}

// read fills o from the time index under it, whose search answered tp with
// ErrBeforeHistory; before says whether what was asked is before the first entry.
func (o *ownTimes) read(it *pebble.Iterator, tp storage.TimePoint, before func(first timeEntry) bool) error {
	if !it.First() {
		if err := it.Error(); err != nil {
			return err
		}
		o.before = true
		return nil
	}
	first, err := parseTimeEntry(it)
	if err != nil {
		return err
	}
	o.before, o.indexed, o.window = before(first), true, tp
	return nil
}

// fromBase makes a branch store's answer of its base's, tp (its LSN at or below the branch
// point) and err, to something asked before the branch's first commit: the window is from the
// base's oldest time (the branch's own oldest when the base has indexed nothing) to the
// branch's newest (the base's when the branch has indexed nothing).
func (s *Store) fromBase(own ownTimes, tp storage.TimePoint, err error, asked string) (storage.TimePoint, error) {
	if own.indexed {
		if tp.Oldest == 0 && tp.Newest == 0 {
			tp.Oldest = own.window.Oldest
		}
		tp.Newest = own.window.Newest
	}
	if err != nil {
		tp.LSN = 0
		return tp, fmt.Errorf("pagestore: %s is before the branch's first commit; its base, up to the branch point %d: %w",
			asked, s.opts.BaseLSN, err)
	}
	return tp, nil
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
// LSNs grow with times along the index, so the entries deleted are a prefix, or in a branch
// store that asks its base for the times before its first commit (branchTimes), a prefix but
// the first entry.
func (s *Store) compactTimes(h page.LSN) error {
	return s.withDB(func(db *pebble.DB) error {
		it, err := newTimeIter(db)
		if err != nil {
			return err
		}
		defer it.Close()
		var first, second, keep []byte // the first two entries, and the newest one below h
		for valid := it.First(); valid; valid = it.Next() {
			e, err := parseTimeEntry(it)
			if err != nil {
				return err
			}
			if e.lsn >= h {
				break
			}
			switch {
			case first == nil:
				first = timeKey(e.at)
			case second == nil:
				second = timeKey(e.at)
			}
			keep = timeKey(e.at)
		}
		if err := it.Error(); err != nil {
			return err
		}
		from := first
		if s.branchTimes.Load() {
			from = second // a branch's first commit stays (see above)
		}
		if from == nil || string(from) >= string(keep) {
			return nil
		}
		return db.DeleteRange(from, keep, pebble.NoSync)
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
//
// A branch store asks its base for a position before its first commit, as LSNAt does:
// Base.CommitAtOrBefore(min(lsn, BaseLSN)). At or above BaseLSN the answer is BaseLSN itself
// (the branch point: a group end of the base with the committed state of the base's last
// commit at or below it, and where the branch's pages are kept) when the base finds a commit
// at or below it, whatever position it names (when a later commit of the base was indexed
// at the same time as B's, their entry names the later one and the base answers an earlier
// commit); below it, the base's answer, clamped to BaseLSN. The window is LSNAt's.
func (s *Store) CommitAtOrBefore(ctx context.Context, lsn page.LSN) (storage.TimePoint, error) {
	base, _ := s.timeBase().(storage.CommitIndex)
	tp, own, err := s.searchOwnTimes(ctx, lsn, base != nil,
		func(it *pebble.Iterator, floor page.LSN) (storage.TimePoint, error) {
			return commitAtOrBefore(it, lsn, floor)
		},
		func(first timeEntry) bool { return lsn < first.lsn })
	if !own.before {
		return tp, err
	}
	btp, err := base.CommitAtOrBefore(ctx, min(lsn, s.opts.BaseLSN))
	btp.LSN = min(btp.LSN, s.opts.BaseLSN)
	if lsn >= s.opts.BaseLSN {
		btp.LSN = s.opts.BaseLSN
	}
	return s.fromBase(own, btp, err, fmt.Sprintf("log position %d", lsn))
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
