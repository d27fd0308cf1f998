package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"strata/internal/bufpool"
	"strata/internal/page"
	"strata/internal/storage"
)

// ErrReadOnlyNode is returned for a change asked of a read-only engine (a read-only node).
var ErrReadOnlyNode = errors.New("engine: read-only node")

// ErrNotServing is wrapped by the error of a read on a read-only engine that refuses reads
// (Refuse), or of a read at a snapshot older than the one it serves from (Serve).
var ErrNotServing = errors.New("engine: read-only node not serving")

// ReadOnlyOptions configure OpenReadOnly.
type ReadOnlyOptions struct {
	// Pages is where every page is read, at the engine's view (the Page Stores).
	Pages storage.PageSource
	// View is the first read view: a group end of the log the Page Stores have reached or
	// will reach (GetPage waits for them).
	View page.LSN
	// Follow, when set, is the log the engine replays from View on: records of cached pages
	// are applied, other pages are read from Pages at the read view, and the view moves to
	// each group end (see package replay). Without it the view moves only by Resync.
	Follow ReplayLog
	// Times, when set, is the time index (Options.Times).
	Times      storage.TimeIndex
	PoolFrames int // buffer pool size in 16 KiB pages
	Logger     *slog.Logger
	// RemotePages is Options.RemotePages.
	RemotePages bool
}

// readOnly is what an engine opened by OpenReadOnly has beyond a read-write one.
type readOnly struct {
	log *viewLog
	// barrier is held shared by each tree read (one descent, or one batch of a scan) and
	// exclusively while the view moves, so that a reader never sees pages of two views at
	// once: a B+tree whose split, merge or root change is half applied.
	barrier sync.RWMutex
	rep     *replica // the replay, for an engine that follows the log
	// refuse, when set, is why every read fails (Refuse); floor is the oldest snapshot
	// reads are served at (Serve).
	refuse atomic.Pointer[error]
	floor  atomic.Uint64
}

// OpenReadOnly opens an engine that reads the database at a view of the log and never
// writes: a read-only compute node's. It copies nothing; pages are read from opts.Pages as
// they are needed. Transactions read at the view current when they start; Resync moves it.
// Every change (a write, a locking read, DDL) fails with ErrReadOnlyNode.
func OpenReadOnly(ctx context.Context, opts ReadOnlyOptions) (*DB, error) {
	if opts.View <= 0 {
		return nil, errors.New("engine: a read-only engine needs a view")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	vl := &viewLog{}
	vl.view.Store(uint64(opts.View))
	var rep *replica
	o := Options{Log: vl, Pages: opts.Pages, Times: opts.Times, PoolFrames: opts.PoolFrames, PurgeInterval: -1,
		Logger: opts.Logger, RemotePages: opts.RemotePages, readOnly: true}
	if opts.Follow != nil {
		// The replay must see every page the pool reads, the catalog's first.
		rep = newReplica(opts.Follow, opts.Pages, opts.View, opts.Logger)
		o.replica = rep
	}
	db, err := Open(ctx, o)
	if err != nil {
		return nil, err
	}
	db.ro = &readOnly{log: vl, rep: rep}
	if rep == nil {
		return db, nil
	}
	rep.db = db
	if err := rep.watchTree(ctx, db.catalog.Root); err != nil {
		db.Close()
		return nil, err
	}
	rep.dirty = false // nothing arrived yet
	if !db.Go(rep.follow) {
		return nil, ErrReadOnlyNode
	}
	return db, nil
}

// HandOver ends a read-only engine that follows the log, for a node promoted to writer: it
// waits until the view reaches end (the log's end after the new writer recovered it: the
// replay applies up to it, an abort of a group left unfinished included), then refuses every
// read, stops the replay and returns the buffer pool, whose cached pages are then the pages
// at end, for Open (Options.Pool) to keep. A read still running (a pinned page) makes it
// fail; the engine refuses reads either way. Close the engine after.
func (db *DB) HandOver(ctx context.Context, end page.LSN) (*bufpool.Pool, error) {
	if db.ro == nil || db.ro.rep == nil {
		return nil, errors.New("engine: only a read-only engine that follows the log hands over its pool")
	}
	if _, err := db.WaitVisible(ctx, end); err != nil {
		return nil, fmt.Errorf("engine: hand over at %d: the replay is at %d: %w", end, db.VisibleLSN(), err)
	}
	db.Refuse(errors.New("the node became the writer"))
	db.ro.barrier.Lock() // no read runs from here on
	db.ro.barrier.Unlock()
	if err := db.Close(); err != nil { // stops the replay
		return nil, err
	}
	if v := db.VisibleLSN(); v != end {
		return nil, fmt.Errorf("engine: hand over at %d: the replay went on to %d", end, v)
	}
	return db.pool, nil
}

// ReadOnly reports whether the engine was opened by OpenReadOnly.
func (db *DB) ReadOnly() bool { return db.ro != nil }

// Resync moves a read-only engine's view to view, a later group end, by dropping every
// cached page: pages are read again at the new view as they are needed, and the catalog is
// reloaded (trees created or dropped in between appear or go). Transactions that started at
// an older view keep reading it, through the row versions the pages keep (the read-write
// node's purge keeps what the oldest reported snapshot needs). Readers wait while it runs.
func (db *DB) Resync(ctx context.Context, view page.LSN) error {
	if db.ro == nil {
		return ErrReadOnlyNode
	}
	if db.ro.rep != nil {
		return errors.New("engine: the view of an engine that follows the log moves by itself")
	}
	db.ro.barrier.Lock()
	defer db.ro.barrier.Unlock()
	if cur := db.ro.log.view.Load(); uint64(view) < cur {
		return fmt.Errorf("engine: resync to %d, behind the view %d", view, cur)
	}
	if err := db.pool.Reset(view); err != nil {
		return err
	}
	db.ro.log.view.Store(uint64(view))
	db.advanceVisible(view)
	return db.loadCatalog(ctx)
}

// Refuse makes every read of a read-only engine fail, with an error wrapping ErrNotServing
// and why, until Serve: a read-only node whose horizon the writer may no longer honour (it
// could not publish it in time) must not answer from versions the writer's purge may have
// removed.
func (db *DB) Refuse(why error) {
	if db.ro == nil {
		return
	}
	err := fmt.Errorf("%w: %w", ErrNotServing, why)
	db.ro.refuse.Store(&err)
}

// Serve ends a refusal, and from now on refuses only reads at snapshots older than floor
// (the LSN from which the writer honours the node's horizon again): versions those need may
// be gone.
func (db *DB) Serve(floor page.LSN) {
	if db.ro == nil {
		return
	}
	for {
		cur := db.ro.floor.Load()
		if uint64(floor) <= cur || db.ro.floor.CompareAndSwap(cur, uint64(floor)) {
			break
		}
	}
	db.ro.refuse.Store(nil)
}

// readBarrier holds a read-only engine's view in place for one tree read at snapshot snap;
// it returns the release, or an error wrapping ErrNotServing if the engine refuses the read.
// A read-write engine has no barrier.
func (db *DB) readBarrier(snap page.LSN) (func(), error) {
	if db.ro == nil {
		return func() {}, nil
	}
	if p := db.ro.refuse.Load(); p != nil {
		return nil, *p
	}
	if f := page.LSN(db.ro.floor.Load()); snap < f {
		return nil, fmt.Errorf("%w: the snapshot at %d is older than %d, from which this node's oldest read view is kept again", ErrNotServing, snap, f)
	}
	db.ro.barrier.RLock()
	return db.ro.barrier.RUnlock, nil
}

// viewLog is the log as a read-only engine sees it: it ends at the view and takes no append.
type viewLog struct{ view atomic.Uint64 }

func (l *viewLog) Read(context.Context, page.LSN, int) ([]byte, error) { return nil, ErrReadOnlyNode }
func (l *viewLog) Durable() page.LSN                                   { return page.LSN(l.view.Load()) }
func (l *viewLog) End() page.LSN                                       { return page.LSN(l.view.Load()) }
func (l *viewLog) Append([]byte, bool) (page.LSN, page.LSN, error)     { return 0, 0, ErrReadOnlyNode }
func (l *viewLog) Truncate(page.LSN) error                             { return nil }
func (l *viewLog) Close() error                                        { return nil }

// WaitDurable returns at once for what the view covers: nothing beyond it is ever written.
func (l *viewLog) WaitDurable(_ context.Context, lsn page.LSN) error {
	if lsn <= l.End() {
		return nil
	}
	return fmt.Errorf("%w: position %d is beyond the view %d", ErrReadOnlyNode, lsn, l.End())
}
