package pagestore

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
)

// Retained positions: after compacting past them, GetPage answers exactly at each retained
// position (and at or above the horizon) as the RW view did, refuses every other position
// below the floor, keeps at most one version per page and point, survives a restart, and a
// position dropped from SetRetain is folded away by the next pass.
func TestRetainedPositions(t *testing.T) {
	log := newFakeLog()
	w := newWorkload(t, 33, log, 10)
	fs := vfs.NewMem()
	w.groups(150)
	r1 := w.ends[40]
	r2 := w.ends[90]
	w.groups(150)
	log.makeDurable()
	s := openStore(t, fs, log, func(o *Options) { o.ImageEvery, o.CachePages = 1000, -1 })
	s.Start()
	waitPersisted(t, s, log.end())
	ctx := context.Background()
	h := w.ends[len(w.ends)-20]
	s.SetRetain([]page.LSN{r2, r1, r1})
	s.SetHorizon(h)
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.Retained(); !slices.Equal(got, []page.LSN{r1, r2}) {
		t.Fatalf("retained in effect: %v, want [%d %d]", got, r1, r2)
	}
	w.check(t, s, []page.LSN{r1, r2, h, log.end()}, false)
	for _, lsn := range []page.LSN{r1 - 1, r1 + 1, w.ends[60], r2 + 1, h - 1} {
		var p page.Page
		if err := s.GetPage(ctx, w.ids[0], lsn, &p); !errors.Is(err, ErrCompacted) {
			t.Fatalf("GetPage at %d, below the floor %d and not retained: %v", lsn, h, err)
		}
	}
	for _, id := range w.ids {
		if n := countKeys(t, s, id, 0) - versionsAtOrAbove(t, s, h); n > 3 {
			t.Fatalf("page %d keeps %d versions below the horizon; at most one for each of 2 retained positions and the horizon", id, n)
		}
	}

	// A position retained after the floor passed it comes too late: its versions may be gone.
	s.SetRetain([]page.LSN{r1, r2, w.ends[60]})
	s.SetHorizon(log.end())
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.Retained(); !slices.Equal(got, []page.LSN{r1, r2}) {
		t.Fatalf("retained after a late one was named: %v", got)
	}

	// A restart keeps them in effect.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, fs, log, func(o *Options) { o.ImageEvery, o.CachePages = 1000, -1 })
	s.Start()
	if err := s.Compact(ctx); err != nil { // before any writer names them again
		t.Fatal(err)
	}
	w.check(t, s, []page.LSN{r1, r2, log.end()}, false)

	// r1 dropped: the next pass folds it away, even with no new horizon.
	s.SetRetain([]page.LSN{r2})
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	var p page.Page
	if err := s.GetPage(ctx, w.ids[0], r1, &p); !errors.Is(err, ErrCompacted) {
		t.Fatalf("GetPage at a position no longer retained: %v", err)
	}
	w.check(t, s, []page.LSN{r2, log.end()}, false)
}
