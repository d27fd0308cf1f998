package engine

import (
	"context"

	"strata/internal/page"
)

// WaitVisible waits until the snapshot new readers get (VisibleLSN) is at or past lsn, or ctx
// ends, and returns it: a read-only node reading after a session's commit on the writer
// (read-your-writes through the proxy) waits here for its replay to reach the commit.
func (db *DB) WaitVisible(ctx context.Context, lsn page.LSN) (page.LSN, error) {
	for {
		if v := db.VisibleLSN(); v >= lsn {
			return v, nil
		}
		ch := db.visWake.Load()
		if ch == nil {
			fresh := make(chan struct{})
			if !db.visWake.CompareAndSwap(nil, &fresh) {
				continue
			}
			ch = &fresh
		}
		// An advance after the channel was installed closes it; one before is seen here.
		if v := db.VisibleLSN(); v >= lsn {
			return v, nil
		}
		select {
		case <-*ch:
		case <-ctx.Done():
			return db.VisibleLSN(), ctx.Err()
		}
	}
}

// wakeVisible wakes the readers waiting in WaitVisible; advanceVisible calls it.
func (db *DB) wakeVisible() {
	if db.visWake.Load() == nil {
		return
	}
	if ch := db.visWake.Swap(nil); ch != nil {
		close(*ch)
	}
}

// DurableLSN returns the log's durable end: every acknowledged commit is below it. On a
// read-only engine it is the read view.
func (db *DB) DurableLSN() page.LSN { return db.log.Durable() }
