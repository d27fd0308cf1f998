package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestOpenPast: a past view reads the database exactly as it was at its position, after the
// writer rewrote and deleted the rows, purged every old version and dropped the tree; it
// holds the page horizon at its position while open and refuses changes.
func TestOpenPast(t *testing.T) {
	ctx := context.Background()
	env := &memEnv{}
	rw := openMem(t, env, 0)
	tr := mustTree(t, rw, "t")
	putRows(t, rw, tr, 400, "one")
	at := rw.VisibleLSN()
	want := rows(t, rw, "t")

	putRows(t, rw, tr, 600, "two")
	del := begin(t, rw, TxnOptions{})
	for i := 0; i < 600; i += 2 {
		if err := del.Delete(ctx, tr, fmt.Appendf(nil, "k%04d", i)); err != nil {
			t.Fatal(err)
		}
	}
	mustCommit(t, del)
	if _, err := rw.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rw.DropTree(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	before := rw.PageHorizon()

	past, err := rw.OpenPast(ctx, at, 8) // 8 frames: scans evict and read back at the view
	if err != nil {
		t.Fatal(err)
	}
	if h := rw.PageHorizon(); h > at {
		t.Fatalf("page horizon %d with a past view open at %d", h, at)
	}
	if p := rw.Pinned(); p != at {
		t.Fatalf("Pinned = %d with a past view open at %d", p, at)
	}
	// Another node's past view holds the horizon too, until it says it is gone.
	rw.ReportPinned("ro-1", at-1)
	if h := rw.PageHorizon(); h != at-1 {
		t.Fatalf("page horizon %d with a reader's past view at %d", h, at-1)
	}
	rw.ReportPinned("ro-1", 0)
	if h := rw.PageHorizon(); h != at {
		t.Fatalf("page horizon %d once the reader's past view is gone, want %d", h, at)
	}
	sameRows(t, "as of the past position", rows(t, past, "t"), want)
	txn := begin(t, past, TxnOptions{})
	if err := txn.Put(ctx, tr, []byte("k"), []byte("v")); err == nil {
		if _, err := txn.Commit(ctx); !errors.Is(err, ErrReadOnlyNode) {
			t.Fatalf("a change in the past: %v", err)
		}
	} else if !errors.Is(err, ErrReadOnlyNode) {
		t.Fatalf("a change in the past: %v", err)
	}
	txn.Rollback()
	if err := past.Close(); err != nil {
		t.Fatal(err)
	}
	if h := rw.PageHorizon(); h < before {
		t.Fatalf("page horizon %d after the past view closed, %d before it opened", h, before)
	}
	if p := rw.Pinned(); p != 0 {
		t.Fatalf("Pinned = %d with no past view open", p)
	}
	if _, err := rw.OpenPast(ctx, rw.VisibleLSN()+1, 8); err == nil {
		t.Fatal("a past view beyond the visible LSN opened")
	}
	if _, err := rw.LSNAt(ctx, 0); !errors.Is(err, ErrNoHistory) {
		t.Fatalf("LSNAt without a time index: %v", err)
	}
}
