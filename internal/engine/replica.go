package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"strata/internal/btree"
	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/replay"
	"strata/internal/storage"
)

// ReplayLog is the log a read-only engine follows: the Log Stores' reader (logclient.Reader)
// or, in one process and in tests, a local log.
type ReplayLog interface {
	storage.LogReader
	// GroupEnd returns the latest group end the log can serve: where a follower starts, and
	// where it starts again when its place was truncated away.
	GroupEnd() page.LSN
}

// maxFetchTries bounds the reads of one page that the replay answers Retry (a record of the
// page was dropped and published while it was read): each try reads at a newer view.
const maxFetchTries = 8

// replica is a following read-only engine's replay: the edge around replay.Machine. It is
// the buffer pool's Replica (misses and evictions), and its follower goroutine feeds the log's
// records to the Machine and carries out its decisions: the records of a group are applied to
// the cached pages, and the group's end published as the read view, while the read barrier
// is held exclusively, so no reader ever sees part of a group.
//
// Locks: the read barrier (db.ro.barrier), then page latches, then the pool's own locks; mu
// is a leaf, never held while waiting for a latch or for I/O.
type replica struct {
	db    *DB // set once OpenReadOnly has opened the engine
	log   ReplayLog
	pages storage.PageSource
	lg    *slog.Logger

	mu    sync.Mutex
	m     *replay.Machine
	kept  map[page.LSN]redo.Record                                     // bytes of kept records until their group ends
	holds map[replay.Token][]page.LSN                                  // records held for each fetch in flight
	watch map[page.ID]bool                                             // pages of the watched trees (catalogs)
	roots map[page.ID]bool                                             // the watched trees
	hooks []func(view page.LSN)                                        // told of each catalog change (OnCatalogChange)
	dirty bool                                                         // the open group changed a watched tree
	stats struct{ groups, applied, fetches, resyncs, catalogs uint64 } // under mu
	// Follower-side state, read by Stats.
	behindSince atomic.Int64 // unix nanos when the follower last had bytes it had not published, 0 when caught up
	lastErr     atomic.Pointer[error]
}

func newReplica(log ReplayLog, pages storage.PageSource, start page.LSN, lg *slog.Logger) *replica {
	return &replica{
		log: log, pages: pages, lg: lg,
		m:     replay.New(start),
		kept:  map[page.LSN]redo.Record{},
		holds: map[replay.Token][]page.LSN{},
		watch: map[page.ID]bool{},
		roots: map[page.ID]bool{},
	}
}

// Fetch implements bufpool.Replica: it reads page id at the read view, applies the records
// the replay held for it, and says whether the pool may keep it.
func (r *replica) Fetch(ctx context.Context, id page.ID, dst *page.Page) (bool, error) {
	for range maxFetchTries {
		r.mu.Lock()
		fs := r.m.FetchStart(id)
		if !fs.Cached && !fs.Joined {
			r.stats.fetches++
		}
		r.mu.Unlock()
		if fs.Cached || fs.Joined {
			// The pool loads a page once at a time and tells the replay of every eviction, so
			// this is a bug: refuse the read rather than serve a page nobody keeps current.
			return false, fmt.Errorf("engine: replay: page %d missed by the pool but cached=%v joined=%v in the replay", id, fs.Cached, fs.Joined)
		}
		err := r.pages.GetPage(ctx, id, fs.ReadLSN, dst)
		r.mu.Lock()
		held := r.holds[fs.Token]
		delete(r.holds, fs.Token)
		recs := make(map[page.LSN]redo.Record, len(held))
		for _, lsn := range held {
			recs[lsn] = r.kept[lsn]
			delete(r.kept, lsn)
		}
		var done replay.Done
		if err != nil {
			if ferr := r.m.FetchFailed(fs.Token); ferr != nil {
				err = fmt.Errorf("%w (and %w)", err, ferr)
			}
		} else {
			done, err = r.m.FetchDone(fs.Token, dst.LSN())
		}
		r.mu.Unlock()
		if err != nil {
			return false, fmt.Errorf("engine: replay: read page %d at %d: %w", id, fs.ReadLSN, err)
		}
		for _, lsn := range done.Held {
			rec, ok := recs[lsn]
			if !ok {
				return false, fmt.Errorf("engine: replay: record %d held for page %d has no bytes", lsn, id)
			}
			if err := redo.Apply(dst, lsn, rec); err != nil {
				return false, fmt.Errorf("engine: replay: apply held record to page %d: %w", id, err)
			}
		}
		switch done.Outcome {
		case replay.Install:
			return true, nil
		case replay.Use:
			return false, nil
		}
		// Retry: read again at the newer view.
	}
	return false, fmt.Errorf("engine: replay: page %d could not be brought to the read view in %d reads", id, maxFetchTries)
}

// Evicted implements bufpool.Replica.
func (r *replica) Evicted(id page.ID) {
	r.mu.Lock()
	err := r.m.Evict(id)
	r.mu.Unlock()
	if err != nil {
		r.lg.Error("replay: eviction the replay did not expect", "page", id, "err", err)
	}
}

// watchTree adds root's pages to the watched set. The caller excludes the follower (holds the
// read barrier exclusively, or runs before it starts).
func (r *replica) watchTree(ctx context.Context, root page.ID) error {
	ids := []page.ID{}
	if err := btree.New(r.db.pool, root, nil).Nodes(ctx, func(id page.ID) { ids = append(ids, id) }); err != nil {
		return fmt.Errorf("engine: watch tree %d: %w", root, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.roots[root] = true
	for _, id := range ids {
		r.watch[id] = true
	}
	// Records of the open group that arrived before the pages were known are not marked:
	// count the group as a change.
	r.dirty = true
	return nil
}

// rewatch rebuilds the watched set from the watched trees (after a re-sync).
func (r *replica) rewatch(ctx context.Context) error {
	r.mu.Lock()
	roots := make([]page.ID, 0, len(r.roots))
	for root := range r.roots {
		roots = append(roots, root)
	}
	clear(r.watch)
	r.mu.Unlock()
	for _, root := range roots {
		if err := r.watchTree(ctx, root); err != nil {
			return err
		}
	}
	return nil
}

// noteWatched marks the open group as a catalog change if rec changes a watched tree, and
// keeps the watched set up to date as those trees grow and shrink. r.mu is held.
func (r *replica) noteWatched(rec redo.Record) {
	switch {
	case r.watch[rec.Page]:
		r.dirty = true
		if rec.Type == redo.TFree || rec.Type == redo.TInit && !r.roots[ownerOf(rec)] {
			delete(r.watch, rec.Page)
		}
	case rec.Type == redo.TInit && r.roots[ownerOf(rec)]:
		r.dirty = true
		r.watch[rec.Page] = true
	}
}

// ownerOf returns the owner an init record gives its page (the tree's root).
func ownerOf(rec redo.Record) page.ID {
	if len(rec.Payload) < 10 {
		return page.Invalid
	}
	return page.ID(binary.LittleEndian.Uint64(rec.Payload[2:]))
}

// ReplayStats describe a following read-only engine's replay.
type ReplayStats struct {
	View    page.LSN // the published read view
	Durable page.LSN // the log's durable end as the follower knows it
	// Behind is how long the follower has had log bytes it has not yet published, zero when
	// it is caught up.
	Behind time.Duration
	// Groups published, records applied to cached pages, pages read from the page source,
	// re-syncs, and catalog changes seen.
	Groups, Applied, Fetches, Resyncs, CatalogChanges uint64
	Err                                               error // the last replay error, if any
}

// ReplayStats returns the replay's counters; ok is false for an engine that does not follow
// a log.
func (db *DB) ReplayStats() (st ReplayStats, ok bool) {
	if db.ro == nil || db.ro.rep == nil {
		return ReplayStats{}, false
	}
	r := db.ro.rep
	r.mu.Lock()
	st = ReplayStats{View: r.m.View(), Groups: r.stats.groups, Applied: r.stats.applied,
		Fetches: r.stats.fetches, Resyncs: r.stats.resyncs, CatalogChanges: r.stats.catalogs}
	r.mu.Unlock()
	st.Durable = max(r.log.Durable(), st.View)
	if t := r.behindSince.Load(); t != 0 && st.Durable > st.View {
		st.Behind = time.Since(time.Unix(0, t))
	}
	if p := r.lastErr.Load(); p != nil {
		st.Err = *p
	}
	return st, true
}

// OnCatalogChange registers fn to be called after a replayed group changed the catalog or a
// watched tree (WatchTree), with the group's end, which is then the read view. It runs while
// readers are excluded: it must not read through the engine. Only a following read-only
// engine calls it.
func (db *DB) OnCatalogChange(fn func(view page.LSN)) {
	if db.ro == nil || db.ro.rep == nil {
		return
	}
	db.ro.rep.mu.Lock()
	db.ro.rep.hooks = append(db.ro.rep.hooks, fn)
	db.ro.rep.mu.Unlock()
}

// WatchTree makes a following read-only engine count changes of the named tree as catalog
// changes (OnCatalogChange): the SQL layer keeps its schemas in such a tree. It does nothing on
// other engines.
func (db *DB) WatchTree(ctx context.Context, name string) error {
	if db.ro == nil || db.ro.rep == nil {
		return nil
	}
	root, err := db.Tree(name)
	if err != nil {
		return err
	}
	db.ro.barrier.Lock()
	defer db.ro.barrier.Unlock()
	return db.ro.rep.watchTree(ctx, root)
}
