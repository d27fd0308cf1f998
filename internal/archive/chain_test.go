package archive

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/storage"
)

// put stores the chunk [start, end) of timeline tl, its bytes b[start:end].
func putChunk(t *testing.T, st *Store, tl uint64, b []byte, start, end page.LSN) {
	t.Helper()
	if err := st.Put(context.Background(), LogKey(tl, start, end), bytes.NewReader(b[start:end]), int64(end-start)); err != nil {
		t.Fatal(err)
	}
}

// localStore returns a store over a local directory of the test's.
func localStore(t *testing.T) *Store {
	t.Helper()
	local, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return NewStore(local)
}

// Overlapping chunks (two writers cutting the same log at different group ends) read back as
// the log once; a hole is an error.
func TestLogChunksOverlap(t *testing.T) {
	st := localStore(t)
	ctx := context.Background()
	log := make([]byte, 1000)
	for i := range log {
		log[i] = byte(i * 7)
	}
	putChunk(t, st, 0, log, 64, 300)
	putChunk(t, st, 0, log, 64, 200) // wholly inside the first
	putChunk(t, st, 0, log, 250, 500)
	putChunk(t, st, 0, log, 500, 700)
	got, err := st.ReadLog(ctx, 0, 64, 700)
	if err != nil || !bytes.Equal(got, log[64:700]) {
		t.Fatalf("ReadLog: %d bytes, %v", len(got), err)
	}
	if got, err := st.ReadLog(ctx, 0, 280, 600); err != nil || !bytes.Equal(got, log[280:600]) {
		t.Fatalf("ReadLog inside: %d bytes, %v", len(got), err)
	}
	putChunk(t, st, 0, log, 800, 900)
	if _, err := st.LogChunks(ctx, 0); err == nil {
		t.Fatal("a hole in the archived log was not found")
	}
}

// MainHistory follows the main database's timelines back to timeline 0: each timeline's log up
// to the point the next was made at, the last to its archived end.
func TestMainHistory(t *testing.T) {
	st := localStore(t)
	ctx := context.Background()
	if _, err := st.MainHistory(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an empty archive: %v", err)
	}
	log := make([]byte, 2000)
	if err := st.RecordMain(ctx, Timeline{Timeline: 0}); err != nil {
		t.Fatal(err)
	}
	putChunk(t, st, 0, log, redo.StartLSN, 900)
	if h, err := st.MainHistory(ctx); err != nil || len(h) != 1 || h[0] != (Segment{0, redo.StartLSN, 900}) {
		t.Fatalf("timeline 0 alone: %+v, %v", h, err)
	}
	// A restore to 500 made timeline 3 the main database; then one to 1200 of it, timeline 5.
	if err := st.RecordMain(ctx, Timeline{Timeline: 3, Base: 0, Start: 500}); err != nil {
		t.Fatal(err)
	}
	putChunk(t, st, 3, log, 500, 1300)
	if err := st.RecordMain(ctx, Timeline{Timeline: 5, Base: 3, Start: 1200}); err != nil {
		t.Fatal(err)
	}
	putChunk(t, st, 5, log, 1200, 1500)
	h, err := st.MainHistory(ctx)
	want := []Segment{{0, redo.StartLSN, 500}, {3, 500, 1200}, {5, 1200, 1500}}
	if err != nil || len(h) != len(want) {
		t.Fatalf("history: %+v, %v", h, err)
	}
	for i := range want {
		if h[i] != want[i] {
			t.Fatalf("history: %+v, want %+v", h, want)
		}
	}
	// A base whose archived log stops before the point the next timeline was made at.
	if err := st.RecordMain(ctx, Timeline{Timeline: 6, Base: 5, Start: 1800}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.MainHistory(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a history with a hole: %v", err)
	}
}

// RebuildPlan starts from the newest complete base on the main database's history: not an
// incomplete one, not one of a timeline's log past the point the next timeline was made at.
func TestRebuildPlan(t *testing.T) {
	st := localStore(t)
	ctx := context.Background()
	log := make([]byte, 3000)
	if err := st.RecordMain(ctx, Timeline{Timeline: 0}); err != nil {
		t.Fatal(err)
	}
	putChunk(t, st, 0, log, redo.StartLSN, 2000)
	if p, err := st.RebuildPlan(ctx); err != nil || p.Base != nil || p.Start() != redo.StartLSN || p.End() != 2000 {
		t.Fatalf("no base: %+v, %v", p, err)
	}
	pg := make([]byte, 2*page.Size) // two zero pages: not sealed, but PutBaseSegment does not check
	for _, lsn := range []page.LSN{300, 900, 1500} {
		if err := st.PutBaseSegment(ctx, 0, lsn, 0, pg); err != nil {
			t.Fatal(err)
		}
		if lsn != 1500 { // 1500 stays incomplete: no manifest
			if err := st.PutBase(ctx, Base{Timeline: 0, LSN: lsn, Segments: []BaseSegment{{0, 2}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	p, err := st.RebuildPlan(ctx)
	if err != nil || p.Base == nil || p.Base.LSN != 900 || p.Start() != 900 || len(p.History) != 1 || p.History[0].Start != 900 {
		t.Fatalf("with bases: %+v, %v", p, err)
	}
	// A restore to 600 of timeline 0 made timeline 2 the main database: 900 is past it.
	if err := st.RecordMain(ctx, Timeline{Timeline: 2, Base: 0, Start: 600}); err != nil {
		t.Fatal(err)
	}
	putChunk(t, st, 2, log, 600, 2500)
	p, err = st.RebuildPlan(ctx)
	if err != nil || p.Base == nil || p.Base.LSN != 300 || len(p.History) != 2 ||
		p.History[0] != (Segment{0, 300, 600}) || p.History[1] != (Segment{2, 600, 2500}) {
		t.Fatalf("after a restore: %+v, %v", p, err)
	}
	bases, err := st.Bases(ctx, 0)
	if err != nil || len(bases) != 2 {
		t.Fatalf("bases: %+v, %v", bases, err)
	}
	if err := st.DeleteBase(ctx, bases[0]); err != nil {
		t.Fatal(err)
	}
	if n, err := st.DeleteLogBelow(ctx, 0, 900); err != nil || n != 0 {
		t.Fatalf("delete log below 900: %d, %v (the one chunk ends at 2000)", n, err)
	}
	if p, err := st.RebuildPlan(ctx); err != nil || p.Base != nil {
		t.Fatalf("with no base before the restore point: %+v, %v", p, err)
	}
	// BaseSource: only at its position.
	src := BaseSource{Store: st, Base: bases[1]}
	if err := src.CopySegment(ctx, 0, 1000, func(int) {}, func(*page.Page) error { return nil }); !errors.Is(err, storage.ErrCompacted) {
		t.Fatalf("a copy at another position: %v", err)
	}
}
