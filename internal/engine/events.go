package engine

import (
	"time"
)

// EventListener receives the engine's events, as pebble's does: any field may be nil. A
// callback runs on the goroutine of its event, so it must be quick and must not call back into
// the engine.
type EventListener struct {
	// CommitEnd is called when the commit of a transaction that wrote ends: durable, failed, or
	// in doubt (the log stalled).
	CommitEnd func(CommitInfo)
}

// CommitInfo describes one commit of a transaction that wrote.
type CommitInfo struct {
	Duration time.Duration // from Commit's call to its return: the write and the durable wait
	// WriterWait is the part of Duration spent waiting for the engine's writer lock (one
	// mini-transaction is applied at a time), and Apply the part spent holding it: applying
	// the write set to the pages and appending the group to the log. The rest is the wait for
	// the log to make the group durable. Both are 0 for a commit that failed before its group
	// was in the log.
	WriterWait, Apply time.Duration
	Rows              int // rows written
	Err               error
}

// Stats are the engine's counters since Open.
type Stats struct {
	Commits      uint64 // commits of transactions that wrote, made durable
	CommitErrors uint64 // commits of transactions that wrote that returned an error
	Rollbacks    uint64 // transactions that wrote and were rolled back
	RowsWritten  uint64 // rows written by durable commits
	PurgeBacklog int    // keys whose old versions wait for the purge
}

// Stats returns the engine's counters.
func (db *DB) Stats() Stats {
	db.purgeMu.Lock()
	backlog := len(db.purgeQ)
	db.purgeMu.Unlock()
	return Stats{
		Commits:      db.stats.commits.Load(),
		CommitErrors: db.stats.commitErrors.Load(),
		Rollbacks:    db.stats.rollbacks.Load(),
		RowsWritten:  db.writes.Load(),
		PurgeBacklog: backlog,
	}
}
