package localdb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/engine"
)

// TestReadAfterCompaction: a page evicted from the buffer pool long ago is read back after the
// page store compacted its history past the page's last change. The pool asks for the page at
// the position after that change, which is below the compaction floor; it must still get the
// page (at a newer position, where it is the same) instead of failing.
func TestReadAfterCompaction(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := Open(ctx, Options{FS: vfs.NewMem(), Dir: "db", PoolFrames: 16, PurgeInterval: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tree, err := db.CreateTree(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	val := make([]byte, 300)
	const rows = 2000 // about 40 leaves through 16 frames
	for i := 0; i < rows; i += 100 {
		txn, _ := db.Begin(engine.TxnOptions{})
		for j := i; j < i+100; j++ {
			if err := txn.Put(ctx, tree, []byte(fmt.Sprintf("k%06d", j)), val); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := txn.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if db.Pool().Stats().Evictions == 0 {
		t.Fatal("expected evictions")
	}
	// Fold all history below the current end into one image per page. Compaction stops at what
	// the page store has consumed, which follows the log in the background: wait for it.
	end := db.VisibleLSN()
	for deadline := time.Now().Add(10 * time.Second); db.Pages.Consumed() < end; {
		if time.Now().After(deadline) {
			t.Fatalf("page store consumed %d, log visible to %d", db.Pages.Consumed(), end)
		}
		time.Sleep(time.Millisecond)
	}
	db.Pages.SetHorizon(end)
	if err := db.Pages.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if db.Pages.Stats().Compacted == 0 {
		t.Fatal("compaction removed nothing")
	}
	txn, _ := db.Begin(engine.TxnOptions{ReadOnly: true})
	defer txn.Rollback()
	n := 0
	it := txn.Scan(ctx, tree, nil, nil, false)
	for it.Next() {
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if n != rows {
		t.Fatalf("scanned %d rows, want %d", n, rows)
	}
	if err := db.CheckTrees(ctx); err != nil {
		t.Fatal(err)
	}
}
