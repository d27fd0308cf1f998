// Package replay is the deterministic core of a read-only (RO) compute node's redo replay: a
// state machine, in the style of etcd's raft, that takes events (a record of the redo stream,
// a reader's miss, a fetched page, an eviction, a truncated log) and returns decisions the
// edge carries out (keep or drop a record's bytes, apply or hold the records of a group,
// publish a read view, install or discard a fetched page, re-sync). It does no I/O, starts no
// goroutine and reads no clock; the edge owns the buffer pool, the Page Store client, the log
// reader and the locks, and calls the Machine under one mutex.
//
// # The protocol
//
// The RO node starts at a durable group end V0 (New), which is its first read view, with an
// empty buffer pool. It follows the redo stream from V0 and tells the Machine each record in
// LSN order (Record, Abort):
//
//   - At arrival the Machine says whether the edge keeps the record's bytes (Keep: its page is
//     cached or being fetched) or drops them (Skip). Nothing is applied yet: applying before
//     the group ends would let a B+tree reader see half a split.
//   - At the group end it decides each kept record against the cache as it is then: Apply to
//     the cached page, Hold for the in-flight fetch of the page, or Skip; and it publishes the
//     group's end as the new view. The edge carries out the whole group while readers are
//     excluded (the replay barrier, below), then lets them see the new view. An abort record
//     (redo.TAbort) voids the open group: every kept record is Skipped, nothing was applied.
//
// A reader that misses page P calls FetchStart: the fetch is registered at the current view R
// and the edge reads P from the Page Stores at R (a second reader of P joins the first fetch).
// From then on every record of P is kept, and at each group end held for the fetch. When the
// page arrives (its LSN is the Page Store's page LSN, at most R), FetchDone returns the held
// records to apply to it in order, and whether to install it in the pool (Install), to use it
// for this read only (Use: the pool gave up its frame, or a record of P in the open group was
// dropped before the fetch began), or to fetch again (Retry: such a dropped record has since
// been published, so the page cannot be brought to the view). Evict tells the Machine that
// the pool dropped P: from then on its records are skipped. Pool membership is the Machine's
// own view, kept in step by the edge (Install and Evict), not an oracle: a decision then
// depends only on the events the Machine has seen, in the order it saw them, which is what
// makes it deterministic, testable, and free of the check-then-act gap an oracle would open
// between "is P cached?" and the application of a record.
//
// # Why a fetched page is never stale (Neon's read-replica race)
//
// The race: a record of P arrives while P is not cached, so it is skipped, but a reader is
// fetching P at an older LSN; the reader installs the page without that record, and every
// later reader sees a stale page. Here, let f be a fetch of P registered at view R and
// installed (FetchDone said Install) when the view is V. Every record of P with LSN in (R, V]
// belongs to a group published after FetchStart, since R was the view then. At that group's
// end P was not cached (a page being fetched is not cached, and only f's FetchDone caches P)
// and f was in flight, so the record's step was Hold for f, provided its bytes were kept.
// They were: a record that arrived after FetchStart is kept because P was being fetched; one
// that arrived before and was dropped put P in the open group's skipped set, which marks f as
// missing a record, and a missing fetch that outlives its group end is answered Retry, never
// Install. The Page Store's page holds exactly P's records up to its page LSN ≤ R and the held
// records are above R, so each record up to V is applied exactly once. After the install P is
// cached, and every later group applies its records of P (Apply) until Evict; a record is
// Skipped at a group end only when P is neither cached nor being fetched, and any later fetch
// of P is at a view at or past that group end, where the Page Store has applied it.
//
// # What the edge must do
//
// Lock order: the replay barrier (a sync.RWMutex), then page latches; the edge's mutex around
// the Machine is a leaf, never held while waiting for a latch or for I/O. Readers hold the
// barrier shared for one descent (root to leaf, or one batch of a scan); the follower holds it
// exclusively from the group-end Record call until every Apply of the group is done, so the
// decisions and their application see the same cache. FetchDone together with the install of
// the page, and Evict together with the removal of the frame, happen while the caller holds
// the barrier shared, so no group is applied between the Machine's change of membership and
// the pool's. A reader may fetch while holding the barrier (simple: replay waits for the
// fetch, and nothing is ever held), or release its latches and the barrier, fetch, then take
// the barrier again to apply the held records and install, and restart its descent: then
// Hold is what keeps the page current.
//
// The Machine also counts the views readers use (Acquire, Release) and reports the oldest
// (Oldest), which the edge sends to the read-write node's purge (engine.DB.ReportSnapshot)
// under a lease; and it takes the re-sync decision (Resync) when the log no longer holds the
// RO's position: drop every page, fetch and kept byte, and follow again from the durable group
// end.
package replay
