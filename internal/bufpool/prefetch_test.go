package bufpool_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"strata/internal/bufpool"
	"strata/internal/page"
	"strata/internal/storage"
)

// slowSource delays every read while enabled, counts the reads in flight at once and fails
// the reads of one page.
type slowSource struct {
	storage.PageSource
	mu          sync.Mutex
	on          bool
	fail        page.ID
	inflight    int
	maxInflight int
}

var errInjected = errors.New("injected read failure")

func (s *slowSource) GetPage(ctx context.Context, id page.ID, lsn page.LSN, dst *page.Page) error {
	s.mu.Lock()
	on := s.on
	if on {
		s.inflight++
		s.maxInflight = max(s.maxInflight, s.inflight)
	}
	s.mu.Unlock()
	if on {
		time.Sleep(20 * time.Millisecond)
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
		if id == s.fail {
			return errInjected
		}
	}
	return s.PageSource.GetPage(ctx, id, lsn, dst)
}

// TestPrefetch: Prefetch reads the missing pages in parallel and leaves them in the pool,
// where the reads that follow find them (hits, not misses); a page whose read fails is not
// cached and its reader gets the error; pages already cached are not read again.
func TestPrefetch(t *testing.T) {
	ctx := context.Background()
	src := &slowSource{}
	pool, _ := setupSource(t, 8, 40, func(s storage.PageSource) storage.PageSource {
		src.PageSource = s
		return src
	})
	ids := []page.ID{10, 11, 12, 13, 14, 15}
	for _, id := range ids {
		if pool.Cached(id) {
			t.Fatalf("page %d cached before the test", id)
		}
	}
	src.mu.Lock()
	src.on, src.fail = true, 15
	src.mu.Unlock()
	before := pool.Stats()
	pool.Prefetch(ctx, append(ids, 10, page.Invalid)) // a repeat and an invalid id are skipped
	after := pool.Stats()
	if got := after.Misses - before.Misses; got != uint64(len(ids)) {
		t.Fatalf("misses: got %d, want %d", got, len(ids))
	}
	if got := after.Prefetched - before.Prefetched; got != uint64(len(ids)-1) {
		t.Fatalf("prefetched: got %d, want %d", got, len(ids)-1)
	}
	if src.maxInflight < 2 {
		t.Fatalf("reads were not made in parallel: at most %d at once", src.maxInflight)
	}
	for _, id := range ids[:len(ids)-1] {
		if !pool.Cached(id) {
			t.Fatalf("page %d not cached after Prefetch", id)
		}
		f, err := pool.Get(ctx, id, bufpool.Shared)
		if err != nil {
			t.Fatal(err)
		}
		if f.Page.NumCells() != 1 || f.Page.Cell(0)[0] != byte(id) {
			t.Fatalf("page %d read wrong", id)
		}
		pool.Release(f, bufpool.Shared)
	}
	if got := pool.Stats().Misses; got != after.Misses {
		t.Fatalf("reads after Prefetch missed %d times", got-after.Misses)
	}
	if pool.Cached(15) {
		t.Fatal("page 15 cached after its read failed")
	}
	if _, err := pool.Get(ctx, 15, bufpool.Shared); !errors.Is(err, errInjected) {
		t.Fatalf("read of page 15: got %v, want the injected failure", err)
	}
	pool.Prefetch(ctx, ids[:2]) // cached: nothing read
	if got := pool.Stats().Misses; got != after.Misses+1 {
		t.Fatalf("Prefetch of cached pages read them: misses %d, want %d", got, after.Misses+1)
	}
}

// TestPrefetchCanceled: a canceled context ends Prefetch without waiting for reads it has
// not started.
func TestPrefetchCanceled(t *testing.T) {
	pool, _ := setup(t, 8, 40)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	pool.Prefetch(ctx, []page.ID{10, 11, 12})
	if s := pool.Stats(); s.Prefetched != 0 {
		t.Fatalf("prefetched %d pages with a canceled context", s.Prefetched)
	}
}
