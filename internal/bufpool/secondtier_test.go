package bufpool_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"strata/internal/bufpool"
	"strata/internal/diskcache"
	"strata/internal/mtr"
	"strata/internal/page"
	"strata/internal/storage"
	"strata/internal/storage/memstore"
)

// countingSource counts the page source's reads.
type countingSource struct {
	storage.PageSource
	mu    sync.Mutex
	reads int
}

func (s *countingSource) GetPage(ctx context.Context, id page.ID, lsn page.LSN, dst *page.Page) error {
	s.mu.Lock()
	s.reads++
	s.mu.Unlock()
	return s.PageSource.GetPage(ctx, id, lsn, dst)
}

func (s *countingSource) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// setupTier is setup (8 frames, 40 pages) with a second tier of slots pages and a page
// source that counts its reads.
func setupTier(t *testing.T, slots int) (*bufpool.Pool, *memstore.Log, *countingSource, *diskcache.Cache) {
	t.Helper()
	tier, err := diskcache.Open(diskcache.Options{Path: filepath.Join(t.TempDir(), "pagecache"), Bytes: int64(slots) * page.Size})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tier.Close() })
	src := &countingSource{}
	pool, log := setupOptions(t, 40, func(s storage.PageSource) storage.PageSource {
		src.PageSource = s
		return src
	}, bufpool.Options{Frames: 8, SecondTier: tier})
	return pool, log, src, tier
}

// readAll reads pages 2..k and checks each one's first cell; extra gives a page's expected
// second cell.
func readAll(t *testing.T, pool *bufpool.Pool, k int, extra map[page.ID]byte) {
	t.Helper()
	for id := page.ID(2); id <= page.ID(k); id++ {
		readOne(t, pool, id, extra)
	}
}

func readOne(t *testing.T, pool *bufpool.Pool, id page.ID, extra map[page.ID]byte) {
	t.Helper()
	f, err := pool.Get(context.Background(), id, bufpool.Shared)
	if err != nil {
		t.Fatalf("page %d: %v", id, err)
	}
	defer pool.Release(f, bufpool.Shared)
	want := 1
	if _, ok := extra[id]; ok {
		want = 2
	}
	if f.Page.NumCells() != want || f.Page.Cell(0)[0] != byte(id) || want == 2 && f.Page.Cell(1)[0] != extra[id] {
		t.Fatalf("page %d read back wrong: %d cells", id, f.Page.NumCells())
	}
}

// TestSecondTier: pages the pool evicts are read back from the second tier, in the version
// last evicted, without a read of the page source; pages it does not hold, and pages not
// evicted since the pool opened, come from the page source.
func TestSecondTier(t *testing.T) {
	ctx := context.Background()
	const k = 40
	pool, log, src, tier := setupTier(t, 64)
	if pool.Stats().Evictions == 0 {
		t.Fatal("expected evictions")
	}
	base := src.count()
	readAll(t, pool, k, nil)
	if got := src.count() - base; got != 0 {
		t.Fatalf("%d reads of the page source for pages the tier holds", got)
	}
	st := pool.Stats()
	if st.SecondTierHits == 0 || st.SecondTierHits != st.Misses {
		t.Fatalf("stats %+v", st)
	}

	// A page changed after it came back from the tier, then evicted again, comes back in
	// its new version.
	m := mtr.Begin(ctx, pool, log)
	f, err := m.Get(5, bufpool.Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(f, m.Group().Insert(5, 1, []byte{0xee})); err != nil {
		t.Fatal(err)
	}
	m.Release(f, bufpool.Exclusive)
	if _, err := m.Finish(); err != nil {
		t.Fatal(err)
	}
	readAll(t, pool, k, map[page.ID]byte{5: 0xee}) // evicts page 5 again, then reads it
	if got := src.count() - base; got != 0 {
		t.Fatalf("%d reads of the page source", got)
	}

	// A pool opened anew (a restart) reads every page from the source the first time: what
	// the tier holds was evicted by another pool, whose versions it cannot vouch for. Once
	// it has evicted them itself (their last changes below the LSN it opened at), they come
	// from the tier again.
	src2 := &countingSource{PageSource: src.PageSource}
	pool2 := bufpool.New(bufpool.Options{Frames: 8, Source: src2, Durable: log.Durable, SecondTier: tier}, log.End())
	readAll(t, pool2, k, map[page.ID]byte{5: 0xee})
	first := src2.count()
	if first < k-1 {
		t.Fatalf("%d reads of the source after a restart", first)
	}
	readAll(t, pool2, k, map[page.ID]byte{5: 0xee})
	if got := src2.count() - first; got != 0 {
		t.Fatalf("%d reads of the source for pages the restarted pool evicted", got)
	}
}

// TestSecondTierSmall: a tier smaller than what the pool evicts keeps the pages evicted
// last (read here first, newest first); the others come from the page source, right.
func TestSecondTierSmall(t *testing.T) {
	const k = 40
	pool, _, src, _ := setupTier(t, 4)
	base := src.count()
	for id := page.ID(k); id >= 2; id-- {
		readOne(t, pool, id, nil)
	}
	st := pool.Stats()
	if st.SecondTierHits == 0 || src.count() == base || uint64(src.count()-base)+st.SecondTierHits != st.Misses {
		t.Fatalf("source reads %d, stats %+v", src.count()-base, st)
	}
}
