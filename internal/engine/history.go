package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"strata/internal/page"
	"strata/internal/storage"
)

// ErrNoHistory is returned by LSNAt and OpenPast on an engine opened without a time index or
// a page source that keeps history.
var ErrNoHistory = errors.New("engine: no history here")

// history is what an engine keeps to read the past: the readers of the past it pins.
type history struct {
	mu     sync.Mutex
	pins   map[page.LSN]int    // positions past views read at (OpenPast)
	open   map[*DB]struct{}    // the past views open: closed with the engine
	remote map[string]page.LSN // other nodes' oldest past views (ReportPinned)
}

// ReportPinned records the oldest position another node (a read-only node) reads the past
// at, so that PageHorizon stays at or below it; lsn 0 removes the node.
func (db *DB) ReportPinned(node string, lsn page.LSN) {
	db.hist.mu.Lock()
	defer db.hist.mu.Unlock()
	if lsn == 0 {
		delete(db.hist.remote, node)
		return
	}
	if db.hist.remote == nil {
		db.hist.remote = map[string]page.LSN{}
	}
	db.hist.remote[node] = lsn
}

// Pinned returns the oldest position a past view open on this engine reads at (0: none).
func (db *DB) Pinned() page.LSN {
	db.hist.mu.Lock()
	defer db.hist.mu.Unlock()
	var p page.LSN
	for l := range db.hist.pins {
		if p == 0 || l < p {
			p = l
		}
	}
	return p
}

// closePast closes the past views still open (the engine is closing).
func (db *DB) closePast() {
	db.hist.mu.Lock()
	views := make([]*DB, 0, len(db.hist.open))
	for v := range db.hist.open {
		views = append(views, v)
	}
	db.hist.mu.Unlock()
	for _, v := range views {
		v.Close()
	}
}

// InUse reports whether a transaction of the engine holds a snapshot.
func (db *DB) InUse() bool {
	db.snapMu.Lock()
	defer db.snapMu.Unlock()
	return len(db.snaps) > 0
}

// CommitAtOrBefore returns the end of the last commit at or below lsn, for a position given
// by a client (AS OF <lsn>), which need not be a group end: reading there could see half a
// mini-transaction. The time index must also index positions (storage.CommitIndex).
func (db *DB) CommitAtOrBefore(ctx context.Context, lsn page.LSN) (storage.TimePoint, error) {
	ci, ok := db.opts.Times.(storage.CommitIndex)
	if !ok {
		return storage.TimePoint{}, ErrNoHistory
	}
	return ci.CommitAtOrBefore(ctx, lsn)
}

// LSNAt returns where time at (µs since the Unix epoch) falls in the log: the position as
// of that time, from the time index of Options.Times (the Page Stores), once it has
// consumed everything visible here now. An error wrapping storage.ErrBeforeHistory names the
// window the index holds in its TimePoint.
func (db *DB) LSNAt(ctx context.Context, at int64) (storage.TimePoint, error) {
	if db.opts.Times == nil {
		return storage.TimePoint{}, ErrNoHistory
	}
	tp, err := db.opts.Times.LSNAt(ctx, at, db.VisibleLSN())
	if err != nil {
		return tp, err
	}
	// Past the last commit the answer is as of what this node sees now, never beyond.
	tp.LSN = min(tp.LSN, db.VisibleLSN())
	return tp, nil
}

// PageHorizon returns the position below which no reader of this engine needs page
// versions: the oldest snapshot (Horizon), the oldest past view open (OpenPast), or the
// oldest another node reported (ReportPinned). The Page Stores' compaction horizon must not
// pass it.
func (db *DB) PageHorizon() page.LSN {
	h := db.Horizon()
	db.hist.mu.Lock()
	defer db.hist.mu.Unlock()
	for p := range db.hist.pins {
		h = min(h, p)
	}
	for _, p := range db.hist.remote {
		h = min(h, p)
	}
	return h
}

// pin keeps page versions at lsn until the returned function is called.
func (db *DB) pin(lsn page.LSN) func() {
	db.hist.mu.Lock()
	defer db.hist.mu.Unlock()
	if db.hist.pins == nil {
		db.hist.pins = map[page.LSN]int{}
	}
	db.hist.pins[lsn]++
	var once sync.Once
	return func() {
		once.Do(func() {
			db.hist.mu.Lock()
			defer db.hist.mu.Unlock()
			if db.hist.pins[lsn] <= 1 {
				delete(db.hist.pins, lsn)
			} else {
				db.hist.pins[lsn]--
			}
		})
	}
}

// OpenPast opens a read-only engine that reads the database as it was at lsn, a group end
// no later than the visible LSN, from this engine's page source: every page is read at lsn
// (a tree dropped since is still there), with a buffer pool of its own of frames pages. While
// it is open, this engine's PageHorizon stays at or below lsn. Close it when done. A
// position the page source no longer keeps fails with an error wrapping
// storage.ErrCompacted.
func (db *DB) OpenPast(ctx context.Context, lsn page.LSN, frames int) (*DB, error) {
	if db.opts.Pages == nil {
		return nil, ErrNoHistory
	}
	if lsn <= 0 || lsn > db.VisibleLSN() {
		return nil, fmt.Errorf("engine: past position %d is not in [1, %d]", lsn, db.VisibleLSN())
	}
	unpin := db.pin(lsn)
	past, err := OpenReadOnly(ctx, ReadOnlyOptions{Pages: db.opts.Pages, View: lsn, PoolFrames: frames,
		Logger: db.lg.With("past", uint64(lsn)), RemotePages: db.opts.RemotePages})
	if err != nil {
		unpin()
		return nil, err
	}
	db.hist.mu.Lock()
	if db.hist.open == nil {
		db.hist.open = map[*DB]struct{}{}
	}
	db.hist.open[past] = struct{}{}
	db.hist.mu.Unlock()
	past.unpin = func() {
		unpin()
		db.hist.mu.Lock()
		delete(db.hist.open, past)
		db.hist.mu.Unlock()
	}
	return past, nil
}

// HistoryHorizon returns how far the Page Stores may compact while keeping the history
// window: the page horizon (PageHorizon), or the position as of window ago if that is older.
// While the time index holds no commit as old as that (a young database, or a window just
// made longer), it returns 0: nothing more may go. A window of 0 keeps no history.
func (db *DB) HistoryHorizon(ctx context.Context, window time.Duration) page.LSN {
	h := db.PageHorizon()
	if window <= 0 {
		return h
	}
	if db.opts.Times == nil {
		return 0
	}
	// A store that lags answers from what it has: an older position, which keeps more.
	tp, err := db.opts.Times.LSNAt(ctx, time.Now().Add(-window).UnixMicro(), 0)
	if err != nil {
		return 0
	}
	return min(h, tp.LSN)
}
