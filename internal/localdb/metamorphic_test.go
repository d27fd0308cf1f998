package localdb

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand"
	randv2 "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/engine"
	"strata/internal/lock"
	"strata/internal/page"
)

var long = flag.Bool("long", false, "run the metamorphic test for minutes instead of seconds")

// The metamorphic test runs random concurrent transactions (get, scan, put, delete, savepoint,
// rollback to savepoint, commit, rollback) against the real durable stack (file log, page
// store, engine) on a crashable in-memory file system, with a buffer pool much smaller than
// the data, and checks every read against a model of snapshot isolation: a read at snapshot X
// sees exactly the transactions whose commit group ended at or below X, plus the reader's own
// writes. Between rounds it crashes the machine (losing unsynced writes, at random), reopens,
// and checks that the database equals the model at the recovered end of the log: every
// acknowledged commit present, nothing else, and every tree passing the invariant checker.

type mmodel struct {
	mu      sync.Mutex
	commits []mcommit
	obs     []mobs
}

type mcommit struct {
	end    page.LSN
	writes map[string]*string // nil: deleted
}

type mobs struct {
	snap    page.LSN
	own     map[string]*string
	op      string // "get" or "scan"
	key     string
	lo, hi  string
	reverse bool
	limit   int
	got     []string // "k=v" pairs (get: zero or one)
	txn     uint64
}

func (m *mmodel) commit(end page.LSN, w map[string]*string) {
	m.mu.Lock()
	m.commits = append(m.commits, mcommit{end, w})
	m.mu.Unlock()
}

func (m *mmodel) observe(o mobs) {
	m.mu.Lock()
	m.obs = append(m.obs, o)
	m.mu.Unlock()
}

// stateAt folds the commits ending at or below x.
func stateAt(commits []mcommit, x page.LSN) map[string]string {
	st := map[string]string{}
	for _, c := range commits {
		if c.end > x {
			break
		}
		for k, v := range c.writes {
			if v == nil {
				delete(st, k)
			} else {
				st[k] = *v
			}
		}
	}
	return st
}

func expect(st map[string]string, o mobs) []string {
	view := maps.Clone(st)
	for k, v := range o.own {
		if v == nil {
			delete(view, k)
		} else {
			view[k] = *v
		}
	}
	if o.op == "get" {
		if v, ok := view[o.key]; ok {
			return []string{o.key + "=" + v}
		}
		return nil
	}
	var keys []string
	for k := range view {
		if (o.lo == "" || k >= o.lo) && (o.hi == "" || k < o.hi) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if o.reverse {
		slices.Reverse(keys)
	}
	if len(keys) > o.limit {
		keys = keys[:o.limit]
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + view[k]
	}
	return out
}

// check verifies every observation against the model and clears them.
func (m *mmodel) check(t *testing.T) {
	m.mu.Lock()
	defer m.mu.Unlock()
	slices.SortFunc(m.commits, func(a, b mcommit) int { return int(a.end) - int(b.end) })
	slices.SortFunc(m.obs, func(a, b mobs) int { return int(a.snap) - int(b.snap) })
	st := map[string]string{}
	ci := 0
	for _, o := range m.obs {
		for ; ci < len(m.commits) && m.commits[ci].end <= o.snap; ci++ {
			for k, v := range m.commits[ci].writes {
				if v == nil {
					delete(st, k)
				} else {
					st[k] = *v
				}
			}
		}
		want := expect(st, o)
		if !slices.Equal(o.got, want) {
			t.Fatalf("txn %d %s at snapshot %d (key %q range [%q,%q) rev=%v):\n got  %v\n want %v",
				o.txn, o.op, o.snap, o.key, o.lo, o.hi, o.reverse, short(o.got), short(want))
		}
	}
	m.obs = nil
}

func short(kvs []string) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		if len(kv) > 40 {
			kv = kv[:40] + fmt.Sprintf("…(%d)", len(kv))
		}
		out[i] = kv
	}
	return out
}

// truncate keeps the commits ending at or below end: the rest were lost in the crash.
func (m *mmodel) truncate(end page.LSN) {
	m.mu.Lock()
	defer m.mu.Unlock()
	kept := m.commits[:0]
	for _, c := range m.commits {
		if c.end <= end {
			kept = append(kept, c)
		}
	}
	m.commits = kept
}

type mcfg struct {
	keys, workers, txnsPerRound, rounds, frames int
	crashWithinMs                               int
	// extraCrashes is how many more crash images a round takes while the workers run, besides
	// the one it continues from; each is reopened and checked after the round.
	extraCrashes int
}

func TestMetamorphic(t *testing.T) {
	cfg := mcfg{keys: 3000, workers: 4, txnsPerRound: 2000, rounds: 5, frames: 32, crashWithinMs: 400}
	if testing.Short() {
		cfg.rounds = 3
	}
	if *long {
		cfg = mcfg{keys: 20000, workers: 8, txnsPerRound: 200000, rounds: 40, frames: 64, crashWithinMs: 5000, extraCrashes: 3}
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	runMetamorphic(t, cfg, seed)
}

func runMetamorphic(t *testing.T, cfg mcfg, seed int64) {
	ctx := context.Background()
	rng := rand.New(rand.NewSource(seed))
	fs := vfs.NewCrashableMem()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func(fs vfs.FS) *DB {
		// Every other opening, at random, has a second-tier page cache of four times the
		// pool behind it: evicted pages come back from it, or from the page store when it
		// no longer holds them.
		var tier int64
		if rng.Intn(2) == 0 {
			tier = int64(4*cfg.frames) * page.Size
		}
		db, err := Open(ctx, Options{FS: fs, Dir: "db", PoolFrames: cfg.frames, LockWaitTimeout: 100 * time.Millisecond,
			PurgeInterval: 50 * time.Millisecond, CompactInterval: 300 * time.Millisecond, Logger: quiet, DiskCacheBytes: tier})
		if err != nil {
			t.Fatal(err)
		}
		if tier > 0 {
			t.Cleanup(func() { t.Logf("second tier: %+v", db.DiskCache.Stats()) })
		}
		return db
	}
	db := open(fs)
	tree, err := db.CreateTree(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	m := &mmodel{}
	for round := 0; round < cfg.rounds; round++ {
		var wg sync.WaitGroup
		var stats [4]int64 // commits, rollbacks, lock errors, reads
		var statsMu sync.Mutex
		stop := make(chan struct{})
		for w := 0; w < cfg.workers; w++ {
			wg.Add(1)
			wseed := rng.Int63()
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewSource(wseed))
				for i := 0; i < cfg.txnsPerRound/cfg.workers; i++ {
					select {
					case <-stop:
						return
					default:
					}
					res := runTxn(t, db.DB, tree, m, r, cfg)
					statsMu.Lock()
					stats[res]++
					statsMu.Unlock()
				}
			}()
		}
		// Crash at random moments while the workers run: the last image is the one the test
		// goes on from; the others are only reopened and checked.
		type image struct {
			fs    *vfs.MemFS
			acked page.LSN
		}
		var images []image
		for range cfg.extraCrashes + 1 {
			time.Sleep(time.Duration(50+rng.Intn(cfg.crashWithinMs/(cfg.extraCrashes+1))) * time.Millisecond)
			acked := ackedEnd(m)
			crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.Intn(60), RNG: randv2.New(randv2.NewPCG(uint64(rng.Int63()), 1))})
			images = append(images, image{crashed, acked})
		}
		close(stop)
		wg.Wait()
		if t.Failed() {
			return
		}
		m.check(t)
		if err := db.CheckTrees(ctx); err != nil {
			t.Fatalf("round %d before crash: %v", round, err)
		}
		db.Close()
		for i, im := range images[:len(images)-1] {
			checkCrashImage(t, ctx, open, m, im.fs, im.acked, seed, fmt.Sprintf("round %d extra crash %d", round, i))
		}
		acked, crashed := images[len(images)-1].acked, images[len(images)-1].fs

		pristine := crashed.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: randv2.New(randv2.NewPCG(1, 1))}) // for a post-mortem
		fs = crashed
		db = open(fs)
		end := db.VisibleLSN()
		if end < acked {
			t.Fatalf("round %d: recovered to %d, but commits up to %d were acknowledged before the crash", round, end, acked)
		}
		m.truncate(end)
		if err := db.CheckTrees(ctx); err != nil {
			keep := saveForPostMortem(t, pristine, seed)
			t.Fatalf("round %d after crash: %v (the crashed data directory is kept in %s: strata check / strata log dump --data %s/db)", round, err, keep, keep)
		}
		if tree, err = db.Tree("data"); err != nil {
			t.Fatal(err)
		}
		// The whole database equals the model at the recovered end.
		txn, _ := db.Begin(engine.TxnOptions{})
		m.mu.Lock()
		want := expect(stateAt(m.commits, end), mobs{op: "scan", limit: 1 << 30})
		m.mu.Unlock()
		var got []string
		it := txn.Scan(ctx, tree, nil, nil, false)
		for it.Next() {
			got = append(got, string(it.Key())+"="+string(it.Value()))
		}
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
		txn.Rollback()
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: after crash the database has %d rows, the model %d", round, len(got), len(want))
		}
		t.Logf("round %d: %d commits, %d rollbacks, %d lock conflicts; recovered to %d with %d rows; pool %+v",
			round, stats[0], stats[1], stats[2], end, len(got), db.Pool().Stats())
	}
	db.Close()
}

// checkCrashImage reopens a crash image that the test does not go on from and checks it
// against the model: every acknowledged commit present, nothing else, trees valid.
func checkCrashImage(t *testing.T, ctx context.Context, open func(vfs.FS) *DB, m *mmodel, crashed *vfs.MemFS, acked page.LSN, seed int64, what string) {
	t.Helper()
	pristine := crashed.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: randv2.New(randv2.NewPCG(1, 1))})
	db := open(crashed)
	defer db.Close()
	end := db.VisibleLSN()
	if end < acked {
		t.Fatalf("%s: recovered to %d, but commits up to %d were acknowledged before the crash", what, end, acked)
	}
	if err := db.CheckTrees(ctx); err != nil {
		keep := saveForPostMortem(t, pristine, seed)
		t.Fatalf("%s: %v (the crashed data directory is kept in %s: strata check / strata log dump --data %s/db)", what, err, keep, keep)
	}
	tree, err := db.Tree("data")
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	want := expect(stateAt(m.commits, end), mobs{op: "scan", limit: 1 << 30})
	m.mu.Unlock()
	txn, _ := db.Begin(engine.TxnOptions{})
	defer txn.Rollback()
	var got []string
	it := txn.Scan(ctx, tree, nil, nil, false)
	for it.Next() {
		got = append(got, string(it.Key())+"="+string(it.Value()))
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	if !slices.Equal(got, want) {
		keep := saveForPostMortem(t, pristine, seed)
		t.Fatalf("%s: after crash the database has %d rows, the model %d (kept in %s)", what, len(got), len(want), keep)
	}
}

// saveForPostMortem copies the crashed file system's files to a directory that outlives the
// test, so that a failure can be examined with strata check and strata log dump.
func saveForPostMortem(t *testing.T, fs vfs.FS, seed int64) string {
	dir, err := os.MkdirTemp("", fmt.Sprintf("strata-metamorphic-%d-", seed))
	if err != nil {
		t.Logf("post-mortem copy: %v", err)
		return "(not saved)"
	}
	var walk func(src string)
	walk = func(src string) {
		names, err := fs.List(src)
		if err != nil {
			return
		}
		for _, n := range names {
			p := fs.PathJoin(src, n)
			st, err := fs.Stat(p)
			if err != nil {
				continue
			}
			dst := filepath.Join(dir, p)
			if st.IsDir() {
				os.MkdirAll(dst, 0o755)
				walk(p)
				continue
			}
			f, err := fs.Open(p)
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(f)
			f.Close()
			os.MkdirAll(filepath.Dir(dst), 0o755)
			os.WriteFile(dst, b, 0o644)
		}
	}
	walk("db")
	return dir
}

// ackedEnd returns the largest commit end acknowledged so far.
func ackedEnd(m *mmodel) page.LSN {
	m.mu.Lock()
	defer m.mu.Unlock()
	var e page.LSN
	for _, c := range m.commits {
		e = max(e, c.end)
	}
	return e
}

// mkey picks a key: often one of a few hot keys, so transactions contend for row locks.
func mkey(r *rand.Rand, n int) string {
	if r.Intn(5) == 0 {
		return fmt.Sprintf("k%05d", r.Intn(8)*(n/8))
	}
	return fmt.Sprintf("k%05d", r.Intn(n))
}

func mval(r *rand.Rand) string {
	n := r.Intn(600)
	if r.Intn(40) == 0 {
		n = 5000 + r.Intn(20000) // overflow pages
	}
	return strings.Repeat(string(rune('a'+r.Intn(26))), n) + fmt.Sprint(r.Int63())
}

// runTxn runs one random transaction; it returns 0 committed, 1 rolled back, 2 lock conflict.
func runTxn(t *testing.T, db *engine.DB, tree page.ID, m *mmodel, r *rand.Rand, cfg mcfg) int {
	ctx := context.Background()
	iso := engine.RepeatableRead
	if r.Intn(4) == 0 {
		iso = engine.ReadCommitted
	}
	txn, err := db.Begin(engine.TxnOptions{Isolation: iso})
	if err != nil {
		t.Error(err)
		return 1
	}
	own := map[string]*string{}
	type sp struct {
		sp  engine.Savepoint
		own map[string]*string
	}
	var sps []sp
	nops := 1 + r.Intn(8)
	for i := 0; i < nops; i++ {
		txn.StartStatement()
		switch op := r.Intn(100); {
		case op < 30:
			k := mkey(r, cfg.keys)
			v, ok, err := txn.Get(ctx, tree, []byte(k))
			if err != nil {
				t.Errorf("get: %v", err)
				txn.Rollback()
				return 1
			}
			var got []string
			if ok {
				got = []string{k + "=" + string(v)}
			}
			m.observe(mobs{snap: txn.Snapshot(), own: maps.Clone(own), op: "get", key: k, got: got, txn: txn.ID()})
		case op < 45:
			lo, hi := mkey(r, cfg.keys), ""
			if r.Intn(2) == 0 {
				hi = mkey(r, cfg.keys)
				if hi < lo {
					lo, hi = hi, lo
				}
			}
			if r.Intn(5) == 0 {
				lo = ""
			}
			rev := r.Intn(2) == 0
			limit := 1 + r.Intn(30)
			var l, h []byte
			if lo != "" {
				l = []byte(lo)
			}
			if hi != "" {
				h = []byte(hi)
			}
			it := txn.Scan(ctx, tree, l, h, rev)
			var got []string
			for len(got) < limit && it.Next() {
				got = append(got, string(it.Key())+"="+string(it.Value()))
			}
			if err := it.Err(); err != nil {
				t.Errorf("scan: %v", err)
				txn.Rollback()
				return 1
			}
			it.Close()
			m.observe(mobs{snap: txn.Snapshot(), own: maps.Clone(own), op: "scan", lo: lo, hi: hi, reverse: rev, limit: limit, got: got, txn: txn.ID()})
		case op < 80:
			k, v := mkey(r, cfg.keys), mval(r)
			if err := txn.Put(ctx, tree, []byte(k), []byte(v)); err != nil {
				return lockFailure(t, txn, err)
			}
			own[k] = &v
		case op < 92:
			k := mkey(r, cfg.keys)
			if err := txn.Delete(ctx, tree, []byte(k)); err != nil {
				return lockFailure(t, txn, err)
			}
			own[k] = nil
		case op < 96:
			sps = append(sps, sp{txn.Savepoint(), maps.Clone(own)})
		default:
			if len(sps) > 0 {
				s := sps[r.Intn(len(sps))]
				if err := txn.RollbackTo(s.sp); err != nil {
					t.Errorf("rollback to savepoint: %v", err)
				}
				own = maps.Clone(s.own)
				// Later savepoints are gone, as in SQL.
				for j := range sps {
					if sps[j].sp == s.sp {
						sps = sps[:j+1]
						break
					}
				}
			}
		}
	}
	if r.Intn(10) < 3 {
		txn.Rollback()
		return 1
	}
	end, err := txn.Commit(ctx)
	if err != nil {
		t.Errorf("commit: %v", err)
		return 1
	}
	if len(own) > 0 {
		m.commit(end, own)
	}
	return 0
}

func lockFailure(t *testing.T, txn *engine.Txn, err error) int {
	txn.Rollback()
	if errors.Is(err, lock.ErrDeadlock) || errors.Is(err, lock.ErrLockWaitTimeout) {
		return 2
	}
	t.Errorf("write: %v", err)
	return 1
}
