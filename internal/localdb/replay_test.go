package localdb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/bufpool"
	"strata/internal/engine"
	"strata/internal/page"
	"strata/internal/pagestore"
)

// TestReplayIdenticalPages rebuilds every page from the log alone, in a new Page Store that
// never saw the engine, and compares each with the read-write node's buffer pool copy at the
// same LSN: same bytes, same checksum, after splits, merges, overflow chains and purge.
func TestReplayIdenticalPages(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := Open(ctx, Options{FS: fs, Dir: "db", PoolFrames: 4096, PurgeInterval: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tree, err := db.CreateTree(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 11))
	for round := 0; round < 40; round++ {
		txn, _ := db.Begin(engine.TxnOptions{})
		for i := 0; i < 100; i++ {
			k := []byte(fmt.Sprintf("key%06d", rng.IntN(3000)))
			if rng.IntN(3) == 0 {
				txn.Delete(ctx, tree, k)
				continue
			}
			n := rng.IntN(500)
			if rng.IntN(30) == 0 {
				n = 20000
			}
			txn.Put(ctx, tree, k, make([]byte, n))
		}
		if _, err := txn.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if round%10 == 9 {
			if _, err := db.Purge(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.CheckTrees(ctx); err != nil {
		t.Fatal(err)
	}
	// A second Page Store, built from the log alone.
	replay, err := pagestore.Open(ctx, pagestore.Options{FS: vfs.NewMem(), Dir: "replay", Log: db.Log, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer replay.Close()
	replay.Start()
	compared := 0
	pool := db.Pool()
	for id := page.ID(1); id < 200000; id++ {
		if !pool.Cached(id) {
			continue
		}
		f, err := pool.Get(ctx, id, bufpool.Shared)
		if err != nil {
			t.Fatal(err)
		}
		want := f.Page
		pool.Release(f, bufpool.Shared)
		want.Seal()
		var got page.Page
		if err := replay.GetPage(ctx, id, want.LSN()+1, &got); err != nil {
			t.Fatalf("page %d: %v", id, err)
		}
		if got.StoredChecksum() != want.StoredChecksum() || got != want {
			t.Fatalf("page %d (%s) at LSN %d: replayed checksum %08x, buffer pool %08x",
				id, want.Type(), want.LSN(), got.StoredChecksum(), want.StoredChecksum())
		}
		compared++
	}
	if compared < 100 {
		t.Fatalf("compared only %d pages", compared)
	}
	t.Logf("%d pages identical", compared)
}
