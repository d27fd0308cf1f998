package lock

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	long  = 5 * time.Second       // timeout for requests that must not time out
	quiet = 30 * time.Millisecond // how long a blocked request is watched for staying blocked
)

func k(s string) []byte { return []byte(s) }

func newTestManager() *Manager { return NewManager(Options{WaitTimeout: long}) }

// lockAsync starts a Lock call and returns a channel with its result.
func lockAsync(m *Manager, txn TxnID, key string, mode Mode) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- m.Lock(context.Background(), txn, k(key), mode, long) }()
	return ch
}

func mustLock(t *testing.T, m *Manager, txn TxnID, key string, mode Mode) {
	t.Helper()
	if err := m.Lock(context.Background(), txn, k(key), mode, long); err != nil {
		t.Fatalf("txn %d lock %s %v: %v", txn, key, mode, err)
	}
}

func result(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(2 * time.Second):
		t.Fatal("request did not complete")
		return nil
	}
}

func granted(t *testing.T, ch <-chan error) {
	t.Helper()
	if err := result(t, ch); err != nil {
		t.Fatalf("expected grant, got %v", err)
	}
}

func blocked(t *testing.T, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("request should be waiting, got %v", err)
	case <-time.After(quiet):
	}
}

// waitFor polls until n requests are queued, so that tests can order their requests.
func waitFor(t *testing.T, m *Manager, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for m.Stats().Waiting != n {
		if time.Now().After(deadline) {
			t.Fatalf("waiting = %d, want %d", m.Stats().Waiting, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func checkStats(t *testing.T, m *Manager, held, waiting int) {
	t.Helper()
	if st := m.Stats(); st.Held != held || st.Waiting != waiting {
		t.Fatalf("stats = %+v, want held %d waiting %d", st, held, waiting)
	}
}

func TestSharedCompatible(t *testing.T) {
	m := newTestManager()
	mustLock(t, m, 1, "a", Shared)
	mustLock(t, m, 2, "a", Shared)
	mustLock(t, m, 3, "a", Shared)
	checkStats(t, m, 3, 0)
	for txn := TxnID(1); txn <= 3; txn++ {
		m.ReleaseAll(txn)
	}
	checkStats(t, m, 0, 0)
}

func TestConflictsWaitForRelease(t *testing.T) {
	for _, c := range []struct{ first, second Mode }{
		{Shared, Exclusive}, {Exclusive, Shared}, {Exclusive, Exclusive},
	} {
		t.Run(fmt.Sprintf("%v-%v", c.first, c.second), func(t *testing.T) {
			m := newTestManager()
			mustLock(t, m, 1, "a", c.first)
			ch := lockAsync(m, 2, "a", c.second)
			blocked(t, ch)
			checkStats(t, m, 1, 1)
			m.ReleaseAll(1)
			granted(t, ch)
			checkStats(t, m, 1, 0)
			m.ReleaseAll(2)
			checkStats(t, m, 0, 0)
		})
	}
}

func TestTimeout(t *testing.T) {
	m := newTestManager()
	mustLock(t, m, 1, "a", Shared)
	// 2 asks X and waits for 1's S; 3's S then waits behind it (FIFO).
	errX := make(chan error, 1)
	start := time.Now()
	go func() { errX <- m.Lock(context.Background(), 2, k("a"), Exclusive, 50*time.Millisecond) }()
	waitFor(t, m, 1)
	chS := lockAsync(m, 3, "a", Shared)
	waitFor(t, m, 2)
	if err := result(t, errX); !errors.Is(err, ErrLockWaitTimeout) {
		t.Fatalf("got %v, want ErrLockWaitTimeout", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("timed out after %v", d)
	}
	granted(t, chS) // the S request behind the timed-out X is no longer held back
	checkStats(t, m, 2, 0)
	// Both X (timed out) and S (granted later) waited; X's wait alone took its 50 ms.
	if st := m.Stats(); st.Timeouts != 1 || st.Waits != 2 || st.WaitTime < 50*time.Millisecond {
		t.Fatalf("stats = %+v, want 1 timeout, 2 waits, wait time >= 50ms", st)
	}
	// The queue is clean: once the holders leave, X is granted at once.
	m.ReleaseAll(1)
	m.ReleaseAll(3)
	if err := m.Lock(context.Background(), 2, k("a"), Exclusive, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	m.ReleaseAll(2)
	checkStats(t, m, 0, 0)
}

func TestDefaultTimeout(t *testing.T) {
	m := NewManager(Options{WaitTimeout: 20 * time.Millisecond})
	mustLock(t, m, 1, "a", Exclusive)
	if err := m.Lock(context.Background(), 2, k("a"), Exclusive, 0); !errors.Is(err, ErrLockWaitTimeout) {
		t.Fatalf("got %v", err)
	}
	if NewManager(Options{}).timeout != DefaultWaitTimeout {
		t.Fatal("default timeout not applied")
	}
}

func TestDeadlockTwoTxns(t *testing.T) {
	m := newTestManager()
	mustLock(t, m, 1, "k1", Exclusive)
	mustLock(t, m, 2, "k2", Exclusive)
	chA := lockAsync(m, 1, "k2", Exclusive)
	waitFor(t, m, 1)
	if err := m.Lock(context.Background(), 2, k("k1"), Exclusive, long); !errors.Is(err, ErrDeadlock) {
		t.Fatalf("got %v, want ErrDeadlock", err)
	}
	checkStats(t, m, 2, 1) // the victim left no trace and keeps k2
	if st := m.Stats(); st.Deadlocks != 1 {
		t.Fatalf("deadlocks = %d", st.Deadlocks)
	}
	blocked(t, chA)
	m.ReleaseAll(2)
	granted(t, chA)
	m.ReleaseAll(1)
	checkStats(t, m, 0, 0)
}

// A cycle that runs through a long queue is found: transaction 2 waits behind eight others
// for transaction 1's key (its only edge is to the waiter just ahead), then 1 asks for 2's
// key; S waiters and a holder that changes on the way are found too.
func TestDeadlockThroughQueue(t *testing.T) {
	m := newTestManager()
	mustLock(t, m, 1, "k1", Exclusive)
	mustLock(t, m, 2, "k2", Exclusive)
	var queued []<-chan error
	for txn := TxnID(3); txn <= 10; txn++ {
		mode := Exclusive
		if txn%3 == 0 {
			mode = Shared
		}
		queued = append(queued, lockAsync(m, txn, "k1", mode))
		waitFor(t, m, int(txn-2))
	}
	ch2 := lockAsync(m, 2, "k1", Exclusive)
	waitFor(t, m, 9)
	if err := m.Lock(context.Background(), 1, k("k2"), Exclusive, long); !errors.Is(err, ErrDeadlock) {
		t.Fatalf("got %v, want ErrDeadlock", err)
	}
	// 1 gives k1 up: the queue moves on, and a new holder of k1 closes the cycle again.
	m.ReleaseAll(1)
	granted(t, queued[0])
	mustLock(t, m, 11, "k3", Exclusive)
	ch3 := lockAsync(m, 3, "k3", Exclusive) // 3 holds k1 now and waits for 11
	waitFor(t, m, 9)
	if err := m.Lock(context.Background(), 11, k("k2"), Exclusive, long); !errors.Is(err, ErrDeadlock) {
		t.Fatalf("11 waiting for 2, which waits through the queue for 3, which waits for 11: %v", err)
	}
	m.ReleaseAll(11)
	granted(t, ch3)
	m.ReleaseAll(3)
	for i, txn := 1, TxnID(4); txn <= 10; i, txn = i+1, txn+1 {
		granted(t, queued[i])
		m.ReleaseAll(txn)
	}
	granted(t, ch2)
	m.ReleaseAll(2)
	checkStats(t, m, 0, 0)
}

func TestDeadlockThreeTxns(t *testing.T) {
	m := newTestManager()
	mustLock(t, m, 1, "k1", Exclusive)
	mustLock(t, m, 2, "k2", Shared)
	mustLock(t, m, 3, "k3", Exclusive)
	chA := lockAsync(m, 1, "k2", Exclusive)
	waitFor(t, m, 1)
	chB := lockAsync(m, 2, "k3", Shared)
	waitFor(t, m, 2)
	if err := m.Lock(context.Background(), 3, k("k1"), Shared, long); !errors.Is(err, ErrDeadlock) {
		t.Fatalf("got %v, want ErrDeadlock", err)
	}
	blocked(t, chA)
	blocked(t, chB)
	m.ReleaseAll(3)
	granted(t, chB)
	blocked(t, chA)
	m.ReleaseAll(2)
	granted(t, chA)
	m.ReleaseAll(1)
	checkStats(t, m, 0, 0)
}

func TestNoFalseDeadlock(t *testing.T) {
	// 1 waits for 2 on k2; 3 waits for 1 on k1: a chain, not a cycle.
	m := newTestManager()
	mustLock(t, m, 1, "k1", Exclusive)
	mustLock(t, m, 2, "k2", Exclusive)
	chA := lockAsync(m, 1, "k2", Exclusive)
	waitFor(t, m, 1)
	chC := lockAsync(m, 3, "k1", Exclusive)
	waitFor(t, m, 2)
	// After 2 leaves, 2 asking for k1 again is not a deadlock with a stale edge 1 -> 2.
	m.ReleaseAll(2)
	granted(t, chA)
	chB := lockAsync(m, 2, "k1", Shared)
	blocked(t, chB)
	m.ReleaseAll(1)
	granted(t, chC)
	m.ReleaseAll(3)
	granted(t, chB)
	m.ReleaseAll(2)
	checkStats(t, m, 0, 0)
	if st := m.Stats(); st.Deadlocks != 0 {
		t.Fatalf("deadlocks = %d", st.Deadlocks)
	}
}

func TestUpgrade(t *testing.T) {
	m := newTestManager()
	mustLock(t, m, 1, "a", Shared)
	mustLock(t, m, 1, "a", Exclusive) // sole holder: immediate
	checkStats(t, m, 1, 0)
	m.ReleaseAll(1)

	mustLock(t, m, 1, "a", Shared)
	mustLock(t, m, 2, "a", Shared)
	chX := lockAsync(m, 3, "a", Exclusive)
	waitFor(t, m, 1)
	chU := lockAsync(m, 1, "a", Exclusive) // goes ahead of 3
	waitFor(t, m, 2)
	m.ReleaseAll(2)
	granted(t, chU)
	blocked(t, chX)
	m.ReleaseAll(1)
	granted(t, chX)
	m.ReleaseAll(3)
	checkStats(t, m, 0, 0)
}

func TestUpgradeDeadlock(t *testing.T) {
	m := newTestManager()
	mustLock(t, m, 1, "a", Shared)
	mustLock(t, m, 2, "a", Shared)
	chA := lockAsync(m, 1, "a", Exclusive)
	waitFor(t, m, 1)
	if err := m.Lock(context.Background(), 2, k("a"), Exclusive, long); !errors.Is(err, ErrDeadlock) {
		t.Fatalf("got %v, want ErrDeadlock", err)
	}
	checkStats(t, m, 2, 1)
	blocked(t, chA)
	m.ReleaseAll(2)
	granted(t, chA)
	m.ReleaseAll(1)
	checkStats(t, m, 0, 0)
}

func TestReentrant(t *testing.T) {
	m := NewManager(Options{WaitTimeout: time.Millisecond})
	mustLock(t, m, 1, "a", Exclusive)
	mustLock(t, m, 1, "a", Shared)
	mustLock(t, m, 1, "a", Exclusive)
	mustLock(t, m, 1, "b", Shared)
	mustLock(t, m, 1, "b", Shared)
	checkStats(t, m, 2, 0)
	if err := m.Lock(context.Background(), 2, k("b"), Shared, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Lock(context.Background(), 2, k("a"), Shared, 0); !errors.Is(err, ErrLockWaitTimeout) {
		t.Fatalf("got %v", err)
	}
	m.ReleaseAll(1)
	m.ReleaseAll(2)
	checkStats(t, m, 0, 0)
	mustLock(t, m, 2, "a", Exclusive)
	m.ReleaseAll(2)
	m.ReleaseAll(2) // twice is harmless
	m.ReleaseAll(99)
}

func TestReleaseOne(t *testing.T) {
	m := newTestManager()
	mustLock(t, m, 1, "k1", Exclusive)
	mustLock(t, m, 1, "k2", Exclusive)
	chB := lockAsync(m, 2, "k1", Shared)
	chC := lockAsync(m, 3, "k2", Shared)
	waitFor(t, m, 2)
	m.Release(1, k("k1"))
	granted(t, chB)
	blocked(t, chC)
	m.Release(1, k("k1")) // not held any more
	m.Release(2, k("zz")) // never locked
	checkStats(t, m, 2, 1)
	m.ReleaseAll(1) // only k2 is left to release
	granted(t, chC)
	m.ReleaseAll(2)
	m.ReleaseAll(3)
	checkStats(t, m, 0, 0)
}

func TestFIFO(t *testing.T) {
	m := newTestManager()
	mustLock(t, m, 1, "a", Shared)
	chX := lockAsync(m, 2, "a", Exclusive)
	waitFor(t, m, 1)
	chS := lockAsync(m, 3, "a", Shared) // compatible with the holder, but queued behind X
	blocked(t, chS)
	chS2 := lockAsync(m, 4, "a", Shared)
	waitFor(t, m, 3)
	m.ReleaseAll(1)
	granted(t, chX)
	blocked(t, chS)
	m.ReleaseAll(2)
	granted(t, chS) // both S waiters are granted together
	granted(t, chS2)
	m.ReleaseAll(3)
	m.ReleaseAll(4)
	checkStats(t, m, 0, 0)
}

func TestContextCancel(t *testing.T) {
	m := newTestManager()
	mustLock(t, m, 1, "a", Exclusive)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- m.Lock(ctx, 2, k("a"), Shared, long) }()
	waitFor(t, m, 1)
	cancel()
	if err := result(t, ch); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	checkStats(t, m, 1, 0)
	// Already cancelled: fails without queueing.
	if err := m.Lock(ctx, 2, k("a"), Shared, long); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	checkStats(t, m, 1, 0)
	m.ReleaseAll(1)
	mustLock(t, m, 2, "a", Exclusive)
	m.ReleaseAll(2)
	checkStats(t, m, 0, 0)
}

func TestNonexistentKeyAndOddInput(t *testing.T) {
	m := NewManager(Options{WaitTimeout: 20 * time.Millisecond})
	// A key that is in no table (a unique-check value) locks like any other.
	mustLock(t, m, 1, "uniq/idx_email/bob@example.com", Exclusive)
	if err := m.Lock(context.Background(), 2, k("uniq/idx_email/bob@example.com"), Shared, 0); !errors.Is(err, ErrLockWaitTimeout) {
		t.Fatalf("got %v", err)
	}
	// Empty and nil keys are the same key.
	mustLock(t, m, 1, "", Exclusive)
	if err := m.Lock(context.Background(), 2, nil, Exclusive, 0); !errors.Is(err, ErrLockWaitTimeout) {
		t.Fatalf("got %v", err)
	}
	if err := m.Lock(context.Background(), 1, k("x"), 0, 0); err == nil {
		t.Fatal("mode 0 accepted")
	}
	if err := m.Lock(context.Background(), 1, k("x"), 7, 0); err == nil {
		t.Fatal("mode 7 accepted")
	}
	//lint:ignore SA1012 nil context must not panic
	if err := m.Lock(nil, 3, k("y"), Shared, 0); err != nil {
		t.Fatal(err)
	}
	m.ReleaseAll(1)
	m.ReleaseAll(2)
	m.ReleaseAll(3)
	checkStats(t, m, 0, 0)
}

func TestKeyIsCopied(t *testing.T) {
	m := NewManager(Options{WaitTimeout: 10 * time.Millisecond})
	buf := []byte("row1")
	if err := m.Lock(context.Background(), 1, buf, Exclusive, 0); err != nil {
		t.Fatal(err)
	}
	copy(buf, "row2")
	if err := m.Lock(context.Background(), 2, buf, Exclusive, 0); err != nil {
		t.Fatalf("row2 should be free: %v", err)
	}
	if err := m.Lock(context.Background(), 2, k("row1"), Exclusive, 0); !errors.Is(err, ErrLockWaitTimeout) {
		t.Fatalf("row1 should be held: %v", err)
	}
	m.ReleaseAll(1)
	m.ReleaseAll(2)
	checkStats(t, m, 0, 0)
}

// TestStress runs transactions that lock random small key sets in random order with short
// timeouts, checking that no two transactions ever hold conflicting locks.
func TestStress(t *testing.T) {
	const (
		workers = 16
		nkeys   = 8
		runFor  = 700 * time.Millisecond
	)
	goroutines := runtime.NumGoroutine()
	m := NewManager(Options{WaitTimeout: 20 * time.Millisecond})
	var (
		mu      sync.Mutex
		shared  [nkeys]int
		excl    [nkeys]int
		nextTxn atomic.Uint64
		commits atomic.Int64
		fails   atomic.Int64
	)
	violation := make(chan string, 1)
	report := func(s string) {
		select {
		case violation <- s:
		default:
		}
	}
	stop := time.Now().Add(runFor)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for time.Now().Before(stop) {
				txn := TxnID(nextTxn.Add(1))
				held := map[int]Mode{}
				ok := true
				for range 1 + rng.IntN(4) {
					key, mode := rng.IntN(nkeys), Mode(1+rng.IntN(2))
					var ctx context.Context = context.Background()
					var cancel context.CancelFunc = func() {}
					if rng.IntN(10) == 0 {
						ctx, cancel = context.WithTimeout(ctx, time.Duration(rng.IntN(5000))*time.Microsecond)
					}
					err := m.Lock(ctx, txn, []byte{'k', byte(key)}, mode, time.Duration(5+rng.IntN(20))*time.Millisecond)
					cancel()
					if err != nil {
						if !errors.Is(err, ErrDeadlock) && !errors.Is(err, ErrLockWaitTimeout) && !errors.Is(err, context.DeadlineExceeded) {
							report(fmt.Sprintf("unexpected error %v", err))
						}
						ok = false
						break
					}
					mu.Lock()
					switch old := held[key]; {
					case old >= mode:
					case mode == Shared:
						if excl[key] != 0 {
							report(fmt.Sprintf("key %d: S granted while X held", key))
						}
						shared[key]++
						held[key] = Shared
					default:
						if old == Shared {
							shared[key]--
						}
						if excl[key] != 0 || shared[key] != 0 {
							report(fmt.Sprintf("key %d: X granted with %d X and %d S holders", key, excl[key], shared[key]))
						}
						excl[key]++
						held[key] = Exclusive
					}
					mu.Unlock()
				}
				if ok && rng.IntN(2) == 0 {
					time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
				}
				// Forget the locks before the manager hands them to someone else.
				mu.Lock()
				for key, mode := range held {
					if mode == Exclusive {
						excl[key]--
					} else {
						shared[key]--
					}
				}
				mu.Unlock()
				m.ReleaseAll(txn)
				if ok {
					commits.Add(1)
				} else {
					fails.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	select {
	case v := <-violation:
		t.Fatal(v)
	default:
	}
	st := m.Stats()
	t.Logf("commits %d, failures %d, stats %+v", commits.Load(), fails.Load(), st)
	if st.Held != 0 || st.Waiting != 0 {
		t.Fatalf("locks left behind: %+v", st)
	}
	m.graph.mu.Lock()
	if len(m.graph.waiting) != 0 || len(m.graph.waitedOn) != 0 {
		t.Errorf("the wait-for graph kept %d waiting transactions and %d edge counts", len(m.graph.waiting), len(m.graph.waitedOn))
	}
	m.graph.mu.Unlock()
	if commits.Load() == 0 {
		t.Fatal("no transaction made progress")
	}
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Fatalf("goroutines: %d before, %d after", goroutines, n)
	}
}

func BenchmarkLockUncontended(b *testing.B) {
	m := NewManager(Options{})
	var ids atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		id := ids.Add(1)
		key := []byte(fmt.Sprintf("worker-%d", id))
		txn := TxnID(id << 32)
		ctx := context.Background()
		for pb.Next() {
			txn++
			if err := m.Lock(ctx, txn, key, Exclusive, 0); err != nil {
				b.Fatal(err)
			}
			m.ReleaseAll(txn)
		}
	})
}

// BenchmarkLockHotKey: 256 transactions at a time take an exclusive lock on the same key and
// release it (an autocommit UPDATE of one row from many connections): each waits behind the
// others, and its deadlock check must not walk the queue. ns/op is per lock taken and released.
func BenchmarkLockHotKey(b *testing.B) {
	m := NewManager(Options{})
	var ids atomic.Uint64
	key := []byte("hot")
	b.SetParallelism(128) // 256 goroutines on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			txn := TxnID(ids.Add(1))
			if err := m.Lock(ctx, txn, key, Exclusive, 0); err != nil {
				b.Fatal(err)
			}
			m.ReleaseAll(txn)
		}
	})
}
