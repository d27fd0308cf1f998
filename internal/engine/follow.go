package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"strata/internal/bufpool"
	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/replay"
	"strata/internal/retry"
	"strata/internal/storage"
)

// readChunk is the most log bytes the follower asks for at once.
const readChunk = 1 << 20

// parallelApply is the number of records in a group from which its records are applied by a
// pool of workers (by page) rather than by the follower alone.
const parallelApply = 64

// follow is the follower goroutine: it reads the log from the replay's position and feeds
// each record to the replay until stop is closed.
func (r *replica) follow(stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	wait := retry.NewBackoff(10*time.Millisecond, time.Second)
	r.mu.Lock()
	pos := r.m.Position()
	r.mu.Unlock()
	var tail []byte // an incomplete record at the end of the last read
	for ctx.Err() == nil {
		b, err := r.log.Read(ctx, pos+page.LSN(len(tail)), readChunk)
		if err != nil && !errors.Is(err, storage.ErrTruncated) {
			if ctx.Err() != nil {
				return
			}
			// The log is unreachable for now: nothing was fed, so read the same bytes again.
			r.lastErr.Store(&err)
			r.lg.Warn("replay: reading the log", "at", pos, "err", err)
			if !wait.Wait(ctx) {
				return
			}
			continue
		}
		if err == nil {
			if r.behindSince.Load() == 0 {
				r.behindSince.Store(time.Now().UnixNano())
			}
			buf := append(tail, b...)
			var n int
			n, err = r.feed(ctx, pos, buf)
			pos += page.LSN(n)
			tail = append([]byte(nil), buf[n:]...)
			if err == nil {
				if r.log.Durable() <= pos {
					r.behindSince.Store(0)
				}
				wait.Reset()
				continue
			}
		}
		if ctx.Err() != nil {
			return
		}
		// The log no longer holds the next record, or a record could not be replayed (the
		// cached pages may then be part way through a group): start again from the pages,
		// at the log's latest group end or, if it knows none past the view, at the view.
		r.lastErr.Store(&err)
		r.lg.Error("replay: re-syncing from the page stores", "at", pos, "err", err)
		if !wait.Wait(ctx) {
			return
		}
		r.mu.Lock()
		at := max(r.log.GroupEnd(), r.m.View())
		r.mu.Unlock()
		if err := r.resync(ctx, at); err != nil {
			r.lastErr.Store(&err)
			r.lg.Error("replay: re-sync failed", "at", at, "err", err)
		}
		r.mu.Lock()
		pos, tail = r.m.Position(), nil
		r.mu.Unlock()
	}
}

// feed gives the whole records at the start of b, found at lsn, to the replay. It returns the
// bytes it consumed: up to an incomplete record at the end.
func (r *replica) feed(ctx context.Context, lsn page.LSN, b []byte) (int, error) {
	off := 0
	for off < len(b) {
		rec, n, err := redo.Decode(b[off:])
		if errors.Is(err, redo.ErrShort) {
			break
		}
		if err != nil {
			return off, fmt.Errorf("engine: replay: record at %d: %w", lsn+page.LSN(off), err)
		}
		if err := r.record(ctx, lsn+page.LSN(off), rec); err != nil {
			return off, err
		}
		off += n
	}
	return off, nil
}

// pending is a record to apply to a cached page.
type pending struct {
	lsn page.LSN
	rec redo.Record
}

// record gives one record to the replay and carries out its decision.
func (r *replica) record(ctx context.Context, lsn page.LSN, rec redo.Record) error {
	rr := replay.RecOf(lsn, rec)
	if rec.Type == redo.TAbort {
		from, err := redo.AbortFrom(rec)
		if err != nil {
			return err
		}
		r.db.ro.barrier.Lock()
		defer r.db.ro.barrier.Unlock()
		r.mu.Lock()
		d, err := r.m.Abort(rr, from)
		if err == nil {
			for _, s := range d.Steps {
				delete(r.kept, s.LSN)
			}
			r.dirty = false // nothing of the group was applied
		}
		r.mu.Unlock()
		if err != nil {
			return err
		}
		r.publish(ctx, d.View, false)
		return nil
	}
	if !rr.GroupEnd {
		r.mu.Lock()
		defer r.mu.Unlock()
		d, err := r.m.Record(rr)
		if err != nil {
			return err
		}
		if rr.Page != page.Invalid {
			r.noteWatched(rec)
		}
		if d.Action == replay.Keep {
			r.kept[lsn] = cloneRecord(rec)
		}
		return nil
	}

	r.db.ro.barrier.Lock()
	defer r.db.ro.barrier.Unlock()
	r.mu.Lock()
	d, err := r.m.Record(rr)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	if rr.Page != page.Invalid {
		r.noteWatched(rec)
	}
	if d.Action == replay.Keep {
		r.kept[lsn] = cloneRecord(rec)
	}
	var apply []pending
	for _, s := range d.Steps {
		switch s.Action {
		case replay.Apply:
			apply = append(apply, pending{lsn: s.LSN, rec: r.kept[s.LSN]})
			delete(r.kept, s.LSN)
		case replay.Hold:
			r.holds[s.Fetch] = append(r.holds[s.Fetch], s.LSN)
		default:
			delete(r.kept, s.LSN)
		}
	}
	dirty := r.dirty
	r.dirty = false
	r.stats.groups++
	r.stats.applied += uint64(len(apply))
	r.mu.Unlock()
	if err := r.apply(apply); err != nil {
		return err
	}
	r.publish(ctx, d.View, dirty)
	return nil
}

// publish makes view the read view; the caller holds the barrier exclusively. After a group
// that changed a watched tree, the catalog is reloaded and the hooks are told.
func (r *replica) publish(ctx context.Context, view page.LSN, catalog bool) {
	db := r.db
	if catalog {
		// Before the view is visible: a reader that starts at it must find the catalog, and
		// what the hooks invalidate, already changed.
		if err := db.loadCatalog(ctx); err != nil {
			// The trees map keeps its last state; the next catalog change reloads it again.
			r.lg.Error("replay: reload the catalog", "view", view, "err", err)
		}
		r.mu.Lock()
		r.stats.catalogs++
		hooks := append([]func(page.LSN){}, r.hooks...)
		r.mu.Unlock()
		for _, h := range hooks {
			h(view)
		}
	}
	db.ro.log.view.Store(uint64(view))
	db.advanceVisible(view)
}

// apply applies records to their cached pages: records of one page in log order, pages in
// parallel when the group is large. The caller holds the barrier exclusively, so the pages
// the replay counts as cached are exactly the pool's.
func (r *replica) apply(recs []pending) error {
	workers := runtime.GOMAXPROCS(0)
	if len(recs) < parallelApply || workers < 2 {
		for _, p := range recs {
			if err := r.applyOne(p); err != nil {
				return err
			}
		}
		return nil
	}
	parts := make([][]pending, workers)
	for _, p := range recs {
		w := int(uint64(p.rec.Page) * 0x9E3779B97F4A7C15 >> 32 % uint64(workers))
		parts[w] = append(parts[w], p)
	}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w, part := range parts {
		if len(part) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range part {
				if err := r.applyOne(p); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (r *replica) applyOne(p pending) error {
	pool := r.db.pool
	f := pool.GetCached(p.rec.Page, bufpool.Exclusive)
	if f == nil {
		return fmt.Errorf("engine: replay: record %d for page %d, which the replay counts as cached and the pool does not hold", p.lsn, p.rec.Page)
	}
	err := redo.Apply(&f.Page, p.lsn, p.rec)
	pool.Release(f, bufpool.Exclusive)
	if err != nil {
		return fmt.Errorf("engine: replay: %w", err)
	}
	return nil
}

// resync drops every cached page and follows the log again from at, a group end at or past
// the view: readers wait while it runs.
func (r *replica) resync(ctx context.Context, at page.LSN) error {
	db := r.db
	db.ro.barrier.Lock()
	defer db.ro.barrier.Unlock()
	r.mu.Lock()
	view := r.m.View()
	r.mu.Unlock()
	if at < view {
		return fmt.Errorf("engine: replay: re-sync at %d, behind the view %d", at, view)
	}
	// The pool first, without mu (it tells the replay of evictions under its own lock): it
	// fails, changing nothing, if a reader still pins a page.
	if err := db.pool.Reset(at); err != nil {
		return err
	}
	r.mu.Lock()
	if _, err := r.m.Resync(at); err != nil {
		r.mu.Unlock()
		return err
	}
	clear(r.kept)
	clear(r.holds)
	r.dirty = false
	r.stats.resyncs++
	r.mu.Unlock()
	r.behindSince.Store(0)
	if err := r.rewatch(ctx); err != nil {
		return err
	}
	r.publish(ctx, at, true)
	return nil
}

// cloneRecord copies a record out of the read buffer.
func cloneRecord(rec redo.Record) redo.Record {
	rec.Payload = append([]byte(nil), rec.Payload...)
	return rec
}
