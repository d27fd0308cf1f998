package bufpool

import (
	"context"
	"sync"
	"sync/atomic"

	"strata/internal/page"
)

// PrefetchParallel is how many page reads one Prefetch keeps in flight, at most a quarter of
// the pool's frames (each read holds one).
const PrefetchParallel = 16

// Prefetch reads the pages of ids that are not in the pool, PrefetchParallel at a time, and
// returns once each is in the pool or its read failed, with how many it read. A failure is not reported: the read
// that needs the page reads it again and sees the error. Reads that follow find the pages
// in the pool, so a caller that knows which pages it is about to read one by one (the leaves
// of a batch of index lookups) waits for one round of parallel reads instead of one read
// after another, each a round trip to a Page Store.
func (p *Pool) Prefetch(ctx context.Context, ids []page.ID) int {
	var wg sync.WaitGroup
	var read atomic.Int64
	sem := make(chan struct{}, max(1, min(PrefetchParallel, len(p.frames)/4)))
	for _, id := range ids {
		if id == page.Invalid || p.Cached(id) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			f, err := p.load(ctx, id)
			if err != nil || f == nil {
				return // failed (the reader will retry) or loaded by another goroutine
			}
			p.prefetched.Add(1)
			read.Add(1)
			f.ref.Store(true)
			p.unpin(f)
		}()
	}
	wg.Wait()
	return int(read.Load())
}
