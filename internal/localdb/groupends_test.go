package localdb

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/engine"
	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/storage"
)

// fixedLog is a read-only log that ends at a given group end: an engine opened over it sees
// the database exactly as a crash at that point would leave it.
type fixedLog struct {
	storage.LogReader
	end page.LSN
}

func (l fixedLog) Durable() page.LSN { return l.end }
func (l fixedLog) End() page.LSN     { return l.end }
func (l fixedLog) Append([]byte, bool) (page.LSN, page.LSN, error) {
	return 0, 0, errors.New("fixedLog: read-only")
}
func (l fixedLog) WaitDurable(ctx context.Context, lsn page.LSN) error { return nil }
func (l fixedLog) Truncate(page.LSN) error                             { return nil }
func (l fixedLog) Close() error                                        { return nil }

// TestEveryGroupEndIsConsistent runs the metamorphic workload (concurrent transactions, a tiny
// pool, spills, purge) without crashing, then opens the database as of many of the log's group
// ends, each through the page store's history: at every one the trees must pass the checker
// and hold exactly the commits that ended there. A crash can stop the log at any group end,
// so this is the property crash recovery relies on, checked without the randomness of a
// crash.
func TestEveryGroupEndIsConsistent(t *testing.T) {
	ctx := context.Background()
	cfg := mcfg{keys: 3000, workers: 4, txnsPerRound: 1500, frames: 32}
	samples := 40
	if *long {
		cfg = mcfg{keys: 20000, workers: 8, txnsPerRound: 40000, frames: 64}
		samples = 400
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := Open(ctx, Options{FS: vfs.NewMem(), Dir: "db", PoolFrames: cfg.frames, LockWaitTimeout: 100 * time.Millisecond,
		PurgeInterval: 50 * time.Millisecond, CompactInterval: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tree, err := db.CreateTree(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	created := db.VisibleLSN() // group ends before it have no "data" tree yet
	m := &mmodel{}
	rng := rand.New(rand.NewSource(seed))
	var wg sync.WaitGroup
	for w := 0; w < cfg.workers; w++ {
		r := rand.New(rand.NewSource(rng.Int63()))
		wg.Go(func() {
			for i := 0; i < cfg.txnsPerRound/cfg.workers; i++ {
				runTxn(t, db.DB, tree, m, r, cfg)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	m.check(t)

	// Every group end in the log.
	var ends []page.LSN
	var buf []byte
	for pos := page.LSN(redo.StartLSN); pos < db.Log.Durable(); {
		b, err := db.Log.Read(ctx, pos, 1<<20)
		if err != nil {
			t.Fatalf("read the log at %d: %v", pos, err)
		}
		base := pos - page.LSN(len(buf))
		buf = append(buf, b...)
		pos += page.LSN(len(b))
		n, err := redo.Scan(buf, func(off int, r redo.Record) error {
			if e := base + page.LSN(off+r.Size()); r.Flags&redo.FlagGroupEnd != 0 && e >= created {
				ends = append(ends, e)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		buf = append(buf[:0], buf[n:]...)
	}
	if len(ends) < 2 {
		t.Fatalf("only %d groups", len(ends))
	}
	picked := map[page.LSN]bool{ends[len(ends)-1]: true}
	for len(picked) < min(samples, len(ends)) {
		picked[ends[rng.Intn(len(ends))]] = true
	}
	order := slices.Sorted(func(yield func(page.LSN) bool) {
		for e := range picked {
			if !yield(e) {
				return
			}
		}
	})
	t.Logf("%d groups, checking %d of them", len(ends), len(order))
	for _, end := range order {
		at, err := engine.Open(ctx, engine.Options{Log: fixedLog{LogReader: db.Log, end: end}, Pages: db.Pages,
			PoolFrames: cfg.frames, PurgeInterval: -1, Logger: quiet})
		if err != nil {
			t.Fatalf("open at %d: %v", end, err)
		}
		if err := at.CheckTrees(ctx); err != nil {
			at.Close()
			t.Fatalf("at group end %d: %v", end, err)
		}
		tr, err := at.Tree("data")
		if err != nil {
			at.Close()
			t.Fatalf("at group end %d: %v", end, err)
		}
		want := expect(stateAt(m.commits, end), mobs{op: "scan", limit: 1 << 30})
		txn, _ := at.Begin(engine.TxnOptions{ReadOnly: true})
		var got []string
		it := txn.Scan(ctx, tr, nil, nil, false)
		for it.Next() {
			got = append(got, string(it.Key())+"="+string(it.Value()))
		}
		err = it.Err()
		txn.Rollback()
		at.Close()
		if err != nil {
			t.Fatalf("at group end %d: %v", end, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("at group end %d: %d rows, the model %d", end, len(got), len(want))
		}
	}
}
