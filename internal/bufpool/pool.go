// Package bufpool provides the compute node's buffer pool: a fixed number of 16 KiB frames
// holding cached pages, each with a read/write latch and a pin count, and clock eviction.
// Evicting a modified page writes nothing: the log already holds its changes, and a later miss
// reads the page back from the page source at the LSN of its last change. A page can be
// evicted only once that change is durable. With a second tier (a diskcache), evicted pages
// are also copied there, and a miss of a page evicted since the pool opened reads that copy
// first when it is of the version evicted.
package bufpool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"strata/internal/page"
	"strata/internal/retry"
	"strata/internal/storage"
)

// Mode is a latch mode.
type Mode uint8

// Latch modes.
const (
	Shared    Mode = 1
	Exclusive Mode = 2
)

// ErrNoFrame is returned when every frame stays pinned or not yet durable until ctx ends.
var ErrNoFrame = errors.New("bufpool: no evictable frame")

// Frame is one buffer pool slot.
type Frame struct {
	Page  page.Page
	latch sync.RWMutex
	pins  atomic.Int32
	ref   atomic.Bool
	id    atomic.Uint64 // the page held, changed under its shard lock; 0 when free
	err   error         // load error, set by the loader before it unlatches
	// private: the page was read for its readers only (Replica.Fetch said not to cache it);
	// it is out of the table and the frame is freed when the last of them releases it. Set by
	// the loader before it unlatches.
	private bool
	// LastInsert is a hint for the B+tree's split heuristic: the slot of the cell last
	// inserted into the page, or -1. It lives in memory only (a page read back from storage
	// starts without it) and is read and written under the exclusive latch.
	LastInsert int32
}

// ID returns the page the frame holds.
func (f *Frame) ID() page.ID { return page.ID(f.id.Load()) }

const shards = 64

type shard struct {
	mu   sync.RWMutex
	m    map[page.ID]*Frame
	hits atomic.Uint64 // Gets that found their page here: counted per shard, not contended
}

// Options configure a pool.
type Options struct {
	Frames  int                // number of 16 KiB frames
	Source  storage.PageSource // where misses are read from
	Durable func() page.LSN    // the log's durable LSN: a page changed at or above it stays
	// MaxTracked bounds the map of evicted pages' LSNs; beyond it a single floor LSN is used.
	MaxTracked int
	// Replica, when set, reads every miss instead of Source (a read-only node replaying the
	// log) and is told of every eviction.
	Replica Replica
	// SecondTier, when set, keeps copies of evicted pages (diskcache). It is not used with a
	// Replica, whose uncached pages change under it as the log is replayed.
	SecondTier SecondTier
}

// SecondTier is a cache behind the pool: each page the pool evicts is put there, and a miss
// of a page the pool evicted asks it for the version evicted (identified by the LSN of the
// page's last change) before the page source.
type SecondTier interface {
	// Get reads into dst the copy of page id last changed at lsn, checked, and reports
	// whether there was one.
	Get(id page.ID, lsn page.LSN, dst *page.Page) bool
	// Put keeps a copy of p, which it may modify (seal).
	Put(p *page.Page)
}

// Replica is a read-only node's replay as the pool sees it (engine's replica, over the
// replay state machine): it reads a missing page at the node's read view, brought up to it,
// and tracks which pages are cached, so that it applies the log to exactly those.
type Replica interface {
	// Fetch reads page id into dst at the read view. cache reports whether the page may stay
	// in the pool; when false it serves only the readers waiting for it now.
	Fetch(ctx context.Context, id page.ID, dst *page.Page) (cache bool, err error)
	// Evicted says that the pool dropped page id, which a Fetch had allowed it to cache. It
	// is called under the pool's eviction lock: it must not call back into the pool.
	Evicted(id page.ID)
}

// Pool is a buffer pool.
type Pool struct {
	opts   Options
	frames []Frame
	shards [shards]shard

	evictMu sync.Mutex
	hand    int
	free    []*Frame // frames never used or released by Discard
	evicted map[page.ID]page.LSN
	floor   page.LSN // LSN at or above the last change of any evicted page not in evicted

	misses, evictions, prefetched, tierHits atomic.Uint64
}

// New creates a pool. floor is the LSN at which pages not seen since the start are read: the
// durable end of the log found at open.
func New(opts Options, floor page.LSN) *Pool {
	if opts.Frames < 8 {
		opts.Frames = 8
	}
	if opts.MaxTracked == 0 {
		opts.MaxTracked = 1 << 20
	}
	if opts.Replica != nil {
		opts.SecondTier = nil
	}
	p := &Pool{opts: opts, frames: make([]Frame, opts.Frames), evicted: map[page.ID]page.LSN{}, floor: floor}
	for i := range p.shards {
		p.shards[i].m = map[page.ID]*Frame{}
	}
	p.free = make([]*Frame, 0, len(p.frames))
	for i := len(p.frames) - 1; i >= 0; i-- {
		p.free = append(p.free, &p.frames[i])
	}
	return p
}

// Size returns the number of frames.
func (p *Pool) Size() int { return len(p.frames) }

func (p *Pool) shard(id page.ID) *shard { return &p.shards[uint64(id)*0x9E3779B97F4A7C15>>58] }

// Get returns page id pinned and latched in mode, reading it from the page source on a miss.
func (p *Pool) Get(ctx context.Context, id page.ID, mode Mode) (*Frame, error) {
	if id == page.Invalid {
		return nil, fmt.Errorf("bufpool: get of invalid page")
	}
	for {
		s := p.shard(id)
		s.mu.RLock()
		f := s.m[id]
		if f != nil {
			f.pins.Add(1)
			s.hits.Add(1)
		}
		s.mu.RUnlock()
		if f == nil {
			var err error
			f, err = p.load(ctx, id)
			if err != nil {
				return nil, err
			}
			if f == nil {
				continue // raced with another loader; look again
			}
		}
		lock(f, mode)
		if f.err != nil {
			err := f.err
			unlock(f, mode)
			p.unpin(f)
			return nil, err
		}
		f.ref.Store(true)
		return f, nil
	}
}

// New returns a frame for a page that is being created: zeroed, pinned and exclusively
// latched. The caller initialises it with a redo record.
func (p *Pool) New(ctx context.Context, id page.ID) (*Frame, error) {
	f, err := p.victim(ctx)
	if err != nil {
		return nil, err
	}
	clear(f.Page[:])
	f.err, f.private = nil, false
	f.latch.Lock()
	s := p.shard(id)
	s.mu.Lock()
	if old := s.m[id]; old != nil {
		// A stale copy of a page being reused (freed, then allocated again) must not survive.
		if old.pins.Load() != 0 {
			s.mu.Unlock()
			f.latch.Unlock()
			p.release(f)
			return nil, fmt.Errorf("bufpool: new page %d is still in use", id)
		}
		delete(s.m, id)
		old.id.Store(0)
		p.release(old)
	}
	f.id.Store(uint64(id))
	f.LastInsert = -1
	f.pins.Store(1)
	s.m[id] = f
	s.mu.Unlock()
	f.ref.Store(true)
	return f, nil
}

// load reads a missing page into a victim frame. It returns nil, nil if another goroutine
// loaded the page first.
func (p *Pool) load(ctx context.Context, id page.ID) (*Frame, error) {
	f, err := p.victim(ctx)
	if err != nil {
		return nil, err
	}
	f.latch.Lock()
	s := p.shard(id)
	s.mu.Lock()
	if s.m[id] != nil {
		s.mu.Unlock()
		f.latch.Unlock()
		p.release(f)
		return nil, nil
	}
	f.id.Store(uint64(id))
	f.LastInsert = -1
	f.pins.Store(1)
	f.err, f.private = nil, false
	s.m[id] = f
	s.mu.Unlock()
	p.misses.Add(1)

	if p.opts.Replica != nil {
		return p.loadReplica(ctx, s, id, f)
	}
	lsn, evicted := p.readLSN(id)
	if evicted && p.opts.SecondTier != nil && p.opts.SecondTier.Get(id, lsn-1, &f.Page) {
		p.tierHits.Add(1)
		f.latch.Unlock()
		return f, nil
	}
	err = p.opts.Source.GetPage(ctx, id, lsn, &f.Page)
	if errors.Is(err, storage.ErrCompacted) && p.opts.Durable != nil {
		// The page has not changed since lsn (changes need it in the pool), so any newer
		// position gives the same page; the history below lsn was compacted away.
		if d := p.opts.Durable(); d > lsn {
			lsn = d
			err = p.opts.Source.GetPage(ctx, id, lsn, &f.Page)
		}
	}
	if err == nil {
		err = f.Page.Verify()
	}
	if err == nil && f.Page.ID() != id {
		err = fmt.Errorf("bufpool: page source returned page %d for %d", f.Page.ID(), id)
	}
	if err != nil {
		f.err = fmt.Errorf("bufpool: read page %d at lsn %d: %w", id, lsn, err)
		s.mu.Lock()
		if s.m[id] == f {
			delete(s.m, id)
		}
		s.mu.Unlock()
	}
	f.latch.Unlock()
	if err != nil {
		p.unpin(f) // the frame goes back to the free list when the last waiter leaves
		return nil, f.err
	}
	return f, nil
}

// loadReplica fills f, just entered in shard s for id and exclusively latched, through the
// replica. A page the replica does not let the pool keep leaves the table at once: the
// readers that found it there already use it, and no later one does.
func (p *Pool) loadReplica(ctx context.Context, s *shard, id page.ID, f *Frame) (*Frame, error) {
	cache, err := p.opts.Replica.Fetch(ctx, id, &f.Page)
	if err == nil {
		err = f.Page.Verify()
	}
	if err == nil && f.Page.ID() != id {
		err = fmt.Errorf("bufpool: replica returned page %d for %d", f.Page.ID(), id)
	}
	if err != nil {
		f.err = fmt.Errorf("bufpool: read page %d: %w", id, err)
	}
	if err != nil || !cache {
		f.private = err == nil
		s.mu.Lock()
		if s.m[id] == f {
			delete(s.m, id)
		}
		s.mu.Unlock()
	}
	f.latch.Unlock()
	if err != nil {
		p.unpin(f)
		return nil, f.err
	}
	return f, nil
}

// readLSN returns the position at which to read a page that is not cached, and whether the
// page was evicted since the pool opened (then the position is just after its last change).
func (p *Pool) readLSN(id page.ID) (page.LSN, bool) {
	p.evictMu.Lock()
	defer p.evictMu.Unlock()
	if l, ok := p.evicted[id]; ok {
		return l + 1, true
	}
	return p.floor, false
}

// victim finds a free frame, evicting a clean or durable unpinned page.
func (p *Pool) victim(ctx context.Context) (*Frame, error) {
	var timer *time.Timer
	var backoff *retry.Backoff
	for {
		if f, evicted := p.tryVictim(); f != nil {
			if evicted && p.opts.SecondTier != nil {
				// The frame is out of the table and unlatched, and only this goroutine has
				// it: its page can be copied without a latch.
				p.opts.SecondTier.Put(&f.Page)
			}
			return f, nil
		}
		if backoff == nil {
			backoff = retry.NewBackoff(time.Millisecond, 32*time.Millisecond)
		}
		wait := backoff.Next()
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %d frames all pinned or not durable: %w", ErrNoFrame, len(p.frames), ctx.Err())
		case <-timer.C:
		}
	}
}

// tryVictim returns a free frame, or one whose page it evicted (then evicted is true and the
// frame still holds the page), or nil.
func (p *Pool) tryVictim() (f *Frame, evicted bool) {
	p.evictMu.Lock()
	defer p.evictMu.Unlock()
	if n := len(p.free); n > 0 {
		f := p.free[n-1]
		p.free = p.free[:n-1]
		return f, false
	}
	durable := p.opts.Durable()
	for i := 0; i < 2*len(p.frames); i++ {
		f := &p.frames[p.hand]
		p.hand = (p.hand + 1) % len(p.frames)
		if f.pins.Load() != 0 {
			continue
		}
		if f.ref.Swap(false) {
			continue
		}
		id := f.ID()
		if id == page.Invalid {
			continue // being loaded or released
		}
		s := p.shard(id)
		s.mu.Lock()
		if f.pins.Load() != 0 || s.m[id] != f || !f.latch.TryLock() {
			s.mu.Unlock()
			continue
		}
		lsn := f.Page.LSN()
		if lsn >= durable && lsn != 0 {
			f.latch.Unlock()
			s.mu.Unlock()
			continue
		}
		delete(s.m, id)
		f.id.Store(0)
		s.mu.Unlock()
		f.latch.Unlock()
		p.trackEvicted(id, lsn)
		p.evictions.Add(1)
		if p.opts.Replica != nil {
			p.opts.Replica.Evicted(id)
		}
		return f, f.Page.ID() == id
	}
	return nil, false
}

func (p *Pool) trackEvicted(id page.ID, lsn page.LSN) {
	if len(p.evicted) >= p.opts.MaxTracked {
		for _, l := range p.evicted {
			if l+1 > p.floor {
				p.floor = l + 1
			}
		}
		clear(p.evicted)
	}
	// A page last changed below the floor reads the same at the floor, so it needs no entry,
	// unless the second tier is to find its copy, which it does by that LSN.
	if lsn+1 > p.floor || p.opts.SecondTier != nil {
		p.evicted[id] = lsn
	} else {
		delete(p.evicted, id)
	}
}

func (p *Pool) release(f *Frame) {
	p.evictMu.Lock()
	p.free = append(p.free, f)
	p.evictMu.Unlock()
}

func (p *Pool) unpin(f *Frame) {
	detached := f.err != nil || f.private // stable while we hold a pin
	if f.pins.Add(-1) == 0 && detached && f.ID() != page.Invalid {
		// A failed load or a private page: nobody else holds it and it is out of the table.
		f.id.Store(0)
		p.release(f)
	}
}

// Release unlatches and unpins a frame returned by Get or New.
func (p *Pool) Release(f *Frame, mode Mode) {
	unlock(f, mode)
	p.unpin(f)
}

// Downgrade is not provided: sync.RWMutex cannot downgrade atomically.

// Discard drops page id from the pool if it is cached and unpinned (used after a page is freed,
// so that the frame is reused first). It is best effort.
func (p *Pool) Discard(id page.ID) {
	s := p.shard(id)
	s.mu.Lock()
	f := s.m[id]
	if f == nil || f.pins.Load() != 0 {
		s.mu.Unlock()
		return
	}
	delete(s.m, id)
	f.id.Store(0)
	s.mu.Unlock()
	p.evictMu.Lock()
	// A freed page's last change is its free record; remember it in case it is read again.
	if l := f.Page.LSN(); l+1 > p.floor {
		p.evicted[id] = l
	}
	p.free = append(p.free, f)
	p.evictMu.Unlock()
}

// Reset empties the pool and makes floor the LSN every page is read at from now on: a
// read-only node moving its view without applying the log in between (a re-sync). It fails,
// changing nothing, while a frame is pinned: the caller must exclude readers.
func (p *Pool) Reset(floor page.LSN) error {
	p.evictMu.Lock()
	defer p.evictMu.Unlock()
	for i := range p.shards {
		p.shards[i].mu.Lock()
		defer p.shards[i].mu.Unlock()
	}
	for i := range p.frames {
		if n := p.frames[i].pins.Load(); n != 0 {
			return fmt.Errorf("bufpool: reset with page %d pinned %d times", p.frames[i].ID(), n)
		}
	}
	p.free = p.free[:0]
	for i := len(p.frames) - 1; i >= 0; i-- {
		p.frames[i].id.Store(0)
		p.frames[i].ref.Store(false)
		p.free = append(p.free, &p.frames[i])
	}
	for i := range p.shards {
		clear(p.shards[i].m)
	}
	clear(p.evicted)
	p.floor = floor
	return nil
}

// Adopt turns a read-only node's pool, whose cached pages are the pages at floor, into a
// read-write engine's, keeping them: misses are read from opts.Source at floor (or, for a
// page evicted from now on, after its last change) and evictions are no longer reported
// (opts.Replica must be nil; opts.Frames is ignored). It fails, changing nothing, while a
// frame is pinned: nothing else may use the pool meanwhile.
func (p *Pool) Adopt(opts Options, floor page.LSN) error {
	if opts.Replica != nil {
		return errors.New("bufpool: adopt for a replica")
	}
	p.evictMu.Lock()
	defer p.evictMu.Unlock()
	for i := range p.shards {
		p.shards[i].mu.Lock()
		defer p.shards[i].mu.Unlock()
	}
	for i := range p.frames {
		f := &p.frames[i]
		if n := f.pins.Load(); n != 0 {
			return fmt.Errorf("bufpool: adopt with page %d pinned %d times", f.ID(), n)
		}
		if id := f.ID(); id != page.Invalid && f.Page.LSN() > floor {
			return fmt.Errorf("bufpool: adopt at %d with page %d changed at %d", floor, id, f.Page.LSN())
		}
	}
	opts.Frames = len(p.frames)
	if opts.MaxTracked == 0 {
		opts.MaxTracked = 1 << 20
	}
	p.opts = opts
	clear(p.evicted)
	p.floor = floor
	return nil
}

// CachedPages counts the pages the pool holds.
func (p *Pool) CachedPages() int {
	n := 0
	for i := range p.shards {
		s := &p.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// GetCached returns page id pinned and latched in mode if it is in the pool, and nil if it is
// not: it never reads a page. A read-only node applies the log through it.
func (p *Pool) GetCached(id page.ID, mode Mode) *Frame {
	s := p.shard(id)
	s.mu.RLock()
	f := s.m[id]
	if f != nil {
		f.pins.Add(1)
	}
	s.mu.RUnlock()
	if f == nil {
		return nil
	}
	lock(f, mode)
	if f.err != nil || f.private { // its load failed, or it was never to be cached
		unlock(f, mode)
		p.unpin(f)
		return nil
	}
	return f
}

// Cached reports whether page id is in the pool (for tests).
func (p *Pool) Cached(id page.ID) bool {
	s := p.shard(id)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[id] != nil
}

// Stats are buffer pool counters.
type Stats struct {
	Frames int
	// Hits are Gets that found the page in the pool; Misses read it from the source.
	Hits, Misses, Evictions uint64
	// Prefetched counts the misses Prefetch read before any reader asked for the page.
	Prefetched uint64
	// SecondTierHits counts the misses read from the second tier (included in Misses).
	SecondTierHits uint64
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	var hits uint64
	for i := range p.shards {
		hits += p.shards[i].hits.Load()
	}
	return Stats{Frames: len(p.frames), Hits: hits, Misses: p.misses.Load(), Evictions: p.evictions.Load(), Prefetched: p.prefetched.Load(),
		SecondTierHits: p.tierHits.Load()}
}

func lock(f *Frame, m Mode) {
	if m == Exclusive {
		f.latch.Lock()
	} else {
		f.latch.RLock()
	}
}

func unlock(f *Frame, m Mode) {
	if m == Exclusive {
		f.latch.Unlock()
	} else {
		f.latch.RUnlock()
	}
}
