// Package lock provides row locks for read-write transactions: shared and exclusive locks on
// key values (existing or not), FIFO waiting with a timeout, and deadlock detection that picks a
// victim.
package lock

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is a lock mode.
type Mode uint8

const (
	// Shared locks are compatible with each other.
	Shared Mode = 1
	// Exclusive locks are compatible with nothing.
	Exclusive Mode = 2
)

func (m Mode) String() string {
	switch m {
	case Shared:
		return "S"
	case Exclusive:
		return "X"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// TxnID identifies a transaction.
type TxnID uint64

// ErrLockWaitTimeout is returned when a request waited longer than its timeout (MySQL 1205).
var ErrLockWaitTimeout = errors.New("lock wait timeout exceeded; try restarting transaction")

// ErrDeadlock is returned to the victim of a deadlock (MySQL 1213).
var ErrDeadlock = errors.New("deadlock found when trying to get lock; try restarting transaction")

// DefaultWaitTimeout is the wait timeout used when Options.WaitTimeout is zero.
const DefaultWaitTimeout = 50 * time.Second

// Options configures a Manager.
type Options struct {
	WaitTimeout time.Duration // default wait timeout; DefaultWaitTimeout when <= 0
}

// Stats is a snapshot of a Manager's state and counters.
type Stats struct {
	Held      int    // granted (transaction, key) locks
	Waiting   int    // requests waiting in queues
	Deadlocks uint64 // requests failed with ErrDeadlock
	Timeouts  uint64 // requests failed with ErrLockWaitTimeout
	Waits     uint64 // requests that had to wait (granted, failed or given up)
	WaitTime  time.Duration
}

const (
	lockShards = 64 // power of two
	txnShards  = 64 // power of two
)

// Manager is a lock table. It is safe for concurrent use.
type Manager struct {
	timeout   time.Duration
	seed      maphash.Seed
	shards    [lockShards]shard
	txns      [txnShards]txnShard
	graph     waitGraph
	deadlocks atomic.Uint64
	timeouts  atomic.Uint64
	waits     atomic.Uint64
	waitNanos atomic.Int64
}

// shard is one part of the lock table. Lock order: shard.mu, then graph.mu, then txnShard.mu.
type shard struct {
	mu      sync.Mutex
	locks   map[string]*entry
	held    int
	waiting int
	_       [64]byte // keep shards on separate cache lines
}

// txnShard records, for each transaction hashed to it, the keys it holds locks on.
type txnShard struct {
	mu   sync.Mutex
	keys map[TxnID][]string
	_    [64]byte
}

// entry is the lock state of one key: its holders and its FIFO queue of waiting requests.
type entry struct {
	key     string
	holders []holder
	queue   []*request
	one     [1]holder // initial backing array of holders
}

type holder struct {
	txn  TxnID
	mode Mode
}

// request is a blocked lock request.
type request struct {
	txn      TxnID
	mode     Mode
	upgrade  bool          // txn held S when it asked for X
	granted  bool          // set under the shard mutex before ch is closed
	ch       chan struct{} // closed when granted
	inGraph  bool          // graph.mu
	blockers []TxnID       // graph.mu: the wait-for edges of this request
}

var errInvalidMode = errors.New("lock: invalid lock mode")

// NewManager returns an empty lock table.
func NewManager(opts Options) *Manager {
	m := &Manager{timeout: opts.WaitTimeout, seed: maphash.MakeSeed()}
	if m.timeout <= 0 {
		m.timeout = DefaultWaitTimeout
	}
	for i := range m.shards {
		m.shards[i].locks = make(map[string]*entry)
	}
	for i := range m.txns {
		m.txns[i].keys = make(map[TxnID][]string)
	}
	return m
}

func (m *Manager) shardFor(key []byte) *shard {
	return &m.shards[maphash.Bytes(m.seed, key)&(lockShards-1)]
}

func (m *Manager) txnShardFor(txn TxnID) *txnShard {
	return &m.txns[(uint64(txn)*0x9E3779B97F4A7C15)>>58&(txnShards-1)]
}

// Lock acquires mode on key for txn, waiting if needed. It is re-entrant: a held X satisfies S
// and X, a held S satisfies S, and S is upgraded to X (the upgrade waits ahead of other waiters
// for the other S holders to leave). timeout <= 0 means the manager's default. It returns
// ErrLockWaitTimeout after the timeout, the wrapped ctx.Err() if ctx ends first, and ErrDeadlock
// if waiting would close a cycle of waiting transactions; the request then leaves no trace and
// txn keeps the locks it already holds.
func (m *Manager) Lock(ctx context.Context, txn TxnID, key []byte, mode Mode, timeout time.Duration) error {
	if mode != Shared && mode != Exclusive {
		return errInvalidMode
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if timeout <= 0 {
		timeout = m.timeout
	}
	s := m.shardFor(key)
	s.mu.Lock()
	e := s.locks[string(key)]
	if e == nil {
		e = &entry{key: string(key)}
		e.holders = e.one[:0]
		s.locks[e.key] = e
		m.addHolder(s, e, txn, mode)
		s.mu.Unlock()
		return nil
	}
	upgrade := false
	if i := e.holderIndex(txn); i >= 0 {
		if e.holders[i].mode >= mode {
			s.mu.Unlock()
			return nil
		}
		upgrade = true
	}
	r := &request{txn: txn, mode: mode, upgrade: upgrade}
	if (upgrade || len(e.queue) == 0) && e.grantable(r) {
		m.addHolder(s, e, txn, mode)
		s.mu.Unlock()
		return nil
	}
	if err := ctx.Err(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("lock wait: %w", err)
	}

	// Block: queue the request (upgrades go ahead of every non-upgrade waiter) and look for a
	// deadlock before going to sleep.
	r.ch = make(chan struct{})
	if upgrade {
		i := 0
		for i < len(e.queue) && e.queue[i].upgrade {
			i++
		}
		e.queue = slices.Insert(e.queue, i, r)
	} else {
		e.queue = append(e.queue, r)
	}
	s.waiting++
	m.graph.mu.Lock()
	m.refreshLocked(e)
	dead := m.graph.cycleFrom(txn)
	if dead {
		s.dequeue(e, r)
		m.settleLocked(s, e, r)
	}
	m.graph.mu.Unlock()
	s.mu.Unlock()
	if dead {
		m.deadlocks.Add(1)
		return ErrDeadlock
	}

	m.waits.Add(1)
	began := time.Now()
	defer func() { m.waitNanos.Add(int64(time.Since(began))) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	var err error
	select {
	case <-r.ch:
		return nil
	case <-t.C:
		err = ErrLockWaitTimeout
	case <-ctx.Done():
		err = fmt.Errorf("lock wait: %w", ctx.Err())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.granted { // granted while we were giving up: keep it
		return nil
	}
	s.dequeue(e, r)
	m.settle(s, e, r)
	s.release(e)
	if err == ErrLockWaitTimeout {
		m.timeouts.Add(1)
	}
	return err
}

// Release drops txn's lock on key, if any, and grants waiters that can now proceed.
func (m *Manager) Release(txn TxnID, key []byte) {
	s := m.shardFor(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.locks[string(key)]
	if e == nil {
		return
	}
	i := e.holderIndex(txn)
	if i < 0 {
		return
	}
	m.removeHolder(s, e, i)
	ts := m.txnShardFor(txn)
	ts.mu.Lock()
	keys := ts.keys[txn]
	for j := len(keys) - 1; j >= 0; j-- { // usually the most recent lock
		if keys[j] == e.key {
			keys = slices.Delete(keys, j, j+1)
			break
		}
	}
	if len(keys) == 0 {
		delete(ts.keys, txn)
	} else {
		ts.keys[txn] = keys
	}
	ts.mu.Unlock()
	m.settle(s, e, nil)
	s.release(e)
}

// ReleaseAll drops every lock txn holds and grants waiters that can now proceed.
func (m *Manager) ReleaseAll(txn TxnID) {
	ts := m.txnShardFor(txn)
	ts.mu.Lock()
	keys := ts.keys[txn]
	delete(ts.keys, txn)
	ts.mu.Unlock()
	for _, k := range keys {
		s := &m.shards[maphash.String(m.seed, k)&(lockShards-1)]
		s.mu.Lock()
		if e := s.locks[k]; e != nil {
			if i := e.holderIndex(txn); i >= 0 {
				m.removeHolder(s, e, i)
				m.settle(s, e, nil)
				s.release(e)
			}
		}
		s.mu.Unlock()
	}
}

// Stats returns the current number of held locks and waiting requests and the failure counts.
func (m *Manager) Stats() Stats {
	st := Stats{Deadlocks: m.deadlocks.Load(), Timeouts: m.timeouts.Load(), Waits: m.waits.Load(),
		WaitTime: time.Duration(m.waitNanos.Load())}
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		st.Held += s.held
		st.Waiting += s.waiting
		s.mu.Unlock()
	}
	return st
}

func compatible(a, b Mode) bool { return a == Shared && b == Shared }

func (e *entry) holderIndex(txn TxnID) int {
	for i := range e.holders {
		if e.holders[i].txn == txn {
			return i
		}
	}
	return -1
}

// grantable reports whether r is compatible with every holder other than its own transaction.
func (e *entry) grantable(r *request) bool {
	for _, h := range e.holders {
		if h.txn != r.txn && !compatible(h.mode, r.mode) {
			return false
		}
	}
	return true
}

// addHolder grants mode on e to txn (merging with a lock txn already holds) and records the key
// for ReleaseAll. The caller holds s.mu.
func (m *Manager) addHolder(s *shard, e *entry, txn TxnID, mode Mode) {
	if i := e.holderIndex(txn); i >= 0 {
		e.holders[i].mode = max(e.holders[i].mode, mode)
		return
	}
	e.holders = append(e.holders, holder{txn, mode})
	s.held++
	ts := m.txnShardFor(txn)
	ts.mu.Lock()
	ts.keys[txn] = append(ts.keys[txn], e.key)
	ts.mu.Unlock()
}

func (m *Manager) removeHolder(s *shard, e *entry, i int) {
	e.holders = slices.Delete(e.holders, i, i+1)
	s.held--
}

func (s *shard) dequeue(e *entry, r *request) {
	if i := slices.Index(e.queue, r); i >= 0 {
		e.queue = slices.Delete(e.queue, i, i+1)
		s.waiting--
	}
}

// release forgets e once nobody holds or waits for it.
func (s *shard) release(e *entry) {
	if len(e.holders) == 0 && len(e.queue) == 0 {
		delete(s.locks, e.key)
	}
}

// settle is settleLocked for callers that do not hold the graph mutex; without waiters and
// without a request to drop it does not touch the graph.
func (m *Manager) settle(s *shard, e *entry, drop *request) {
	if drop == nil && len(e.queue) == 0 {
		return
	}
	m.graph.mu.Lock()
	m.settleLocked(s, e, drop)
	m.graph.mu.Unlock()
}

// settleLocked takes drop (a request that stopped waiting) out of the graph, grants waiters
// from the head of e's queue while they are compatible with the holders, and recomputes the
// edges of the rest. The caller holds s.mu and graph.mu.
func (m *Manager) settleLocked(s *shard, e *entry, drop *request) {
	if drop != nil {
		m.graph.removeLocked(drop)
	}
	for len(e.queue) > 0 && e.grantable(e.queue[0]) {
		r := e.queue[0]
		e.queue = slices.Delete(e.queue, 0, 1)
		s.waiting--
		m.graph.removeLocked(r)
		m.addHolder(s, e, r.txn, r.mode)
		r.granted = true
		close(r.ch)
	}
	m.refreshLocked(e)
}

// refreshLocked recomputes the wait-for edges of every request queued on e. A request waits
// for the waiters ahead of it it conflicts with, cut down to the nearest ones, since those wait
// for the others in turn: an S request gets an edge to the nearest X waiter ahead, an X request
// to the nearest X waiter ahead or, if S waiters come first, to that run of S waiters. Only a
// request with no such waiter ahead gets edges to the holders it conflicts with: the waiters
// ahead lead to the head of the queue, which waits for every holder it conflicts with, and
// the holders are either one X, which every request conflicts with, or S holders, which an S
// request at the head would have joined. So every holder a request conflicts with is reachable
// from it, and a cycle through one is found; and when a holder changes, only the edges near
// the head of a long queue change. The caller holds graph.mu.
func (m *Manager) refreshLocked(e *entry) {
	for i, r := range e.queue {
		b := m.graph.edges[:0]
		sawShared := false
		for j := i - 1; j >= 0; j-- {
			w := e.queue[j]
			if w.txn == r.txn {
				continue
			}
			if w.mode == Exclusive {
				if !sawShared {
					b = append(b, w.txn)
				}
				break
			}
			if r.mode == Exclusive {
				b = append(b, w.txn)
				sawShared = true
			}
		}
		if len(b) == 0 {
			for _, h := range e.holders {
				if h.txn != r.txn && !compatible(h.mode, r.mode) {
					b = append(b, h.txn)
				}
			}
		}
		m.graph.setBlockersLocked(r, b)
		m.graph.edges = b
		m.graph.addLocked(r)
	}
}
