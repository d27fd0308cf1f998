// Package pagestore provides the Page Store core as a library: it consumes redo from a log,
// persists each page's records and materialised images in pebble, applies them in the
// background, and serves GetPage(page, lsn) for any LSN in its retention window.
//
// Every redo record that names a page is stored as a delta under (page, LSN); a background
// goroutine folds a page's deltas into a sealed image every Options.ImageEvery deltas, so that
// GetPage starts from the newest image below the asked LSN and applies the few deltas after
// it with redo.Apply, the same deterministic function the read-write node used. The consume
// position is written in the same synced batch as the records, so a restart continues exactly
// where the store stopped. Compaction by horizon folds history that no reader can ask for any
// more into one image per page.
package pagestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/placement"
	"strata/internal/privfs"
	"strata/internal/redo"
	"strata/internal/storage"
)

// Options configure a Store.
type Options struct {
	FS  vfs.FS // file system for pebble (vfs.Default when nil)
	Dir string // pebble directory

	Log storage.LogReader // the redo source

	// ImageEvery materialises a new page image after this many deltas (default 512).
	ImageEvery int

	Logger *slog.Logger // slog.Default() when nil

	// Start is where a new, empty store starts consuming (default redo.StartLSN). A store
	// that has persisted anything continues from its persisted position instead.
	Start page.LSN
	// StartCopied makes a new store start from a copy of every segment it keeps as of Start,
	// made by Source, instead of from no pages: a timeline made from a base in the archive
	// (docs/history.md). It consumes the log from Start meanwhile.
	StartCopied bool

	// CachePages bounds the in-memory cache of recently served page versions (default 1024;
	// negative disables it).
	CachePages int

	// BlockCacheBytes sizes pebble's block cache, which GetPage and the materialiser read
	// through (default 64 MiB; pebble's own default of 8 MiB holds a few percent of a
	// small database's images). It is what blocks get: Open makes the cache larger by what
	// pebble reserves in it for its memtables.
	BlockCacheBytes int64
	// memTableBytes is pebble's memtable size (memTableSize unless a test sets it).
	memTableBytes int64

	// CompactInterval is how often the background goroutine compacts up to the horizon when
	// the horizon has moved (default 30s; negative disables background compaction).
	CompactInterval time.Duration

	// FlushInterval and FlushBytes bound how long and how much consumed log may stay only in
	// pebble's memtables before a flush makes it durable and advances Persisted (defaults 5 s
	// and 16 MiB). Records are served by GetPage as soon as they are consumed.
	FlushInterval time.Duration
	FlushBytes    int64

	// SegmentPages cuts the page space into segments of this many pages (segment = page ID /
	// SegmentPages); the store then keeps only the pages of the Segments it owns: records for
	// other pages are skipped (the consume position still moves past them) and GetPage refuses
	// them with ErrNotOwned. Zero keeps every page.
	SegmentPages uint64
	Segments     []uint64
	// Ownership, when set, is what a new store keeps instead of SegmentPages and Segments. A
	// store that has data keeps what it kept; SetOwnership changes it.
	Ownership *placement.Ownership

	// Source copies segments from peer replicas: the segments SetOwnership adds, and every
	// segment of a new or wiped store when the log no longer holds its beginning. Without it
	// such a store cannot fill itself.
	Source SegmentSource

	// EventListener receives the store's events (GetPage calls); the zero value receives none.
	EventListener EventListener

	// Base, when set, makes the store a branch of another database, copy-on-write (as Neon's
	// timelines; see branch.go): the log it consumes starts at BaseLSN, where the branch was
	// made; below BaseLSN its pages are Base's, and from there on a page is its newest image
	// here or, if it has none, Base's page at BaseLSN, with its deltas here applied. Base must
	// keep its pages at BaseLSN as long as the branch lives. When Base is also a
	// storage.TimeIndex (a CommitIndex for CommitAtOrBefore), the times and positions before
	// the branch's first commit are Base's history up to BaseLSN: LSNAt and CommitAtOrBefore
	// ask Base for them (see history.go), so that a branch, a chain of branches included,
	// keeps the history of the database it was made from.
	Base    storage.PageSource
	BaseLSN page.LSN
}

// Defaults.
const (
	DefaultImageEvery      = 512
	DefaultCachePages      = 1024
	DefaultCompactInterval = 30 * time.Second
	DefaultBlockCacheBytes = 64 << 20

	// memTableSize is pebble's memtable size. Redo arrives as a steady stream of small
	// records: a large memtable flushes (and so compacts) less often.
	memTableSize = 32 << 20

	readSize    = 1 << 20          // bytes asked of the log per Read
	stopTimeout = 10 * time.Second // how long Stop and Close wait for the goroutines
)

// ErrCompacted is returned by GetPage for a position below the compaction floor: the versions
// needed to answer it may have been compacted away.
var ErrCompacted = storage.ErrCompacted

// ErrRunning is returned by TruncateAfter while the background goroutines run.
var ErrRunning = errors.New("pagestore: store is running")

// Store is a Page Store. It is safe for concurrent use.
//
// Lock order: ownMu, runMu, compactMu, dbmu, writeMu, mu; cache.mu is a leaf.
type Store struct {
	opts Options
	log  *slog.Logger
	own  atomic.Pointer[ownState] // what the store keeps and serves (see ownership.go)

	// ownMu serialises changes of the ownership.
	ownMu    sync.Mutex
	copyKick chan struct{} // buffered 1: a segment is incoming

	// dbmu guards db against Close: every use of db holds it for reading and checks closed.
	dbmu   sync.RWMutex
	db     *pebble.DB
	closed bool

	// writeMu serialises consuming batches with TruncateAfter.
	writeMu sync.Mutex
	// compactMu serialises compactions with each other and with TruncateAfter.
	compactMu sync.Mutex

	consumedTo atomic.Uint64 // every record below it is in pebble and readable by GetPage
	groupEnd   atomic.Uint64 // the position after the last group end consumed (see groupEndKey)
	discards   atomic.Uint64 // void groups discarded (under writeMu); images built before one are dropped
	synced     atomic.Uint64 // every record below it is synced to disk in pebble
	lastSync   atomic.Int64  // unix nanoseconds of the last synced batch
	floor      atomic.Uint64 // compaction floor (see floorKey)
	// retained are the retained positions in effect, retainWant those SetRetain names
	// (retain.go); both ascending.
	retained   atomic.Pointer[[]page.LSN]
	retainWant atomic.Pointer[[]page.LSN]
	horizon    atomic.Uint64 // set by SetHorizon
	lastTime   atomic.Int64  // the newest commit time indexed (history.go); written under writeMu
	// branchTimes: a branch store whose time index starts with its first commit after the
	// branch point (branchTimesKey), so that LSNAt and CommitAtOrBefore ask Base for what is
	// before it (history.go).
	branchTimes atomic.Bool

	mu       sync.Mutex
	advanced chan struct{}         // closed and replaced whenever persisted moves
	pages    map[page.ID]pageState // per-page tracking of the deltas at or above stateBase
	hot      map[page.ID]struct{}  // pages waiting for an image
	// compactedTo is the horizon of the last compaction: a page whose newest delta
	// (pages[id].last) is below it has nothing more to compact below it. A pass visits only
	// the other pages, unless fullGen asks for a pass over every page (after Open, a rebuild
	// or an ownership change, which write or keep versions that consuming did not track).
	compactedTo page.LSN
	fullGen     uint64                            // raised whenever a full pass is needed
	fullDone    uint64                            // the fullGen the last full pass started at
	stateBase   page.LSN                          // the position pages started tracking at (Open)
	consumed    error                             // why consuming stopped, if it did
	progress    map[uint64]placement.CopyProgress // copies from peers under way (Copied, Total)

	closedCh chan struct{} // closed by Close
	wake     chan struct{} // wakes the materialiser (buffered 1)

	runMu   sync.Mutex // guards running, cancel, done
	running bool
	cancel  context.CancelFunc
	done    chan struct{} // closed when the goroutines of the last Start have exited

	cache pageCache
	stats struct{ records, images, getPages, compacted, compactVisits, times atomic.Uint64 }

	popts       *pebble.Options // to reopen pebble after a rebuild
	damage      error           // under mu: why the store refuses reads (wraps ErrDamaged), nil when sound
	rebuilds    atomic.Uint64   // rebuilds completed since Open
	rebuildKick chan struct{}   // buffered 1: damage was noted

	health  diskHealth  // pebble's background writes (diskerr.go)
	closing atomic.Bool // Close has begun
}

// pageState is what the store tracks in memory about a page's deltas.
type pageState struct {
	pending int      // deltas since the page's last image (lazily rebuilt after a restart)
	last    page.LSN // newest delta consumed
}

var _ storage.PageSource = (*Store)(nil)

// Open opens (or creates) the store in opts.Dir. A reopened store continues consuming from its
// persisted position; call Start to begin.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Log == nil {
		return nil, errors.New("pagestore: Options.Log is required")
	}
	if opts.Dir == "" {
		return nil, errors.New("pagestore: Options.Dir is required")
	}
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	opts.FS = privfs.Wrap(opts.FS) // pages hold every row: owner only
	if opts.ImageEvery <= 0 {
		opts.ImageEvery = DefaultImageEvery
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Base != nil {
		if opts.BaseLSN < redo.StartLSN || (opts.Start != 0 && opts.Start != opts.BaseLSN) {
			return nil, fmt.Errorf("pagestore: a branch starts at its base position (base %d, start %d)", opts.BaseLSN, opts.Start)
		}
		opts.Start = opts.BaseLSN
	}
	if opts.Start == 0 {
		opts.Start = redo.StartLSN
	}
	if opts.StartCopied && (opts.Source == nil || opts.Base != nil) {
		return nil, errors.New("pagestore: a store that starts from a copy needs a Source and no Base")
	}
	if opts.CachePages == 0 {
		opts.CachePages = DefaultCachePages
	}
	if opts.BlockCacheBytes <= 0 {
		opts.BlockCacheBytes = DefaultBlockCacheBytes
	}
	if opts.memTableBytes <= 0 {
		opts.memTableBytes = memTableSize
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 5 * time.Second
	}
	if opts.FlushBytes <= 0 {
		opts.FlushBytes = 16 << 20
	}
	if opts.CompactInterval == 0 {
		opts.CompactInterval = DefaultCompactInterval
	}
	initial, err := ownershipOf(opts.SegmentPages, opts.Segments)
	if err != nil {
		return nil, err
	}
	if opts.Ownership != nil {
		initial = opts.Ownership.Normal()
	}
	log := opts.Logger.With("component", "pagestore", "dir", opts.Dir)
	s := &Store{
		opts:        opts,
		log:         log,
		copyKick:    make(chan struct{}, 1),
		progress:    make(map[uint64]placement.CopyProgress),
		advanced:    make(chan struct{}),
		pages:       make(map[page.ID]pageState),
		hot:         make(map[page.ID]struct{}),
		fullGen:     1,
		closedCh:    make(chan struct{}),
		wake:        make(chan struct{}, 1),
		rebuildKick: make(chan struct{}, 1),
	}
	popts := &pebble.Options{FS: opts.FS, Logger: pebbleLogger{log},
		// A block failing its checksum (a damaged file): refuse reads and rebuild. Without
		// this listener pebble calls Logger.Fatalf.
		EventListener: &pebble.EventListener{DataCorruption: func(info pebble.DataCorruptionInfo) {
			s.noteCorruption(info.Path, info.Details)
		}},
		// The redo log is this store's write-ahead log: what pebble loses in a crash (its
		// memtables) is consumed again from the log, which keeps everything above Persisted.
		// So pebble writes no WAL of its own, and Persisted advances when memtables are
		// flushed.
		DisableWAL:   true,
		MemTableSize: uint64(opts.memTableBytes),
		// The store keeps a reference until Close, so that a rebuild reopens with it. Pebble
		// reserves each memtable's size in the block cache, the one being filled and a spare
		// it keeps for reuse: a cache of only BlockCacheBytes would, once the memtables have
		// grown to full size, have no room left for a single block
		// (TestBlockCacheBesideMemtables).
		Cache: pebble.NewCache(opts.BlockCacheBytes + 2*opts.memTableBytes)}
	s.listenDisk(popts.EventListener)
	// The fastest compression keeps compaction CPU low on a node that also runs the engine.
	popts.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionFastest })
	s.popts = popts
	// A rebuild interrupted by a crash leaves the damaged store under its old name: remove it.
	if err := opts.FS.RemoveAll(opts.Dir + rebuildSuffix); err != nil {
		popts.Cache.Unref()
		return nil, fmt.Errorf("pagestore: remove %s: %w", opts.Dir+rebuildSuffix, err)
	}
	db, err := pebble.Open(opts.Dir, popts)
	if err != nil {
		popts.Cache.Unref()
		return nil, fmt.Errorf("pagestore: open %s: %w", opts.Dir, err)
	}
	if err := privfs.Tighten(opts.FS, opts.Dir); err != nil {
		_ = db.Close()
		popts.Cache.Unref()
		return nil, fmt.Errorf("pagestore: %w", err)
	}
	s.db = db
	s.cache.init(opts.CachePages)
	pos, err := s.openState(ctx, initial)
	if err != nil {
		_ = db.Close()
		popts.Cache.Unref()
		return nil, err
	}
	ge, err := s.readPosition(groupEndKey, pos)
	if err != nil {
		_ = db.Close()
		popts.Cache.Unref()
		return nil, err
	}
	s.groupEnd.Store(uint64(ge))
	if err := s.loadLastTime(); err != nil {
		_ = db.Close()
		popts.Cache.Unref()
		return nil, err
	}
	if err := s.loadBranchTimes(); err != nil {
		_ = db.Close()
		popts.Cache.Unref()
		return nil, err
	}
	s.consumedTo.Store(uint64(pos))
	s.synced.Store(uint64(pos))
	s.stateBase = pos
	go s.rebuildLoop()
	go s.copyLoop()
	st := s.own.Load()
	if len(st.Incoming) > 0 || st.RestIncoming != 0 {
		s.kickCopy()
	}
	log.Info("pagestore: opened", "persisted", pos, "floor", s.floor.Load(), "keeps", st.Ownership.String(),
		"copying", len(st.Incoming), "copying_rest", st.RestIncoming != 0)
	return s, nil
}

// openState reads the persisted position, floor and ownership; a new store starts with
// initial (see startEmpty).
func (s *Store) openState(ctx context.Context, initial placement.Ownership) (page.LSN, error) {
	floor, err := s.readPosition(floorKey, 0)
	if err != nil {
		return 0, err
	}
	s.floor.Store(uint64(floor))
	if err := s.loadRetained(); err != nil {
		return 0, err
	}
	v, closer, err := s.db.Get(ownKey)
	switch {
	case err == nil:
		st, derr := decodeOwnState(v)
		closer.Close()
		if derr != nil {
			return 0, derr
		}
		s.own.Store(st)
	case errors.Is(err, pebble.ErrNotFound):
		if ok, err := s.has(persistedKey); err != nil || !ok {
			if err != nil {
				return 0, err
			}
			return s.startEmpty(ctx, initial) // a new store
		}
		// A store from before ownership was persisted: it kept what the options say.
		s.own.Store(&ownState{Ownership: initial})
	default:
		return 0, fmt.Errorf("pagestore: read the ownership: %w", err)
	}
	return s.readPosition(persistedKey, s.opts.Start)
}

func (s *Store) has(key []byte) (bool, error) {
	_, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("pagestore: read %q: %w", key, err)
	}
	closer.Close()
	return true, nil
}

// durableLog is a log that knows how far it may be read.
type durableLog interface{ Durable() page.LSN }

// groupEndLog is a log that knows the end of the last complete group it may be read to (0:
// not known now).
type groupEndLog interface{ GroupEnd() page.LSN }

// startEmpty sets up an empty store that is to keep want, and returns where it starts
// consuming. When the log still holds everything from Options.Start, the store consumes it all
// from there. Otherwise (the log was truncated) it starts at the log's readable end and copies
// every segment it keeps from peers as of the first group end it reaches (Options.Source).
func (s *Store) startEmpty(ctx context.Context, want placement.Ownership) (page.LSN, error) {
	st := &ownState{Ownership: want}
	pos := s.opts.Start
	groupEnd := pos
	if s.opts.StartCopied {
		st = st.clone()
		for _, seg := range want.Listed() {
			st.Incoming[seg] = pos
		}
		if want.Rest {
			st.RestIncoming = pos
		}
		s.log.Info("pagestore: a new store copies its segments as of its start", "start", pos)
	} else if dl, ok := s.opts.Log.(durableLog); ok && s.opts.Source != nil && dl.Durable() > pos {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := s.opts.Log.Read(rctx, pos, 1)
		cancel()
		if err != nil {
			pos = dl.Durable()
			known := false
			if gl, ok := s.opts.Log.(groupEndLog); ok {
				if ge := gl.GroupEnd(); ge != 0 {
					pos, known = ge, true
				}
			}
			st = st.clone()
			for _, seg := range want.Listed() {
				st.Incoming[seg] = pos
			}
			if want.Rest {
				st.RestIncoming = pos
			}
			groupEnd = pos
			if !known {
				// pos may be inside a group: the copies start at the first group end consumed.
				st.Rebase, groupEnd = true, 0
			}
			s.log.Warn("pagestore: the log no longer holds its beginning; copying the segments from peers",
				"from", pos, "log_err", err)
		}
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := putOwnState(b, st); err != nil {
		return 0, err
	}
	if err := b.Set(persistedKey, encodeLSN(pos), nil); err != nil {
		return 0, err
	}
	if err := b.Set(groupEndKey, encodeLSN(groupEnd), nil); err != nil {
		return 0, err
	}
	// A branch store that consumes its log from the branch point indexes every commit of the
	// branch (history.go); one that starts further on (copied from peers) does not.
	branchTimes := s.opts.Base != nil && pos == s.opts.BaseLSN
	if branchTimes {
		if err := b.Set(branchTimesKey, encodeLSN(s.opts.BaseLSN), nil); err != nil {
			return 0, err
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return 0, fmt.Errorf("pagestore: initialise: %w", err)
	}
	if err := s.db.Flush(); err != nil {
		return 0, fmt.Errorf("pagestore: initialise: %w", err)
	}
	s.own.Store(st)
	s.groupEnd.Store(uint64(groupEnd))
	s.branchTimes.Store(branchTimes)
	return pos, nil
}

func (s *Store) readPosition(key []byte, def page.LSN) (page.LSN, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return def, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pagestore: read %q: %w", key, err)
	}
	defer closer.Close()
	lsn, err := decodeLSN(v)
	if err != nil {
		return 0, fmt.Errorf("pagestore: read %q: %w", key, err)
	}
	return lsn, nil
}

// Start starts the background goroutines: one consumes the log, one materialises images and
// one compacts by horizon. Start after Stop resumes from the persisted position; Start on a
// running or closed store does nothing.
func (s *Store) Start() {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.running || s.isClosed() {
		return
	}
	s.startLocked()
}

// startLocked is Start with runMu held.
func (s *Store) startLocked() {
	ctx, cancel := context.WithCancel(context.Background())
	s.running, s.cancel, s.done = true, cancel, make(chan struct{})
	s.mu.Lock()
	s.consumed = nil
	s.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { s.consume(ctx) })
	wg.Go(func() { s.materialiseLoop(ctx) })
	wg.Go(func() { s.compactLoop(ctx) })
	wg.Go(func() { s.syncLoop(ctx) })
	done := s.done
	go func() { wg.Wait(); close(done) }()
}

// Stop stops the background goroutines, waiting for them a bounded time. The store keeps
// serving GetPage for what it has persisted; Start resumes.
func (s *Store) Stop() {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	s.stopLocked()
}

func (s *Store) stopLocked() {
	if !s.running {
		return
	}
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		s.log.Warn("pagestore: background goroutines did not stop in time", "waited", stopTimeout)
	}
	s.running = false
}

// Close stops the goroutines and closes pebble. GetPage calls waiting on the log return
// storage.ErrClosed.
func (s *Store) Close() error {
	s.closing.Store(true)
	s.runMu.Lock()
	s.stopLocked()
	s.runMu.Unlock()
	if err := s.flushAll(); err != nil && !errors.Is(err, storage.ErrClosed) {
		s.log.Error("pagestore: final sync", "err", err)
	}
	s.dbmu.Lock()
	defer s.dbmu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.closedCh)
	defer s.popts.Cache.Unref()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("pagestore: close: %w", err)
	}
	return nil
}

func (s *Store) isClosed() bool {
	s.dbmu.RLock()
	defer s.dbmu.RUnlock()
	return s.closed
}

// Persisted returns the position below which every record is persisted (synced) in pebble:
// the log below it may be discarded.
func (s *Store) Persisted() page.LSN { return page.LSN(s.synced.Load()) }

// Consumed returns the position below which every record is in the store and served by
// GetPage; Persisted follows it within Options.FlushInterval and FlushBytes.
func (s *Store) Consumed() page.LSN { return page.LSN(s.consumedTo.Load()) }

// syncNow flushes pebble's memtables, making every consumed record durable, and advances
// Persisted.
func (s *Store) syncNow() error {
	s.dbmu.RLock()
	defer s.dbmu.RUnlock()
	if s.closed {
		return storage.ErrClosed
	}
	c := s.Consumed()
	if c <= s.Persisted() {
		return nil
	}
	if err := s.flushWait(); err != nil {
		return fmt.Errorf("pagestore: flush: %w", err)
	}
	s.lastSync.Store(time.Now().UnixNano())
	advanceTo(&s.synced, uint64(c))
	return nil
}

// flushAll flushes pebble's memtables whatever they hold (the ownership, images, and the
// consumed records: pebble writes no WAL here) and advances Persisted.
func (s *Store) flushAll() error {
	s.dbmu.RLock()
	defer s.dbmu.RUnlock()
	if s.closed {
		return storage.ErrClosed
	}
	c := s.Consumed()
	if err := s.flushWait(); err != nil {
		return fmt.Errorf("pagestore: flush: %w", err)
	}
	s.lastSync.Store(time.Now().UnixNano())
	advanceTo(&s.synced, uint64(c))
	return nil
}

// advanceTo raises v to x unless it is already higher.
func advanceTo(v *atomic.Uint64, x uint64) {
	for {
		cur := v.Load()
		if x <= cur || v.CompareAndSwap(cur, x) {
			return
		}
	}
}

// syncLoop flushes when FlushBytes of log have been consumed since the last flush, or
// FlushInterval has passed with something consumed.
func (s *Store) syncLoop(ctx context.Context) {
	tick := min(s.opts.FlushInterval, 100*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		behind := int64(s.Consumed() - s.Persisted())
		if behind == 0 || behind < s.opts.FlushBytes && time.Since(time.Unix(0, s.lastSync.Load())) < s.opts.FlushInterval {
			continue
		}
		if err := s.syncNow(); err != nil && !errors.Is(err, storage.ErrClosed) {
			s.log.Error("pagestore: sync", "err", err)
		}
	}
}

// Floor returns the compaction floor: GetPage below it returns ErrCompacted.
func (s *Store) Floor() page.LSN { return page.LSN(s.floor.Load()) }

// SetHorizon says that GetPage will not be asked for positions below lsn any more, so that
// the versions needed only there may be compacted away.
func (s *Store) SetHorizon(lsn page.LSN) { s.horizon.Store(uint64(lsn)) }

// Stats are counters of the store since it was opened.
type Stats struct {
	Records   uint64   // deltas persisted
	Images    uint64   // images materialised (in the background or by compaction)
	GetPages  uint64   // GetPage calls
	Compacted uint64   // versions (deltas and images) removed by compaction
	Persisted page.LSN // as Persisted()
	// Times is the number of commit times indexed, and NewestTime the newest of them (µs since
	// the Unix epoch; it survives a restart, 0 when the index is empty). See LSNAt.
	Times      uint64
	NewestTime int64
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Records:   s.stats.records.Load(),
		Images:    s.stats.images.Load(),
		GetPages:  s.stats.getPages.Load(),
		Compacted: s.stats.compacted.Load(),
		Persisted: s.Consumed(),

		Times:      s.stats.times.Load(),
		NewestTime: s.lastTime.Load(),
	}
}

// TruncateAfter drops every record and image at or above lsn, and the time index entries of
// the commits ending above it, and sets the consume position to lsn: log recovery cut a
// partial group that the store had already consumed. It is valid only before Start or after
// Stop. A store that has not reached lsn is left as it is (it will consume the log from its
// own, lower position).
func (s *Store) TruncateAfter(lsn page.LSN) error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.running {
		return fmt.Errorf("pagestore: TruncateAfter(%d): %w", lsn, ErrRunning)
	}
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	s.dbmu.RLock()
	defer s.dbmu.RUnlock()
	if s.closed {
		return storage.ErrClosed
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if lsn >= s.Consumed() {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, kind := range []byte{kindDelta, kindImage} {
		if err := s.truncateKind(b, kind, lsn); err != nil {
			return err
		}
	}
	if err := s.truncateTimes(b, lsn); err != nil {
		return err
	}
	if err := b.Set(persistedKey, encodeLSN(lsn), nil); err != nil {
		return err
	}
	if err := b.Set(groupEndKey, encodeLSN(lsn), nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("pagestore: TruncateAfter(%d): %w", lsn, err)
	}
	if err := s.db.Flush(); err != nil {
		return fmt.Errorf("pagestore: TruncateAfter(%d): %w", lsn, err)
	}
	if err := s.loadLastTime(); err != nil {
		return fmt.Errorf("pagestore: TruncateAfter(%d): %w", lsn, err)
	}
	s.cache.reset()
	s.mu.Lock()
	old := s.Consumed()
	s.consumedTo.Store(uint64(lsn))
	s.groupEnd.Store(uint64(lsn))
	s.synced.Store(uint64(lsn))
	clear(s.hot)
	for id, st := range s.pages {
		st.pending = 0
		s.pages[id] = st
	}
	s.mu.Unlock()
	s.log.Warn("pagestore: truncated", "from", lsn, "was", old)
	return nil
}

// truncateKind adds to b the deletion of every version of kind at or above lsn.
func (s *Store) truncateKind(b *pebble.Batch, kind byte, lsn page.LSN) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kind}, UpperBound: []byte{kind + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.First(); valid; {
		_, id, _, err := parseVersionKey(it.Key())
		if err != nil {
			return err
		}
		from := versionKey(kind, id, lsn)
		upper := pageUpper(kind, id)
		if it.SeekGE(from) && string(it.Key()) < string(upper) {
			if err := b.DeleteRange(from, upper, nil); err != nil {
				return err
			}
		}
		valid = it.SeekGE(upper)
	}
	return it.Error()
}

// pebbleLogger sends pebble's messages to slog.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := "pebble: " + fmt.Sprintf(format, args...)
	l.log.Error(msg)
	panic(msg) // pebble's invariant failed; it expects Fatalf not to return
}
