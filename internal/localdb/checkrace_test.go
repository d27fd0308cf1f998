package localdb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/engine"
)

// TestCheckWhilePurging: the invariant checker runs while purge deletes versions and merges
// leaves. It must see a consistent tree (it excludes writers), not report a merge it saw
// half of as corruption.
func TestCheckWhilePurging(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := Open(ctx, Options{FS: vfs.NewMem(), Dir: "db", PoolFrames: 64, PurgeInterval: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tree, err := db.CreateTree(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	val := make([]byte, 200)
	const rows = 6000
	put := func(del bool) {
		for i := 0; i < rows; i += 500 {
			txn, _ := db.Begin(engine.TxnOptions{})
			for j := i; j < i+500; j++ {
				k := []byte(fmt.Sprintf("k%06d", j))
				if del && j%4 != 0 {
					err = txn.Delete(ctx, tree, k)
				} else {
					err = txn.Put(ctx, tree, k, val)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if _, err := txn.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	for round := 0; round < 3; round++ {
		put(false)
		put(true) // three quarters deleted: purge merges most leaves
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := db.Purge(ctx); err != nil {
				t.Error(err)
			}
		})
		for i := 0; i < 20; i++ {
			if err := db.CheckTrees(ctx); err != nil {
				t.Fatalf("round %d check %d: %v", round, i, err)
			}
		}
		wg.Wait()
	}
}
