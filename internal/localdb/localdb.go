// Package localdb assembles a database in one process: the file log (wal), the Page Store core
// consuming it (pagestore), and the engine on top, all in one data directory. It is what
// `strata up` runs until the log and page stores become network services, which implement the
// same storage interfaces.
package localdb

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/diskcache"
	"strata/internal/engine"
	"strata/internal/pagestore"
	"strata/internal/privfs"
	"strata/internal/segfile"
	"strata/internal/wal"
)

// Options configure a local database.
type Options struct {
	FS  vfs.FS // default vfs.Default
	Dir string // data directory: wal/ and pages/ beneath it
	// PoolFrames is the buffer pool size in 16 KiB pages.
	PoolFrames int
	// LockWaitTimeout is the default row lock wait (default 50 s).
	LockWaitTimeout time.Duration
	// PurgeInterval is how often the engine purges old versions (default 1 s).
	PurgeInterval time.Duration
	// History is the history window: the page store keeps what reading the database as of
	// any moment this far back needs (AS OF); 0 keeps only what snapshots need.
	History time.Duration
	// CompactInterval is how often the page store compacts up to the horizon (default 30 s).
	CompactInterval time.Duration
	Logger          *slog.Logger
	// EngineEvents and PageEvents receive the engine's and the page store's events.
	EngineEvents engine.EventListener
	PageEvents   pagestore.EventListener
	// RemotePages makes the engine read pages ahead as a cluster's compute node does
	// (engine.Options.RemotePages), though its page store is in the process: for tests of
	// the read-ahead.
	RemotePages bool
	// DiskCacheBytes, when positive, puts a second-tier page cache of that size behind the
	// buffer pool (diskcache), in the file pagecache of Dir: a miss of a page the pool evicted
	// reads the copy there instead of the page store's records.
	DiskCacheBytes int64
}

// DB is an open local database.
type DB struct {
	*engine.DB
	Log   *wal.Log
	Pages *pagestore.Store
	// DiskCache is the second-tier page cache, nil without one.
	DiskCache *diskcache.Cache

	opts Options
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// Open opens (creating if needed) the database in opts.Dir. After a crash it finds the durable
// end of the log, cuts any incomplete group the page store consumed, and serves pages at that
// LSN: no redo is replayed by the engine.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	// The log creates the data directory (and syncs each new directory's parent).
	log, err := wal.Open(wal.Options{FS: opts.FS, Dir: opts.FS.PathJoin(opts.Dir, "wal"), Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	ps, err := pagestore.Open(ctx, pagestore.Options{FS: opts.FS, Dir: opts.FS.PathJoin(opts.Dir, "pages"), Log: log, Logger: opts.Logger,
		CompactInterval: opts.CompactInterval, EventListener: opts.PageEvents})
	if err != nil {
		log.Close()
		return nil, err
	}
	// Make the page store directory's own creation durable, and the data directory private
	// (an older build made it 0755).
	err = syncDir(opts.FS, opts.Dir)
	if err == nil {
		err = privfs.Tighten(opts.FS, opts.Dir)
	}
	if err != nil {
		ps.Close()
		log.Close()
		return nil, err
	}
	if end := log.End(); ps.Persisted() > end {
		// The page store consumed the start of a group the crash cut off.
		if err := ps.TruncateAfter(end); err != nil {
			ps.Close()
			log.Close()
			return nil, err
		}
	}
	eo := engine.Options{Log: log, Pages: ps, Times: ps, PoolFrames: opts.PoolFrames,
		LockWaitTimeout: opts.LockWaitTimeout, PurgeInterval: opts.PurgeInterval, Logger: opts.Logger,
		EventListener: opts.EngineEvents, RemotePages: opts.RemotePages}
	var tier *diskcache.Cache
	if opts.DiskCacheBytes > 0 {
		tier, err = diskcache.Open(diskcache.Options{FS: privfs.Wrap(opts.FS), Path: opts.FS.PathJoin(opts.Dir, diskcache.FileName), Bytes: opts.DiskCacheBytes})
		if err != nil {
			ps.Close()
			log.Close()
			return nil, err
		}
		eo.SecondTier = tier
	}
	ps.Start()
	eng, err := engine.Open(ctx, eo)
	if err != nil {
		if tier != nil {
			tier.Close()
		}
		ps.Close()
		log.Close()
		return nil, err
	}
	db := &DB{DB: eng, Log: log, Pages: ps, DiskCache: tier, opts: opts, stop: make(chan struct{})}
	db.wg.Add(1)
	go db.maintain()
	return db, nil
}

// maintain moves the page store's horizon with the engine's oldest snapshot and the history
// window, and drops log
// segments the page store has persisted.
func (db *DB) maintain() {
	defer db.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if h := db.DB.HistoryHorizon(ctx, db.opts.History); h > 0 {
			db.Pages.SetHorizon(h)
		}
		cancel()
		if err := db.Log.Truncate(db.Pages.Persisted()); err != nil {
			db.opts.Logger.Warn("localdb: truncate log", "err", err)
		}
	}
}

// Close closes the engine, the page store and the log.
func (db *DB) Close() error {
	var err error
	db.once.Do(func() {
		close(db.stop)
		db.wg.Wait()
		err = db.DB.Close()
		if e := db.Pages.Close(); err == nil {
			err = e
		}
		if e := db.Log.Close(); err == nil {
			err = e
		}
		if db.DiskCache != nil {
			if e := db.DiskCache.Close(); err == nil {
				err = e
			}
		}
	})
	return err
}

func syncDir(fs vfs.FS, dir string) error {
	if err := segfile.SyncDir(fs, dir); err != nil {
		return fmt.Errorf("localdb: %w", err)
	}
	return nil
}
