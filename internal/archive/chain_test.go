package archive

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"strata/internal/page"
	"strata/internal/redo"
)

// put stores the chunk [start, end) of timeline tl, its bytes b[start:end].
func putChunk(t *testing.T, st *Store, tl uint64, b []byte, start, end page.LSN) {
	t.Helper()
	if err := st.Put(context.Background(), LogKey(tl, start, end), bytes.NewReader(b[start:end]), int64(end-start)); err != nil {
		t.Fatal(err)
	}
}

// Overlapping chunks (two writers cutting the same log at different group ends) read back as
// the log once; a hole is an error.
func TestLogChunksOverlap(t *testing.T) {
	local, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := NewStore(local)
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
	local, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := NewStore(local)
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
