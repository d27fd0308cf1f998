package meta

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"strata/internal/redo"
)

// A point-in-time restore swaps the main database's timeline in one step: the restore branch
// becomes the main database, the previous main database a branch whose epoch continues the
// main one's; a second restore stacks on the first; a branch another timeline is made from is
// retired, not deleted; half-made restores are refused.
func TestSwapMain(t *testing.T) {
	c := dial(t, startServer(t, t.TempDir()))
	ctx := context.Background()
	now := time.Now().UTC()
	if m, err := c.Main(ctx); err != nil || m.Timeline != 0 {
		t.Fatalf("main before any restore: %+v, %v", m, err)
	}
	for range 3 {
		if _, err := c.BumpEpoch(ctx); err != nil {
			t.Fatal(err)
		}
	}
	r, err := c.CreateBranch(ctx, Branch{Name: "r1", At: now, Restore: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SwapMain(ctx, "r1", "before"); !errors.Is(err, ErrNotReady) {
		t.Fatalf("swap before the point is fixed: %v", err)
	}
	if _, err := c.CreateBranch(ctx, Branch{Name: "plain", At: now}); err != nil {
		t.Fatal(err)
	}
	if err := c.FixBranch(ctx, Branch{Name: "plain", LSN: 500}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SwapMain(ctx, "plain", "before"); err == nil {
		t.Fatal("a plain branch became the main database")
	}
	if err := c.FixBranch(ctx, Branch{Name: "r1", LSN: 1000}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SwapMain(ctx, "r1", "plain"); !errors.Is(err, ErrExists) {
		t.Fatalf("keeping the main database under a taken name: %v", err)
	}
	m, err := c.SwapMain(ctx, "r1", "before")
	if err != nil {
		t.Fatal(err)
	}
	if m.Timeline != r.Timeline || m.LSN != 1000 || m.Base != 0 || m.Name != "" || m.Restore {
		t.Fatalf("new main: %+v", m)
	}
	if got, err := c.Main(ctx); err != nil || got.Timeline != r.Timeline {
		t.Fatalf("main after the swap: %+v, %v", got, err)
	}
	if _, err := c.Branch(ctx, "r1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the restore branch after the swap: %v", err)
	}
	prev, err := c.Branch(ctx, "before")
	if err != nil || prev.Timeline != 0 || prev.LSN != uint64(redo.StartLSN) || !prev.Serves() {
		t.Fatalf("the previous main database: %+v, %v", prev, err)
	}
	if e, err := c.ForBranch("before").BumpEpoch(ctx); err != nil || e != 4 {
		t.Fatalf("the previous main database's next epoch: %d, %v (must pass the main epoch 3)", e, err)
	}
	tls, err := c.Timelines(ctx)
	if err != nil || len(tls) != 3 || tls[0].Timeline != 0 || tls[1].Timeline != 1 || tls[2].Timeline != 2 {
		t.Fatalf("timelines: %+v, %v", tls, err)
	}

	// A second restore, from the restored main database.
	r2, err := c.CreateBranch(ctx, Branch{Name: "r2", At: now, Restore: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.FixBranch(ctx, Branch{Name: "r2", LSN: 2000, Base: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SwapMain(ctx, "r2", "before2"); err == nil {
		t.Fatal("a restore made from another timeline than the main one's was swapped in")
	}
	if _, err := c.DeleteBranch(ctx, "r2"); err != nil {
		t.Fatal(err)
	}
	r3, err := c.CreateBranch(ctx, Branch{Name: "r3", At: now, Restore: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.FixBranch(ctx, Branch{Name: "r3", LSN: 1500, Base: r.Timeline}); err != nil {
		t.Fatal(err)
	}
	if m, err = c.SwapMain(ctx, "r3", "before2"); err != nil || m.Timeline != r3.Timeline || m.Base != r.Timeline {
		t.Fatalf("second restore: %+v, %v", m, err)
	}
	if b, err := c.Branch(ctx, "before2"); err != nil || b.Timeline != r.Timeline || b.LSN != 1000 || b.Base != 0 {
		t.Fatalf("the first restored database kept: %+v, %v", b, err)
	}
	_ = r2

	// Deleting: "before" (timeline 0) has a child (before2) and is retired; before2 has the
	// main database as child and is retired; "plain" has none and goes.
	for _, c2 := range []struct {
		name    string
		retired bool
	}{{"before", true}, {"before2", true}, {"plain", false}} {
		retired, err := c.DeleteBranch(ctx, c2.name)
		if err != nil || retired != c2.retired {
			t.Fatalf("delete %s: retired %v, %v", c2.name, retired, err)
		}
		if _, err := c.DeleteBranch(ctx, c2.name); !errors.Is(err, ErrNotFound) {
			t.Fatalf("delete %s again: %v", c2.name, err)
		}
	}
	if b, err := c.Branch(ctx, "before"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a retired branch still listed: %+v, %v", b, err)
	}
	tls, err = c.Timelines(ctx)
	if err != nil || len(tls) != 3 || !tls[0].Retired || !tls[1].Retired || tls[2].Retired {
		t.Fatalf("timelines after the deletes: %+v, %v (retired ones stay)", tls, err)
	}
	// A branch of a branch: deleting the parent retires it; deleting the child then collects
	// the retired parent too.
	p1, err := c.CreateBranch(ctx, Branch{Name: "p1", At: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.FixBranch(ctx, Branch{Name: "p1", LSN: 3000, Base: r3.Timeline}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateBranch(ctx, Branch{Name: "c1", At: now, From: "p1"}); err != nil {
		t.Fatal(err)
	}
	if err := c.FixBranch(ctx, Branch{Name: "c1", LSN: 3500, Base: p1.Timeline}); err != nil {
		t.Fatal(err)
	}
	if retired, err := c.DeleteBranch(ctx, "p1"); err != nil || !retired {
		t.Fatalf("delete p1 with a branch made from it: %v, %v", retired, err)
	}
	if retired, err := c.DeleteBranch(ctx, "c1"); err != nil || retired {
		t.Fatalf("delete c1: %v, %v", retired, err)
	}
	tls, err = c.Timelines(ctx)
	if err != nil || slices.ContainsFunc(tls, func(b Branch) bool { return b.Timeline == p1.Timeline }) {
		t.Fatalf("the retired p1 outlived its last child: %+v, %v", tls, err)
	}
	// The name of a retired branch is free again.
	if _, err := c.CreateBranch(ctx, Branch{Name: "before", At: now}); err != nil {
		t.Fatalf("a new branch under a retired one's name: %v", err)
	}
}

// InHistory: a position is in a timeline's history on its own timeline, and on timelines made
// from it at or above it.
func TestInHistory(t *testing.T) {
	tls := []Branch{
		{Name: "before", Timeline: 0, LSN: 64},
		{Name: "", Timeline: 3, Base: 1, LSN: 1500},
		{Name: "before2", Timeline: 1, Base: 0, LSN: 1000},
		{Name: "dev", Timeline: 4, Base: 3, LSN: 3000},
	}
	for _, c := range []struct {
		lsn, of, tl uint64
		want        bool
	}{
		{5000, 0, 0, true},
		{900, 0, 1, true},
		{1000, 0, 1, true},
		{1001, 0, 1, false},
		{900, 0, 3, true},
		{1200, 0, 3, false}, // timeline 0 past the point timeline 1 was made at
		{1200, 1, 3, true},
		{1600, 1, 3, false},
		{2500, 3, 4, true},
		{900, 0, 4, true},
		{3500, 3, 4, false},
		{100, 4, 0, false},
		{100, 9, 3, false},
	} {
		if got := InHistory(c.lsn, c.of, c.tl, tls); got != c.want {
			t.Errorf("InHistory(%d of %d, on %d) = %v, want %v", c.lsn, c.of, c.tl, got, c.want)
		}
	}
}
