package btree

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"strata/internal/bufpool"
	"strata/internal/mtr"
	"strata/internal/page"
	"strata/internal/storage/memstore"
)

type env struct {
	log  *memstore.Log
	src  *memstore.Pages
	pool *bufpool.Pool
	mu   sync.Mutex // the writer lock
}

func newEnv(tb testing.TB, frames int) *env {
	tb.Helper()
	e := &env{log: memstore.NewLog()}
	e.src = memstore.NewPages(e.log)
	e.pool = bufpool.New(bufpool.Options{Frames: frames, Source: e.src, Durable: e.log.Durable}, e.log.End())
	e.write(tb, func(m *mtr.Mtr) error { return m.Bootstrap() })
	return e
}

func (e *env) write(tb testing.TB, fn func(m *mtr.Mtr) error) {
	tb.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	m := mtr.Begin(context.Background(), e.pool, e.log)
	if err := fn(m); err != nil {
		tb.Fatal(err)
	}
	if _, err := m.Finish(); err != nil {
		tb.Fatal(err)
	}
}

func (e *env) create(tb testing.TB) *Tree {
	var root page.ID
	e.write(tb, func(m *mtr.Mtr) error {
		var err error
		root, err = Create(m)
		return err
	})
	return New(e.pool, root, nil)
}

func key(i int) []byte { return []byte(fmt.Sprintf("key%08d", i)) }

func TestPutGetDeleteModel(t *testing.T) {
	ctx := context.Background()
	for _, frames := range []int{16, 1024} {
		t.Run(fmt.Sprintf("frames=%d", frames), func(t *testing.T) {
			e := newEnv(t, frames)
			tr := e.create(t)
			model := map[string][]byte{}
			rng := rand.New(rand.NewPCG(1, uint64(frames)))
			n := 4000
			if testing.Short() {
				n = 1500
			}
			for op := 0; op < n; op++ {
				k := key(rng.IntN(800))
				switch r := rng.IntN(10); {
				case r < 6:
					v := bytes.Repeat([]byte{byte(op)}, rng.IntN(300))
					if rng.IntN(50) == 0 {
						v = bytes.Repeat([]byte{byte(op)}, 5000+rng.IntN(40000)) // overflow
					}
					e.write(t, func(m *mtr.Mtr) error { return tr.Put(m, k, v) })
					model[string(k)] = v
				default:
					var found bool
					e.write(t, func(m *mtr.Mtr) (err error) { found, err = tr.Delete(m, k); return })
					_, want := model[string(k)]
					if found != want {
						t.Fatalf("op %d: delete %s found=%v want %v", op, k, found, want)
					}
					delete(model, string(k))
				}
				if op%500 == 0 {
					checkModel(t, tr, model)
				}
			}
			checkModel(t, tr, model)
			// Delete everything: the tree shrinks back to one leaf.
			for k := range model {
				e.write(t, func(m *mtr.Mtr) error { _, err := tr.Delete(m, []byte(k)); return err })
			}
			st, err := tr.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Entries != 0 || st.Height != 1 || st.Overflow != 0 {
				t.Fatalf("after deleting all: %+v", st)
			}
		})
	}
}

func checkModel(t *testing.T, tr *Tree, model map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	if _, err := tr.Check(ctx); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(model))
	for k := range model {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var got []string
	err := tr.Scan(ctx, nil, func(k []byte, v Value) (bool, error) {
		b, err := v.Append(nil)
		if err != nil {
			return false, err
		}
		if !bytes.Equal(b, model[string(k)]) {
			return false, fmt.Errorf("value of %s: %d bytes, want %d", k, len(b), len(model[string(k)]))
		}
		got = append(got, string(k))
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(keys) {
		t.Fatalf("scan: %d keys, want %d", len(got), len(keys))
	}
	var rev []string
	if err := tr.ScanReverse(ctx, nil, func(k []byte, v Value) (bool, error) {
		rev = append(rev, string(k))
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range rev {
		if rev[i] != keys[len(keys)-1-i] {
			t.Fatalf("reverse scan differs at %d", i)
		}
	}
	if len(rev) != len(keys) {
		t.Fatalf("reverse scan: %d keys, want %d", len(rev), len(keys))
	}
	// Bounded scans from a middle key.
	if len(keys) > 2 {
		mid := []byte(keys[len(keys)/2])
		var first []byte
		tr.Scan(ctx, mid, func(k []byte, v Value) (bool, error) { first = append([]byte(nil), k...); return false, nil })
		if !bytes.Equal(first, mid) {
			t.Fatalf("seek %s found %s", mid, first)
		}
		var last []byte
		tr.ScanReverse(ctx, mid, func(k []byte, v Value) (bool, error) { last = append([]byte(nil), k...); return false, nil })
		if string(last) != keys[len(keys)/2-1] {
			t.Fatalf("reverse seek below %s found %s", mid, last)
		}
	}
}

// TestReplayIdentical rebuilds every page from the log alone and compares it byte for byte
// with the buffer pool's copy at the same LSN, after splits, merges and overflow chains.
func TestReplayIdentical(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 4096)
	tr := e.create(t)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 3000; i++ {
		k := key(rng.IntN(2000))
		if rng.IntN(3) == 0 {
			e.write(t, func(m *mtr.Mtr) error { _, err := tr.Delete(m, k); return err })
		} else {
			v := bytes.Repeat([]byte("v"), rng.IntN(400)+rng.IntN(30)*rng.IntN(300))
			e.write(t, func(m *mtr.Mtr) error { return tr.Put(m, k, v) })
		}
	}
	replay := memstore.NewPages(memstore.FromBytes(e.log.Bytes()))
	end := e.log.End()
	compared := 0
	for id := page.ID(1); id < 100000; id++ {
		if !e.pool.Cached(id) {
			continue
		}
		f, err := e.pool.Get(ctx, id, bufpool.Shared)
		if err != nil {
			t.Fatal(err)
		}
		want := f.Page
		e.pool.Release(f, bufpool.Shared)
		var got page.Page
		if err := replay.GetPage(ctx, id, end, &got); err != nil {
			t.Fatal(err)
		}
		want.Seal()
		if got.StoredChecksum() != want.StoredChecksum() || got != want {
			t.Fatalf("page %d: replayed checksum %08x, buffer pool %08x", id, got.StoredChecksum(), want.StoredChecksum())
		}
		compared++
	}
	if compared < 20 {
		t.Fatalf("compared only %d pages", compared)
	}
}

// TestConcurrentReaders runs scans and gets while the writer inserts and deletes.
func TestConcurrentReaders(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 256)
	tr := e.create(t)
	const n = 3000
	// Even keys are stable; odd keys come and go.
	for i := 0; i < n; i += 2 {
		e.write(t, func(m *mtr.Mtr) error { return tr.Put(m, key(i), key(i)) })
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				count := 0
				var err error
				if r%2 == 0 {
					err = tr.Scan(ctx, nil, func(k []byte, v Value) (bool, error) {
						if k[len(k)-1]%2 == 0 {
							count++
						}
						return true, nil
					})
				} else {
					err = tr.ScanReverse(ctx, nil, func(k []byte, v Value) (bool, error) {
						if k[len(k)-1]%2 == 0 {
							count++
						}
						return true, nil
					})
				}
				if err == nil && count != n/2 {
					err = fmt.Errorf("reader %d saw %d stable keys, want %d", r, count, n/2)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(r)
	}
	deadline := time.Now().Add(2 * time.Second)
	rng := rand.New(rand.NewPCG(3, 3))
	for i := 0; time.Now().Before(deadline) && i < 20000; i++ {
		k := key(rng.IntN(n/2)*2 + 1)
		if rng.IntN(2) == 0 {
			e.write(t, func(m *mtr.Mtr) error { return tr.Put(m, k, bytes.Repeat([]byte("x"), rng.IntN(200))) })
		} else {
			e.write(t, func(m *mtr.Mtr) error { _, err := tr.Delete(m, k); return err })
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, err := tr.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestKeyTooLarge(t *testing.T) {
	e := newEnv(t, 64)
	tr := e.create(t)
	e.mu.Lock()
	defer e.mu.Unlock()
	m := mtr.Begin(context.Background(), e.pool, e.log)
	if err := tr.Put(m, make([]byte, MaxKeySize+1), nil); err != ErrKeyTooLarge {
		t.Fatalf("got %v", err)
	}
	if err := tr.Put(m, bytes.Repeat([]byte{1}, MaxKeySize), make([]byte, 100000)); err != nil {
		t.Fatal(err)
	}
}
