package pagestore

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/placement"
	"strata/internal/redo"
	"strata/internal/storage"
)

// TestSegmentFilter checks that a store owning some segments keeps exactly their pages: it
// answers them as the RW view has them at many positions, refuses the others with ErrNotOwned,
// stores nothing for them, and still consumes the whole log.
func TestSegmentFilter(t *testing.T) {
	log := newFakeLog()
	w := newWorkload(t, 5, log, 11) // pages 1..11: segments 0 (1-3), 1 (4-7), 2 (8-11)
	w.groups(300)
	s := openStore(t, vfs.NewMem(), log, func(o *Options) {
		o.ImageEvery, o.SegmentPages, o.Segments = 4, 4, []uint64{2, 0, 2}
	})
	if n, segs := s.Segments(); n != 4 || !slices.Equal(segs, []uint64{0, 2}) {
		t.Fatalf("Segments() = %d, %v; want 4, [0 2]", n, segs)
	}
	s.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log.feed(ctx, rand.New(rand.NewPCG(1, 2)))
	end := log.end()
	waitPersisted(t, s, end)
	if s.Consumed() != end {
		t.Fatalf("consumed %d, want the log end %d", s.Consumed(), end)
	}
	for _, lsn := range w.lsns(60, redo.StartLSN, end) {
		for _, id := range w.ids {
			if owned := placement.SegmentOf(id, 4) != 1; owned != s.Owns(id) || placement.SegmentOf(id, 0) != 0 {
				t.Fatalf("Owns(%d) = %v, want %v", id, s.Owns(id), owned)
			}
			if s.Owns(id) {
				if err := w.checkOne(ctx, s, id, lsn); err != nil {
					t.Fatal(err)
				}
				continue
			}
			var p page.Page
			err := s.GetPage(ctx, id, lsn, &p)
			if !errors.Is(err, ErrNotOwned) || errors.Is(err, storage.ErrPageNotFound) {
				t.Fatalf("GetPage(%d, %d) of an unowned page = %v, want ErrNotOwned", id, lsn, err)
			}
		}
	}
	for _, id := range w.ids {
		n := countKeys(t, s, id, 0)
		if s.Owns(id) && n == 0 && len(w.hist[id]) > 0 {
			t.Errorf("owned page %d has no versions", id)
		}
		if !s.Owns(id) && n != 0 {
			t.Errorf("unowned page %d has %d versions", id, n)
		}
	}
}

// TestSegmentOptions checks that a segment size without owned segments, or owned segments
// without a size, is refused, and that without the option every page is owned.
func TestSegmentOptions(t *testing.T) {
	for _, tc := range []struct {
		pages uint64
		segs  []uint64
	}{{4, nil}, {0, []uint64{1}}} {
		_, err := Open(context.Background(), Options{FS: vfs.NewMem(), Dir: "ps", Log: newFakeLog(),
			Logger: discard, SegmentPages: tc.pages, Segments: tc.segs})
		if err == nil {
			t.Errorf("Open with SegmentPages %d, Segments %v succeeded", tc.pages, tc.segs)
		}
	}
	s := openStore(t, vfs.NewMem(), newFakeLog(), nil)
	if n, segs := s.Segments(); n != 0 || segs != nil || !s.Owns(1) || !s.Owns(1<<40) {
		t.Fatalf("default store: Segments() = %d, %v; Owns = %v", n, segs, s.Owns(1))
	}
}

// TestOwnStateEncoding: the ownership record a store persists embeds placement.Ownership; its
// JSON must stay as stores already written have it.
func TestOwnStateEncoding(t *testing.T) {
	st := &ownState{Ownership: placement.Ownership{SegmentPages: 4, Rest: true, Segments: map[uint64]bool{2: false}},
		Incoming: map[uint64]page.LSN{3: 100}, Floors: map[uint64]page.LSN{1: 50}, Rebase: true}
	b, err := st.encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"segment_pages":4,"rest":true,"segments":{"2":false},"incoming":{"3":100},"floors":{"1":50},"rebase":true}`
	if string(b) != want {
		t.Fatalf("encoded %s, want %s", b, want)
	}
	back, err := decodeOwnState(b)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Normal().Equal(st.Normal()) || back.Incoming[3] != 100 || back.Floors[1] != 50 || !back.Rebase {
		t.Fatalf("decoded %+v", back)
	}
}
