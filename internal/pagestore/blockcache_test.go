package pagestore

import (
	"context"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestBlockCacheBesideMemtables checks that the block cache still caches blocks once pebble's
// memtables have grown to full size: pebble reserves each memtable's size in the block
// cache, the one being filled and a spare it keeps for reuse, and a cache no larger than
// BlockCacheBytes was left with no room for any block.
func TestBlockCacheBesideMemtables(t *testing.T) {
	log := newFakeLog()
	w := newWorkload(t, 7, log, 8)
	const memtable = 1 << 20
	s := openStore(t, vfs.NewMem(), log, func(o *Options) {
		o.CachePages, o.BlockCacheBytes, o.memTableBytes = -1, memtable, memtable
	})
	s.Start()
	w.groups(50)
	log.makeDurable()
	waitPersisted(t, s, log.end())
	s.Stop()
	// Fill memtables until two of them have the full size (pebble doubles each new one's
	// size up to it), with keys of a kind no reader of the store looks at.
	filler := make([]byte, 16<<10)
	for i := 0; s.db.Metrics().MemTable.Size < memtable || i < 8*memtable/len(filler); i++ {
		if i > 64*memtable/len(filler) {
			t.Fatalf("memtables of %d bytes after %d bytes written", s.db.Metrics().MemTable.Size, i*len(filler))
		}
		if err := s.db.Set(fmt.Appendf(nil, "x%08d", i), filler, pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lsn := log.end()
	readAll := func() {
		t.Helper()
		for _, id := range w.ids {
			if err := w.checkOne(ctx, s, id, lsn); err != nil {
				t.Fatal(err)
			}
		}
	}
	readAll()
	before := s.db.Metrics().BlockCache
	readAll()
	after := s.db.Metrics().BlockCache
	if after.Hits == before.Hits || after.Size == 0 {
		t.Fatalf("reading the same pages again: block cache hits %d -> %d, %d bytes cached; "+
			"the memtables' reservation leaves the cache no room", before.Hits, after.Hits, after.Size)
	}
	if after.Misses != before.Misses {
		t.Errorf("reading the same pages again: %d block cache misses, want none", after.Misses-before.Misses)
	}
}
