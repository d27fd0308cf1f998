package pagestore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/redo"
)

// BenchmarkGetPage reads a recent version of a page that has an image and a few deltas after
// it: from the version cache, and from pebble (memtable, then sstables after a flush).
func BenchmarkGetPage(b *testing.B) {
	for _, bc := range []struct {
		name  string
		cache int
		flush bool
	}{
		{"cached", 0, false},
		{"pebble-memtable", -1, false},
		{"pebble-sstable", -1, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			log := newFakeLog()
			w := newWorkload(b, 1, log, 2)
			const id = 2
			cell := make([]byte, 100)
			insert := func(n int) {
				for range n {
					w.group(func(g *redo.Group, start page.LSN) {
						off := page.LSN(g.Len())
						if w.page(id).Type() == page.TypeZero {
							w.apply(g.Init(id, page.TypeLeaf, 0, 1), start+off)
							off = page.LSN(g.Len())
						}
						w.apply(g.Insert(id, w.page(id).NumCells(), cell), start+off)
					})
				}
				log.makeDurable()
			}
			// A hundred-byte cell a delta: an image after 128 of them (the page holds about 150).
			const every = 128
			s := openStore(b, vfs.NewMem(), log, func(o *Options) { o.CachePages, o.ImageEvery = bc.cache, every })
			s.Start()
			insert(every)
			waitFor(b, 10*time.Second, "an image", func() bool { return s.Stats().Images > 0 })
			insert(4) // a few deltas after the image
			lsn := log.end()
			waitPersisted(b, s, lsn)
			s.Stop()
			if bc.flush {
				if err := s.db.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			benchGetPage(b, s, w, id, lsn)
		})
	}
}

// BenchmarkGetPageDeltas reads a page whose newest image is n deltas old, with the version
// cache off: what a read costs the Page Store just before the materialiser folds the deltas
// (Options.ImageEvery).
func BenchmarkGetPageDeltas(b *testing.B) {
	for _, n := range []int{128, 256, 512} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			log := newFakeLog()
			w := newWorkload(b, 1, log, 2)
			const id = 2
			cell := make([]byte, 100)
			const fill = 100 // cells kept on the page
			s := openStore(b, vfs.NewMem(), log, func(o *Options) { o.CachePages, o.ImageEvery = -1, 1<<20 })
			s.Start()
			w.group(func(g *redo.Group, start page.LSN) {
				w.apply(g.Init(id, page.TypeLeaf, 0, 1), start)
				for range fill {
					off := page.LSN(g.Len())
					w.apply(g.Insert(id, w.page(id).NumCells(), cell), start+off)
				}
			})
			log.makeDurable()
			waitPersisted(b, s, log.end())
			if err := s.materialise(id); err != nil {
				b.Fatal(err)
			}
			for i := range n { // a row replaced: one cell out, one in
				w.group(func(g *redo.Group, start page.LSN) {
					if i%2 == 0 {
						w.apply(g.Delete(id, i%fill), start)
					} else {
						w.apply(g.Insert(id, i%fill, cell), start)
					}
				})
			}
			log.makeDurable()
			lsn := log.end()
			waitPersisted(b, s, lsn)
			s.Stop()
			benchGetPage(b, s, w, id, lsn)
		})
	}
}

// benchGetPage checks page id at lsn against the workload's view, then times reading it.
func benchGetPage(b *testing.B, s *Store, w *workload, id page.ID, lsn page.LSN) {
	ctx := context.Background()
	if err := w.checkOne(ctx, s, id, lsn); err != nil {
		b.Fatal(err)
	}
	var p page.Page
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.GetPage(ctx, id, lsn, &p); err != nil {
			b.Fatal(err)
		}
	}
}
