// Package engine provides Strata's storage engine as the compute node runs it: named B+trees
// in a catalog, multi-version rows read at a snapshot LSN, transactions with a private write
// set and savepoints that commit as one atomic redo group, row locks, group commit and purge.
//
// Uncommitted changes never reach a page: a transaction's writes stay in its write set until
// commit, when they are applied to the trees under the writer lock together with a commit
// record, as one mini-transaction group. So a node that replays the log never sees an
// uncommitted row, and reopening after a crash needs no redo replay: the engine finds the
// durable end of the log and reads pages at that LSN from the page source.
package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"strata/internal/btree"
	"strata/internal/bufpool"
	"strata/internal/lock"
	"strata/internal/mtr"
	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/storage"
)

// Options configure an engine.
type Options struct {
	Log   storage.Log        // the redo log, recovered to a group end
	Pages storage.PageSource // where pages are read at an LSN
	// Times, when set, maps commit times to log positions (the Page Stores' time index):
	// LSNAt, and AS OF a time above the engine.
	Times storage.TimeIndex
	// PoolFrames is the buffer pool size in 16 KiB pages (default 4096, 64 MiB).
	PoolFrames int
	// LockWaitTimeout is the default row lock wait (default 50 s).
	LockWaitTimeout time.Duration
	// PurgeInterval is how often the background purge runs (default 1 s; negative: never).
	PurgeInterval time.Duration
	Logger        *slog.Logger
	// EventListener receives the engine's events (commits); the zero value receives none.
	EventListener EventListener

	// RemotePages says that a page read from Pages is a round trip to another process (the
	// Page Stores through the network): lookups then read their pages ahead in parallel
	// (Txn.Prefetch), which an in-process page source does not repay.
	RemotePages bool

	// SecondTier, when set, keeps the pages the buffer pool evicts and gives them back on a
	// miss (a diskcache on the node's local disk). Its entries must be of this engine's
	// timeline: it is not shared between engines.
	SecondTier bufpool.SecondTier

	// Pool, when set, is the buffer pool to use instead of a new one: a read-only engine's,
	// handed over at the log's end (DB.HandOver), so that a promoted node keeps its cache.
	Pool *bufpool.Pool

	readOnly bool            // set by OpenReadOnly: never bootstrap
	replica  bufpool.Replica // set by OpenReadOnly for an engine that follows the log
}

// DefaultPoolFrames is the buffer pool size when Options.PoolFrames is 0 (64 MiB).
const DefaultPoolFrames = 4096

// ErrFailed is returned once a mini-transaction failed after changing pages: the in-memory
// pages no longer match the log, so the engine stops writing until it is reopened.
var ErrFailed = errors.New("engine: failed; reopen to recover")

// ErrNoTree is returned for a tree name that is not in the catalog.
var ErrNoTree = errors.New("engine: no such tree")

// ErrTreeExists is returned when creating a tree whose name is taken.
var ErrTreeExists = errors.New("engine: tree already exists")

// DB is an open engine.
type DB struct {
	opts  Options
	log   storage.Log
	pool  *bufpool.Pool
	locks *lock.Manager
	lg    *slog.Logger

	writeMu sync.Mutex // the writer lock: one mini-transaction at a time
	// lastCommit is the commit time last written to the log (µs since the Unix epoch),
	// under writeMu: commit times only grow, so that a time names one position of the log.
	lastCommit int64
	failed     atomic.Pointer[error]

	visible atomic.Uint64 // snapshot for new readers: the end of the last durable group
	// written is the end of the last group written; a commit's row locks are released
	// from then on, before the group is durable (see Txn.Commit).
	written atomic.Uint64
	visMu   sync.Mutex                    // orders visible advances
	visWake atomic.Pointer[chan struct{}] // closed when visible advances, if a reader waits (WaitVisible)

	catalog *btree.Tree
	treesMu sync.RWMutex
	trees   map[string]page.ID
	roots   map[page.ID]bool

	txnSeq atomic.Uint64

	snapMu  sync.Mutex
	snaps   map[page.LSN]int    // snapshots in use on this node
	remote  map[string]page.LSN // oldest snapshots reported by other nodes
	purged  atomic.Uint64       // the horizon purge has used: older snapshots are refused
	writes  atomic.Uint64       // rows committed, to tell the purge loop there is work
	purgeMu sync.Mutex
	purgeQ  []purgeItem // keys to prune once the horizon passes their commit, in commit order
	stopBg  chan struct{}
	bgDone  sync.WaitGroup
	bgMu    sync.Mutex // orders Go's bgDone.Add before Close's Wait
	closed  bool       // under bgMu
	closeMu sync.Once

	stats struct{ commits, commitErrors, rollbacks atomic.Uint64 }
	ro    *readOnly // nil for a read-write engine
	hist  history   // past views open on this engine (OpenPast)
	unpin func()    // for a past view: releases its pin on the engine it reads the past of
}

// Open opens the engine on a log and page source. An empty log is bootstrapped.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if opts.PoolFrames == 0 {
		opts.PoolFrames = DefaultPoolFrames
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.PurgeInterval == 0 {
		opts.PurgeInterval = time.Second
	}
	end := opts.Log.End()
	if d := opts.Log.Durable(); d != end {
		return nil, fmt.Errorf("engine: log end %d is not durable (durable %d)", end, d)
	}
	db := &DB{
		opts:   opts,
		log:    opts.Log,
		locks:  lock.NewManager(lock.Options{WaitTimeout: opts.LockWaitTimeout}),
		lg:     opts.Logger,
		trees:  map[string]page.ID{},
		snaps:  map[page.LSN]int{},
		remote: map[string]page.LSN{},
		stopBg: make(chan struct{}),
	}
	po := bufpool.Options{Frames: opts.PoolFrames, Source: opts.Pages, Durable: opts.Log.Durable, Replica: opts.replica,
		SecondTier: opts.SecondTier}
	if opts.Pool != nil {
		if opts.replica != nil || end == redo.StartLSN {
			return nil, errors.New("engine: a handed-over pool is for a read-write engine on a written log")
		}
		if err := opts.Pool.Adopt(po, end); err != nil {
			return nil, err
		}
		db.pool = opts.Pool
	} else {
		db.pool = bufpool.New(po, end)
	}
	db.visible.Store(uint64(end))
	db.txnSeq.Store(uint64(end))
	if end == redo.StartLSN {
		if opts.readOnly {
			return nil, errors.New("engine: the database is empty: a read-only engine has nothing to read")
		}
		if err := db.bootstrap(ctx); err != nil {
			return nil, err
		}
	} else if err := db.loadCatalog(ctx); err != nil {
		return nil, err
	}
	if opts.PurgeInterval > 0 {
		db.bgDone.Add(1)
		go db.purgeLoop()
	}
	return db, nil
}

func (db *DB) bootstrap(ctx context.Context) error {
	end, err := db.write(ctx, func(m *mtr.Mtr) error {
		if err := m.Bootstrap(); err != nil {
			return err
		}
		root, err := btree.Create(m)
		if err != nil {
			return err
		}
		mf, err := m.Get(page.MetaID, bufpool.Exclusive)
		if err != nil {
			return err
		}
		defer m.Release(mf, bufpool.Exclusive)
		meta := mf.Page.Meta()
		meta.CatalogRoot = root
		return m.Apply(mf, m.Group().Meta(meta))
	})
	if err != nil {
		return fmt.Errorf("engine: bootstrap: %w", err)
	}
	if err := db.log.WaitDurable(ctx, end); err != nil {
		return err
	}
	db.advanceVisible(end)
	return db.loadCatalog(ctx)
}

func (db *DB) loadCatalog(ctx context.Context) error {
	mf, err := db.pool.Get(ctx, page.MetaID, bufpool.Shared)
	if err != nil {
		return fmt.Errorf("engine: read meta page: %w", err)
	}
	meta := mf.Page.Meta()
	db.pool.Release(mf, bufpool.Shared)
	if meta.Magic != page.MetaMagic || meta.CatalogRoot == page.Invalid {
		return fmt.Errorf("engine: meta page is not a Strata meta page (magic %#x)", meta.Magic)
	}
	db.catalog = btree.New(db.pool, meta.CatalogRoot, nil)
	trees := map[string]page.ID{}
	err = db.catalog.Scan(ctx, nil, func(k []byte, v btree.Value) (bool, error) {
		b, ok := v.Inline()
		if !ok || len(b) != 8 {
			return false, fmt.Errorf("engine: catalog entry %q is corrupt", k)
		}
		trees[string(k)] = page.ID(binary.LittleEndian.Uint64(b))
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("engine: load catalog: %w", err)
	}
	db.treesMu.Lock()
	db.trees = trees
	db.roots = map[page.ID]bool{}
	for _, r := range trees {
		db.roots[r] = true
	}
	db.treesMu.Unlock()
	return nil
}

// commitTime returns the time of a commit being written, in µs since the Unix epoch: the
// wall clock, or just after the previous commit's should the clock have gone back. writeMu
// must be held.
func (db *DB) commitTime() int64 {
	at := time.Now().UnixMicro()
	if at <= db.lastCommit {
		at = db.lastCommit + 1
	}
	db.lastCommit = at
	return at
}

// write runs fn as one mini-transaction under the writer lock and appends its group; it
// returns the LSN after the group. A failure after pages changed fails the engine.
func (db *DB) write(ctx context.Context, fn func(m *mtr.Mtr) error) (page.LSN, error) {
	if db.ro != nil {
		return 0, ErrReadOnlyNode
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	if err := db.failure(); err != nil {
		return 0, err
	}
	// A commit must not stop half way because a client went away.
	m := mtr.Begin(context.WithoutCancel(ctx), db.pool, db.log)
	err := fn(m)
	var end page.LSN
	if err == nil {
		end, err = m.Finish()
	}
	if err != nil {
		if !m.Empty() {
			db.fail(err)
		}
		return 0, err
	}
	if uint64(end) > db.written.Load() {
		db.written.Store(uint64(end)) // under writeMu
	}
	return end, nil
}

func (db *DB) fail(err error) {
	wrapped := fmt.Errorf("%w: %w", ErrFailed, err)
	if db.failed.CompareAndSwap(nil, &wrapped) {
		db.lg.Error("engine failed: pages in memory no longer match the log", "err", err)
	}
}

// Failure returns why the engine failed (wrapping ErrFailed), or nil: a failed engine refuses
// every change until it is reopened, so a node that sees it should restart.
func (db *DB) Failure() error { return db.failure() }

func (db *DB) failure() error {
	if p := db.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// advanceVisible makes every group ending at or below end visible to new snapshots.
func (db *DB) advanceVisible(end page.LSN) {
	for {
		cur := db.visible.Load()
		if uint64(end) <= cur {
			return
		}
		if db.visible.CompareAndSwap(cur, uint64(end)) {
			db.wakeVisible()
			return
		}
	}
}

// VisibleLSN returns the snapshot a new reader gets: everything committed and durable.
func (db *DB) VisibleLSN() page.LSN { return page.LSN(db.visible.Load()) }

// Tree returns the root of the named tree.
func (db *DB) Tree(name string) (page.ID, error) {
	db.treesMu.RLock()
	defer db.treesMu.RUnlock()
	id, ok := db.trees[name]
	if !ok {
		return page.Invalid, fmt.Errorf("%w: %q", ErrNoTree, name)
	}
	return id, nil
}

// Trees returns the catalog's tree names, sorted.
func (db *DB) Trees() []string {
	db.treesMu.RLock()
	defer db.treesMu.RUnlock()
	names := make([]string, 0, len(db.trees))
	for n := range db.trees {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// CreateTree creates an empty tree under name and returns its root.
func (db *DB) CreateTree(ctx context.Context, name string) (page.ID, error) {
	if len(name) == 0 || len(name) > btree.MaxKeySize {
		return page.Invalid, fmt.Errorf("engine: bad tree name of %d bytes", len(name))
	}
	var root page.ID
	end, err := db.write(ctx, func(m *mtr.Mtr) error {
		if _, found, err := db.catalog.Get(ctx, []byte(name), nil); err != nil {
			return err
		} else if found {
			return fmt.Errorf("%w: %q", ErrTreeExists, name)
		}
		var err error
		if root, err = btree.Create(m); err != nil {
			return err
		}
		return db.catalog.Put(m, []byte(name), binary.LittleEndian.AppendUint64(nil, uint64(root)))
	})
	if err != nil {
		return page.Invalid, err
	}
	if err := db.log.WaitDurable(ctx, end); err != nil {
		return page.Invalid, err
	}
	db.advanceVisible(end)
	db.treesMu.Lock()
	db.trees[name] = root
	db.roots[root] = true
	db.treesMu.Unlock()
	return root, nil
}

// DropTree removes the named tree and frees its pages. Callers make sure nobody uses it.
func (db *DB) DropTree(ctx context.Context, name string) error {
	root, err := db.Tree(name)
	if err != nil {
		return err
	}
	end, err := db.write(ctx, func(m *mtr.Mtr) error {
		if _, err := db.catalog.Delete(m, []byte(name)); err != nil {
			return err
		}
		// Out of the catalog before its pages are freed, under the writer lock: a commit that
		// still holds writes for the tree then finds it gone (see Txn.Commit).
		db.treesMu.Lock()
		delete(db.trees, name)
		delete(db.roots, root)
		db.treesMu.Unlock()
		return btree.New(db.pool, root, compareVersioned).Drop(m)
	})
	if err != nil {
		return err
	}
	if err := db.log.WaitDurable(ctx, end); err != nil {
		return err
	}
	db.advanceVisible(end)
	return nil
}

func (db *DB) tree(root page.ID) *btree.Tree { return btree.New(db.pool, root, compareVersioned) }

// CheckTrees runs the B+tree invariant checker on the catalog and every tree. It holds the
// writer lock, so that no mini-transaction (a commit, purge) changes a tree under the checker,
// which latches one page at a time: a merge seen half-way would look like corruption.
func (db *DB) CheckTrees(ctx context.Context) error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	if _, err := db.catalog.Check(ctx); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	for _, name := range db.Trees() {
		root, err := db.Tree(name)
		if err != nil {
			continue
		}
		if _, err := db.tree(root).Check(ctx); err != nil {
			return fmt.Errorf("tree %q: %w", name, err)
		}
	}
	return nil
}

// Pool returns the buffer pool (for tests and metrics).
func (db *DB) Pool() *bufpool.Pool { return db.pool }

// Locks returns the lock manager (for metrics).
func (db *DB) Locks() *lock.Manager { return db.locks }

// Close stops background work. It does not close the log or the page source.
func (db *DB) Close() error {
	db.closeMu.Do(func() {
		db.bgMu.Lock()
		db.closed = true
		db.bgMu.Unlock()
		close(db.stopBg)
		db.bgDone.Wait()
		db.closePast()
		if db.unpin != nil {
			db.unpin()
		}
	})
	return nil
}

// Go runs f in a goroutine of its own as background work of the database: Close closes
// stop and waits for f to return. It reports false, and does not run f, once Close has begun.
func (db *DB) Go(f func(stop <-chan struct{})) bool {
	db.bgMu.Lock()
	defer db.bgMu.Unlock()
	if db.closed {
		return false
	}
	db.bgDone.Add(1)
	go func() {
		defer db.bgDone.Done()
		f(db.stopBg)
	}()
	return true
}

// hasTree reports whether root is a tree in the catalog.
func (db *DB) hasTree(root page.ID) bool {
	db.treesMu.RLock()
	defer db.treesMu.RUnlock()
	return db.roots[root] || root == db.catalog.Root
}
