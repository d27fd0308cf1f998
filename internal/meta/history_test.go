package meta

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The history window and snapshots: recorded, listed oldest first, fixed once (a second fix
// or a fix of a deleted snapshot changes nothing), names checked, deleted.
func TestHistoryAndSnapshots(t *testing.T) {
	c := dial(t, startServer(t, t.TempDir()))
	ctx := context.Background()
	if w, err := c.HistoryWindow(ctx, DefaultHistoryWindow); err != nil || w != DefaultHistoryWindow {
		t.Fatalf("window before any: %v, %v", w, err)
	}
	if err := c.SetHistory(ctx, History{Window: 0}); err != nil {
		t.Fatal(err)
	}
	if w, err := c.HistoryWindow(ctx, DefaultHistoryWindow); err != nil || w != 0 {
		t.Fatalf("window 0: %v, %v", w, err)
	}
	if err := c.SetHistory(ctx, History{Window: -time.Second}); err == nil {
		t.Fatal("a negative window was recorded")
	}

	now := time.Now().UTC()
	for _, s := range []Snapshot{{Name: "b", At: now}, {Name: "a", At: now.Add(-time.Minute)}} {
		if err := c.CreateSnapshot(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.CreateSnapshot(ctx, Snapshot{Name: "a", At: now}); !errors.Is(err, ErrExists) {
		t.Fatalf("a taken name: %v", err)
	}
	for _, bad := range []string{"", "1a", "a/b", "a b", string(make([]byte, 65))} {
		if err := c.CreateSnapshot(ctx, Snapshot{Name: bad, At: now}); err == nil || errors.Is(err, ErrExists) {
			t.Fatalf("name %q: %v", bad, err)
		}
	}
	snaps, err := c.Snapshots(ctx)
	if err != nil || len(snaps) != 2 || snaps[0].Name != "a" || !snaps[0].Pending() {
		t.Fatalf("snapshots: %+v, %v", snaps, err)
	}
	if err := c.FixSnapshot(ctx, Snapshot{Name: "a", LSN: 100}); err != nil {
		t.Fatal(err)
	}
	if err := c.FixSnapshot(ctx, Snapshot{Name: "a", LSN: 200}); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Snapshot(ctx, "a"); err != nil || s.LSN != 100 || s.Pending() || !s.At.Equal(now.Add(-time.Minute)) {
		t.Fatalf("fixed snapshot: %+v, %v", s, err)
	}
	if err := c.DeleteSnapshot(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.FixSnapshot(ctx, Snapshot{Name: "a", LSN: 300}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Snapshot(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a deleted snapshot: %v", err)
	}
	if err := c.DeleteSnapshot(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting it again: %v", err)
	}
}

// Branches: each gets the next timeline number, once per name, even when created at once;
// they are listed by timeline, fixed once, deleted; a snapshot a branch waits for cannot be
// deleted.
func TestBranches(t *testing.T) {
	c := dial(t, startServer(t, t.TempDir()))
	ctx := context.Background()
	now := time.Now().UTC()
	if err := c.CreateSnapshot(ctx, Snapshot{Name: "s", At: now}); err != nil {
		t.Fatal(err)
	}
	names := []string{"a", "b", "c", "d", "e", "f"}
	errs := make(chan error, len(names))
	for _, n := range names {
		go func() {
			_, err := c.CreateBranch(ctx, Branch{Name: n, At: now, Snapshot: map[bool]string{true: "s"}[n == "a"], Created: now})
			errs <- err
		}()
	}
	for range names {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateBranch(ctx, Branch{Name: "a", At: now}); !errors.Is(err, ErrExists) {
		t.Fatalf("a taken name: %v", err)
	}
	if _, err := c.CreateBranch(ctx, Branch{Name: "1x", At: now}); err == nil {
		t.Fatal("a bad name was taken")
	}
	bs, err := c.Branches(ctx)
	if err != nil || len(bs) != len(names) {
		t.Fatalf("branches: %+v, %v", bs, err)
	}
	for i, b := range bs {
		if b.Timeline != uint64(i+1) || !b.Pending() {
			t.Fatalf("branch %d: %+v (timelines must be 1..%d, each once)", i, b, len(names))
		}
	}
	if err := c.DeleteSnapshot(ctx, "s"); !errors.Is(err, ErrInUse) {
		t.Fatalf("deleting a snapshot a branch waits for: %v", err)
	}
	if err := c.FixBranch(ctx, Branch{Name: "a", LSN: 777}); err != nil {
		t.Fatal(err)
	}
	if err := c.FixBranch(ctx, Branch{Name: "a", LSN: 888}); err != nil {
		t.Fatal(err)
	}
	if b, err := c.Branch(ctx, "a"); err != nil || b.LSN != 777 || b.Snapshot != "s" {
		t.Fatalf("fixed branch: %+v, %v", b, err)
	}
	if err := c.DeleteSnapshot(ctx, "s"); err != nil {
		t.Fatalf("deleting a snapshot once the branch point is fixed: %v", err)
	}
	if _, err := c.DeleteBranch(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBranch(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting it again: %v", err)
	}
	if b, err := c.CreateBranch(ctx, Branch{Name: "a", At: now}); err != nil || b.Timeline != uint64(len(names)+1) {
		t.Fatalf("a new branch of a deleted one's name: %+v, %v (timelines are never reused)", b, err)
	}
}
