package bufpool_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"strata/internal/bufpool"
	"strata/internal/mtr"
	"strata/internal/page"
	"strata/internal/storage"
	"strata/internal/storage/memstore"
)

// setup returns a pool of n frames over an in-memory log, with the meta page and pages
// 2..k created (each with one cell) in one durable mini-transaction.
func setup(t *testing.T, frames, k int) (*bufpool.Pool, *memstore.Log) {
	t.Helper()
	return setupSource(t, frames, k, nil)
}

// setupSource is setup with the page source wrapped by wrap (nil: not wrapped).
func setupSource(t *testing.T, frames, k int, wrap func(storage.PageSource) storage.PageSource) (*bufpool.Pool, *memstore.Log) {
	t.Helper()
	return setupOptions(t, k, wrap, bufpool.Options{Frames: frames})
}

// setupOptions is setupSource for a pool with opts, whose Source and Durable it sets.
func setupOptions(t *testing.T, k int, wrap func(storage.PageSource) storage.PageSource, opts bufpool.Options) (*bufpool.Pool, *memstore.Log) {
	t.Helper()
	log := memstore.NewLog()
	var src storage.PageSource = memstore.NewPages(log)
	if wrap != nil {
		src = wrap(src)
	}
	opts.Source, opts.Durable = src, log.Durable
	pool := bufpool.New(opts, log.End())
	m := mtr.Begin(context.Background(), pool, log)
	if err := m.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < k-1; i++ {
		f, err := m.Alloc()
		if err != nil {
			t.Fatal(err)
		}
		id := f.ID()
		if err := m.Apply(f, m.Group().Init(id, page.TypeLeaf, 0, id)); err != nil {
			t.Fatal(err)
		}
		if err := m.Apply(f, m.Group().Insert(id, 0, []byte{byte(id)})); err != nil {
			t.Fatal(err)
		}
		pool.Release(f, bufpool.Exclusive)
		if err := m.Spill(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Finish(); err != nil {
		t.Fatal(err)
	}
	return pool, log
}

// TestEvictedPageReadBack: a page evicted after its changes are durable is read back from the
// page source at its LSN, byte for byte.
func TestEvictedPageReadBack(t *testing.T) {
	ctx := context.Background()
	pool, _ := setup(t, 8, 40) // 40 pages through 8 frames
	if pool.Stats().Evictions == 0 {
		t.Fatal("expected evictions")
	}
	for id := page.ID(2); id <= 40; id++ {
		f, err := pool.Get(ctx, id, bufpool.Shared)
		if err != nil {
			t.Fatalf("page %d: %v", id, err)
		}
		if f.Page.NumCells() != 1 || f.Page.Cell(0)[0] != byte(id) {
			t.Fatalf("page %d read back wrong", id)
		}
		pool.Release(f, bufpool.Shared)
	}
}

// TestNonDurablePagesStay: a page changed by records that are not yet durable is never
// evicted (the page source could not rebuild it); a miss then waits and fails with
// ErrNoFrame instead of dropping it.
func TestNonDurablePagesStay(t *testing.T) {
	ctx := context.Background()
	pool, log := setup(t, 8, 9) // page 9 exists but will not fit
	log.Hold()                  // nothing appended from now on is durable
	m := mtr.Begin(ctx, pool, log)
	for id := page.ID(1); id <= 8; id++ {
		f, err := pool.Get(ctx, id, bufpool.Exclusive)
		if err != nil {
			t.Fatal(err)
		}
		rec := m.Group().Meta(f.Page.Meta())
		if id > 1 {
			rec = m.Group().Insert(id, 1, []byte("new"))
		}
		if err := m.Apply(f, rec); err != nil {
			t.Fatal(err)
		}
		pool.Release(f, bufpool.Exclusive)
	}
	if _, err := m.Finish(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := pool.Get(short, 9, bufpool.Shared); !errors.Is(err, bufpool.ErrNoFrame) {
		t.Fatalf("want ErrNoFrame while every cached page is non-durable, got %v", err)
	}
	for id := page.ID(1); id <= 8; id++ {
		if !pool.Cached(id) {
			t.Fatalf("non-durable page %d was evicted", id)
		}
	}
	// Once durable, pages can go; the evicted one reads back with its new cell.
	log.Release()
	f, err := pool.Get(ctx, 9, bufpool.Shared)
	if err != nil {
		t.Fatal(err)
	}
	pool.Release(f, bufpool.Shared)
	for id := page.ID(2); id <= 8; id++ {
		f, err := pool.Get(ctx, id, bufpool.Shared)
		if err != nil {
			t.Fatal(err)
		}
		if f.Page.NumCells() != 2 || string(f.Page.Cell(1)) != "new" {
			t.Fatalf("page %d lost its change", id)
		}
		pool.Release(f, bufpool.Shared)
	}
}

// TestPinnedPagesStay: a latched (pinned) page is never chosen as a victim.
func TestPinnedPagesStay(t *testing.T) {
	ctx := context.Background()
	pool, _ := setup(t, 8, 8)
	var held []*bufpool.Frame
	for id := page.ID(1); id <= 8; id++ {
		f, err := pool.Get(ctx, id, bufpool.Shared)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, f)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := pool.New(short, 99); !errors.Is(err, bufpool.ErrNoFrame) {
		t.Fatalf("want ErrNoFrame with every frame pinned, got %v", err)
	}
	for _, f := range held {
		pool.Release(f, bufpool.Shared)
	}
	f, err := pool.New(ctx, 99)
	if err != nil {
		t.Fatal(err)
	}
	pool.Release(f, bufpool.Exclusive)
}

// TestStatsCountHitsAndMisses: a page read twice from a pool that does not hold it is one
// miss, then one hit.
func TestStatsCountHitsAndMisses(t *testing.T) {
	ctx := context.Background()
	pool, _ := setup(t, 8, 40) // page 2 was evicted long ago
	before := pool.Stats()
	for range 2 {
		f, err := pool.Get(ctx, 2, bufpool.Shared)
		if err != nil {
			t.Fatal(err)
		}
		pool.Release(f, bufpool.Shared)
	}
	after := pool.Stats()
	if m, h := after.Misses-before.Misses, after.Hits-before.Hits; m != 1 || h != 1 {
		t.Fatalf("misses +%d, hits +%d; want +1 and +1", m, h)
	}
}
