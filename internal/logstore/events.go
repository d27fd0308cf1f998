package logstore

import "time"

// EventListener receives a store's events, as pebble's does: any field may be nil. A callback
// runs on the store's flusher goroutine, so it must be quick.
type EventListener struct {
	// BatchDurable is called after each batch of appended bytes is written and synced.
	BatchDurable func(BatchInfo)
}

// BatchInfo describes one batch the flusher made durable: every append accepted while the
// previous batch was being synced (group commit).
type BatchInfo struct {
	Bytes int
	// Wait is how long the batch's oldest byte waited, from its Append to durable: the
	// longest append latency in the batch, as the store sees it.
	Wait time.Duration
	Sync time.Duration // the fsync (fdatasync) alone
}

// Stats are a store's counters since Open.
type Stats struct {
	Batches uint64 // flushed batches, failed ones included
	Fsyncs  uint64 // log syncs that succeeded
	Bytes   uint64 // log bytes written and synced
	Repairs uint64 // damaged ranges copied back from a peer
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Batches: s.batches, Fsyncs: s.fsyncs, Bytes: s.written, Repairs: s.repairs}
}
