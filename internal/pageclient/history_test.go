package pageclient_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"strata/internal/page"
	"strata/internal/pageclient"
	"strata/internal/pageserver/pstest"
	"strata/internal/redo"
	"strata/internal/storage"
)

// TestLSNAt asks three Page Stores with different history windows: the client answers from
// a store that found the time (the highest position when found answers differ), and
// ErrBeforeHistory with the union of the windows when none did, also with a store down;
// with every store down, or waiting past the deadline, it returns the error.
func TestLSNAt(t *testing.T) {
	w := pstest.NewWorkload(7, 1, 8)
	now := int64(1_700_000_000_000_000)
	w.Clock = func() int64 { now += 1000; return now }
	if err := w.Groups(20); err != nil {
		t.Fatal(err)
	}
	// A group without a commit: a floor there answers for the last commit before it.
	g := redo.NewGroup()
	g.Init(900, page.TypeLeaf, 0, 2)
	_, g1, err := w.Log.Append(g.Bytes(), true)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Groups(20); err != nil {
		t.Fatal(err)
	}
	end := w.Log.End()
	var reps []*pstest.Replica
	var addrs []string
	for range 3 {
		r := pstest.StartReplica(t, w.Log, secret, nil)
		r.WaitConsumed(t, end)
		reps, addrs = append(reps, r), append(addrs, r.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, h := range []page.LSN{g1, w.Ends[30]} { // stores 0 and 1 keep less history
		reps[i].Store.SetHorizon(h)
		if err := reps[i].Store.Compact(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cl, err := pageclient.New(pageclient.Options{Placement: pageclient.Static{Default: addrs}, Secret: secret, Logger: pstest.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	times, ends := w.Times, w.Ends
	newest := times[len(times)-1]
	check := func(at int64, want page.LSN, oldest int64) {
		t.Helper()
		tp, err := cl.LSNAt(ctx, at, end)
		switch {
		case want == 0 && (!errors.Is(err, storage.ErrBeforeHistory) || tp.LSN != 0):
			t.Fatalf("LSNAt(%d) = %+v, %v; want ErrBeforeHistory", at, tp, err)
		case want != 0 && (err != nil || tp.LSN != want):
			t.Fatalf("LSNAt(%d) = %+v, %v; want lsn %d", at, tp, err, want)
		case tp.Oldest != oldest || tp.Newest != newest:
			t.Fatalf("LSNAt(%d) window [%d, %d], want [%d, %d]", at, tp.Oldest, tp.Newest, oldest, newest)
		}
	}
	check(times[0]-1, 0, times[0])
	check(times[5], ends[5], times[0])       // only store 2 has it
	check(times[19], g1, times[0])           // store 0 answers its floor, store 2 ends[19]
	check(times[35]+500, ends[35], times[0]) // every store has it
	if _, err := cl.LSNAt(ctx, times[0]-1, end); !strings.Contains(err.Error(), "2023-11-14T22:13:20.000999Z") {
		t.Fatalf("LSNAt error %q does not name the time", err)
	}

	if err := reps[2].Server.Stop(); err != nil {
		t.Fatal(err)
	}
	check(times[5], 0, times[19])   // store 0's window starts at the commit before its floor
	check(times[19], g1, times[19]) // only store 0 answers for it
	check(times[39], ends[39], times[19])

	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = cl.LSNAt(short, times[39], end+1000)
	cancelShort()
	if err == nil || errors.Is(err, storage.ErrBeforeHistory) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LSNAt beyond the log = %v, want a deadline error", err)
	}
	for _, r := range reps[:2] {
		if err := r.Server.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cl.LSNAt(ctx, times[39], end); err == nil || errors.Is(err, storage.ErrBeforeHistory) {
		t.Fatalf("LSNAt with every store down = %v, want their errors", err)
	}
}
