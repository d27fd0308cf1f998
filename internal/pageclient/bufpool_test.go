package pageclient_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"strata/internal/bufpool"
	"strata/internal/page"
	"strata/internal/storage"
)

// TestBufferPoolOverReplicas runs the buffer pool on the client: more pages than frames are
// read, evicted and read again, also after every replica compacted the history the pool
// reads at: the pool's fallback on storage.ErrCompacted (read at the durable end) works
// through the network. The pools start at an earlier position than the log's end, as if the
// log had been written on after they opened; after the fallback they see the pages at the end.
func TestBufferPoolOverReplicas(t *testing.T) {
	c := newCluster(t)
	end := c.w.Log.End()
	src := &countCompacted{src: c.client}
	mid := c.w.Ends[len(c.w.Ends)/2]
	pool := bufpool.New(bufpool.Options{Frames: 8, Source: src, Durable: c.w.Log.Durable}, mid)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// readAll reads every page through pool and checks it is the reference's page at one of
	// the positions in at.
	readAll := func(pool *bufpool.Pool, round string, at ...page.LSN) {
		t.Helper()
		for _, id := range c.w.IDs {
			f, err := pool.Get(ctx, id, bufpool.Shared)
			if err != nil {
				t.Fatalf("%s: Get(%d): %v", round, id, err)
			}
			same := false
			for _, lsn := range at {
				var want page.Page
				if err := c.ref.GetPage(ctx, id, lsn, &want); err != nil {
					t.Fatal(err)
				}
				same = same || f.Page == want
			}
			pool.Release(f, bufpool.Shared)
			if !same {
				t.Fatalf("%s: page %d differs from the reference at %v", round, id, at)
			}
		}
	}
	readAll(pool, "first read", mid)
	readAll(pool, "after eviction", mid)
	if s := pool.Stats(); s.Misses < uint64(2*len(c.w.IDs)) {
		t.Fatalf("pool stats %+v: pages were not evicted and read again", s)
	}
	if err := c.client.SetHorizon(ctx, end); err != nil {
		t.Fatal(err)
	}
	for _, r := range c.reps {
		if err := r.Store.Compact(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// A pool opened at a position no replica has served yet: the replicas cannot rebuild the
	// pages there any more (unless a cached version still covers it) and the pool reads them
	// at the durable end.
	later := c.w.Ends[len(c.w.Ends)*3/4]
	fresh := bufpool.New(bufpool.Options{Frames: 8, Source: src, Durable: c.w.Log.Durable}, later)
	readAll(fresh, "after compaction", later, end)
	if src.compacted.Load() == 0 {
		t.Fatal("no read was below the compaction floor: the fallback was not exercised")
	}
}

// countCompacted counts the storage.ErrCompacted answers of a page source.
type countCompacted struct {
	src       storage.PageSource
	compacted atomic.Int64
}

func (c *countCompacted) GetPage(ctx context.Context, id page.ID, lsn page.LSN, dst *page.Page) error {
	err := c.src.GetPage(ctx, id, lsn, dst)
	if errors.Is(err, storage.ErrCompacted) {
		c.compacted.Add(1)
	}
	return err
}
