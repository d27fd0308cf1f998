package archive

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"strata/internal/page"
	"strata/internal/redo"
)

// pointLog builds a log from redo.StartLSN of n groups; group i commits at base+i seconds,
// except every fifth, which commits nothing. It returns the log (indexed by position) and the
// end of each group.
func pointLog(n int, base time.Time) ([]byte, []page.LSN) {
	log := make([]byte, redo.StartLSN)
	var ends []page.LSN
	for i := range n {
		g := redo.NewGroup()
		g.Insert(page.ID(2+i%7), 0, bytes.Repeat([]byte{byte(i)}, 100+i))
		if i%5 != 4 {
			g.Commit(uint64(i), base.Add(time.Duration(i)*time.Second).UnixMicro())
		}
		log = append(log, g.Bytes()...)
		ends = append(ends, page.LSN(len(log)))
	}
	return log, ends
}

// FindPoint finds the end of the last group committed by a moment, or at or below a position,
// starting from the newest base before it, or from the log's beginning; and refuses what the
// archive does not hold.
func TestFindPoint(t *testing.T) {
	st := localStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	log, ends := pointLog(40, t0)
	// Chunks at arbitrary group ends.
	cuts := []page.LSN{redo.StartLSN, ends[6], ends[19], ends[33], ends[39]}
	for i := 1; i < len(cuts); i++ {
		putChunk(t, st, 0, log, cuts[i-1], cuts[i])
	}
	if err := st.RecordMain(ctx, Timeline{Timeline: 0}); err != nil {
		t.Fatal(err)
	}
	hist, err := st.MainHistory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	at := func(sec float64) Target { return Target{At: t0.Add(time.Duration(sec * float64(time.Second)))} }

	check := func(what string, target Target, lsn, start page.LSN, base bool) {
		t.Helper()
		p, err := st.FindPoint(ctx, hist, target)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if p.LSN != lsn || p.Start() != start || (p.Base != nil) != base {
			t.Fatalf("%s: point %d from %d (base %v), want %d from %d (base %v)", what, p.LSN, p.Start(), p.Base != nil, lsn, start, base)
		}
		// The log to copy runs from the start to the point, and is the log.
		var got []byte
		for _, s := range p.Log {
			b, err := st.ReadLog(ctx, s.Timeline, s.Start, s.End)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, b...)
		}
		if !bytes.Equal(got, log[start:lsn]) {
			t.Fatalf("%s: the log to copy is %d bytes, want [%d, %d)", what, len(got), start, lsn)
		}
	}
	// No base: from the log's beginning.
	check("a moment between commits", at(10.5), ends[10], redo.StartLSN, false)
	check("a moment on a commit", at(12), ends[12], redo.StartLSN, false)
	check("a group without a commit is not a point", at(14.2), ends[13], redo.StartLSN, false)
	check("a position inside a group", Target{LSN: ends[21] + 3}, ends[21], redo.StartLSN, false)
	check("a position on a group end", Target{LSN: ends[22]}, ends[22], redo.StartLSN, false)
	for _, target := range []Target{{At: t0.Add(-time.Hour)}, {LSN: ends[0] - 1}} {
		if _, err := st.FindPoint(ctx, hist, target); !errors.Is(err, ErrNotArchived) {
			t.Fatalf("%s before the first commit: %v", target, err)
		}
	}

	// Bases at groups 8 and 25, taken a little after their last commit.
	for _, i := range []int{8, 25} {
		b := Base{Timeline: 0, LSN: ends[i], Created: t0.Add(time.Duration(i)*time.Second + 300*time.Millisecond)}
		if err := st.PutBase(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	check("after the newest base", at(30), ends[30], ends[25], true)
	check("between the bases", at(20), ends[20], ends[8], true)
	check("a moment a base was not taken by yet", at(25.1), ends[25], ends[8], true)
	check("a position after a base", Target{LSN: ends[10]}, ends[10], ends[8], true)
	check("no commit after the base", Target{LSN: ends[9]}, ends[8], ends[8], true)
	check("a position on a base", Target{LSN: ends[25]}, ends[25], ends[25], true)
	check("before the oldest base, from the log's beginning", at(3), ends[3], redo.StartLSN, false)

	// A timeline made at the archived log's end, with no log archived yet (a restore just
	// made): nothing of it to read.
	if err := st.RecordMain(ctx, Timeline{Timeline: 2, Base: 0, Start: ends[39]}); err != nil {
		t.Fatal(err)
	}
	if hist, err = st.MainHistory(ctx); err != nil || len(hist) != 2 {
		t.Fatalf("history through an empty timeline: %+v, %v", hist, err)
	}
	check("through an empty timeline", at(30), ends[30], ends[25], true)
	check("from the log's beginning through an empty timeline", at(3), ends[3], redo.StartLSN, false)

	// Too new: beyond the archived log (the rest may not be archived yet).
	for _, target := range []Target{at(3600), {LSN: ends[39] + 1}} {
		if _, err := st.FindPoint(ctx, hist, target); !errors.Is(err, ErrNotArchived) {
			t.Fatalf("%s beyond the archive: %v", target, err)
		}
	}
	// Once the log below the oldest base is pruned, only what is after it can be found.
	if _, err := st.DeleteLogBelow(ctx, 0, ends[8]); err != nil {
		t.Fatal(err)
	}
	if hist, err = st.MainHistory(ctx); err != nil {
		t.Fatal(err)
	}
	check("after pruning", at(11), ends[11], ends[8], true)
	if _, err := st.FindPoint(ctx, hist, at(3)); !errors.Is(err, ErrNotArchived) {
		t.Fatalf("a moment before the oldest base after pruning: %v", err)
	}
}
