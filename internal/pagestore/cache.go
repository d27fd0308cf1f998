package pagestore

import (
	"sync"

	"strata/internal/page"
)

// pageCache keeps the most recently built version of a bounded number of pages, so that
// GetPage of a recent page costs a copy, or a copy and the few deltas since. Entries are
// immutable once published.
type pageCache struct {
	mu  sync.Mutex
	max int
	gen uint64 // bumped by reset; a build started under an older generation is not cached
	m   map[page.ID]*cacheEntry
}

// cacheEntry is a sealed page with every record below upTo applied.
type cacheEntry struct {
	pg   page.Page
	upTo page.LSN
}

func (c *pageCache) init(max int) {
	c.max = max
	c.m = make(map[page.ID]*cacheEntry)
}

func (c *pageCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *pageCache) get(id page.ID) *cacheEntry {
	if c.max <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

// put caches p (sealed) as page id with every record below upTo applied, unless a newer
// version is cached or the cache was reset since gen.
func (c *pageCache) put(gen uint64, id page.ID, p *page.Page, upTo page.LSN) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	old := c.m[id]
	if old != nil && old.upTo >= upTo {
		return
	}
	if old == nil && len(c.m) >= c.max {
		for k := range c.m { // evict an arbitrary entry
			delete(c.m, k)
			break
		}
	}
	c.m[id] = &cacheEntry{pg: *p, upTo: upTo}
}

func (c *pageCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}
