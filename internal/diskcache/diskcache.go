// Package diskcache provides a second tier of page cache on the compute node's local disk,
// behind the buffer pool, as veDB's hot cache and Socrates's RBPEX are: a page the pool
// evicts is written to a slot of one file, and a later miss of the same version of that page
// is read back from the file instead of from a Page Store.
//
// It holds copies only. A page is found by its ID and the LSN of its last change, which the
// pool knows for every page it evicted; what is read back must carry that ID and LSN and its
// checksum, or it is a miss, so a slot being rewritten under a reader, a torn or failed
// write, a lost file or a disk error never gives a wrong page: the pool then asks the Page
// Store. The file is created empty when the cache opens and removed when it closes (the
// entries' index lives in memory).
package diskcache

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/privfs"
)

// FileName is the cache file's name in a node's directory.
const FileName = "pagecache"

// Options configure a cache.
type Options struct {
	FS   vfs.FS // default vfs.Default, files private to the user (privfs)
	Path string // the cache file, truncated if it exists (required)
	// Bytes is the file's size; it holds Bytes / page.Size pages (at least one).
	Bytes int64
}

// Cache is a page cache in one file of fixed slots, replaced in FIFO order.
type Cache struct {
	fs   vfs.FS
	path string
	f    vfs.File

	mu    sync.Mutex
	index map[page.ID]entry // pages whose slot holds a complete copy
	owner []page.ID         // slot -> the page written (or being written) there
	hand  int               // the next slot to take for a page that has none

	hits, misses, rejected, writes, writeErrs, readErrs atomic.Uint64
}

type entry struct {
	slot int32
	lsn  page.LSN
}

// Open creates the cache file, empty.
func Open(opts Options) (*Cache, error) {
	if opts.Path == "" {
		return nil, errors.New("diskcache: no path")
	}
	if opts.FS == nil {
		opts.FS = privfs.Wrap(vfs.Default)
	}
	slots := opts.Bytes / page.Size
	if slots < 1 {
		slots = 1
	}
	if slots > 1<<31-1 {
		return nil, fmt.Errorf("diskcache: %d bytes is too large", opts.Bytes)
	}
	f, err := opts.FS.Create(opts.Path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, fmt.Errorf("diskcache: create %s: %w", opts.Path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("diskcache: create %s: %w", opts.Path, err)
	}
	f, err = opts.FS.OpenReadWrite(opts.Path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, fmt.Errorf("diskcache: open %s: %w", opts.Path, err)
	}
	return &Cache{fs: opts.FS, path: opts.Path, f: f, index: map[page.ID]entry{}, owner: make([]page.ID, slots)}, nil
}

// Slots returns how many pages the cache holds at most.
func (c *Cache) Slots() int { return len(c.owner) }

// Get reads into dst the copy of page id whose last change is at lsn, and reports whether
// there was one. dst is scratch when it returns false.
func (c *Cache) Get(id page.ID, lsn page.LSN, dst *page.Page) bool {
	c.mu.Lock()
	e, ok := c.index[id]
	c.mu.Unlock()
	if !ok || e.lsn != lsn {
		c.misses.Add(1)
		return false
	}
	if _, err := c.f.ReadAt(dst[:], int64(e.slot)*page.Size); err != nil {
		c.readErrs.Add(1)
		c.forget(id, e.slot)
		return false
	}
	// The slot may have been taken for another page since the index was read, and a write
	// may have failed half way: only the page itself can say it is the one asked for.
	if dst.ID() != id || dst.LSN() != lsn || dst.Verify() != nil {
		c.rejected.Add(1)
		c.forget(id, e.slot) // a bad write would be read, and rejected, at every miss
		return false
	}
	c.hits.Add(1)
	return true
}

// Put writes a copy of p, replacing any older copy of the same page. It seals p (sets its
// checksum), so p must not be in use elsewhere. A failed write leaves no entry.
func (c *Cache) Put(p *page.Page) {
	id := p.ID()
	if id == page.Invalid {
		return
	}
	p.Seal()
	c.mu.Lock()
	e, ok := c.index[id]
	slot := e.slot
	if ok {
		delete(c.index, id) // not readable while it is rewritten
	} else {
		slot = int32(c.hand)
		c.hand = (c.hand + 1) % len(c.owner)
		if old := c.owner[slot]; old != page.Invalid {
			if oe, ok := c.index[old]; ok && oe.slot == slot {
				delete(c.index, old)
			}
		}
	}
	c.owner[slot] = id
	c.mu.Unlock()
	if _, err := c.f.WriteAt(p[:], int64(slot)*page.Size); err != nil {
		c.writeErrs.Add(1)
		return
	}
	c.writes.Add(1)
	c.mu.Lock()
	// The slot may have been taken meanwhile, and a later Put of the same page may have
	// finished first (its entry, newer, stays).
	if _, newer := c.index[id]; c.owner[slot] == id && !newer {
		c.index[id] = entry{slot: slot, lsn: p.LSN()}
	}
	c.mu.Unlock()
}

// forget drops page id's entry if it still names slot.
func (c *Cache) forget(id page.ID, slot int32) {
	c.mu.Lock()
	if e, ok := c.index[id]; ok && e.slot == slot {
		delete(c.index, id)
	}
	c.mu.Unlock()
}

// Stats are the cache's counters.
type Stats struct {
	Slots, Pages int // capacity, and pages held now
	// Hits and Misses count Gets; Rejected are Gets whose slot held something else than the
	// page asked for (rewritten meanwhile, or a bad write), counted apart from Misses.
	Hits, Misses, Rejected uint64
	Writes                 uint64 // pages written
	WriteErrors            uint64 // writes that failed (the page was not kept)
	ReadErrors             uint64 // reads that failed (a miss)
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	n := len(c.index)
	c.mu.Unlock()
	return Stats{Slots: len(c.owner), Pages: n, Hits: c.hits.Load(), Misses: c.misses.Load(), Rejected: c.rejected.Load(),
		Writes: c.writes.Load(), WriteErrors: c.writeErrs.Load(), ReadErrors: c.readErrs.Load()}
}

// Close closes and removes the file. Gets and Puts must have stopped.
func (c *Cache) Close() error {
	err := c.f.Close()
	if rerr := c.fs.Remove(c.path); err == nil && rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("diskcache: close: %w", err)
	}
	return nil
}
