package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/btree"

	stbtree "strata/internal/btree"
	"strata/internal/lock"
	"strata/internal/mtr"
	"strata/internal/page"
	"strata/internal/storage"
)

// Isolation is a transaction isolation level.
type Isolation uint8

// Isolation levels, as in InnoDB: plain reads see a snapshot taken at the first read
// (REPEATABLE READ) or at the start of each statement (READ COMMITTED); locking reads and
// writes see the newest committed version under a row lock.
const (
	RepeatableRead Isolation = iota
	ReadCommitted
)

// ErrTxnDone is returned for any use of a finished transaction.
var ErrTxnDone = errors.New("engine: transaction already committed or rolled back")

// ErrReadOnly is returned for a write in a read-only transaction.
var ErrReadOnly = errors.New("engine: cannot write in a READ ONLY transaction")

// ErrSnapshotTooOld is returned for a snapshot older than what purge has kept.
var ErrSnapshotTooOld = errors.New("engine: snapshot is older than the retained history")

// TxnOptions configure a transaction.
type TxnOptions struct {
	Isolation Isolation
	ReadOnly  bool
	// Snapshot, when set, reads as of that LSN (a group end) instead of the latest.
	Snapshot page.LSN
	// LockWaitTimeout overrides the engine's default row lock wait.
	LockWaitTimeout time.Duration
}

// Txn is a transaction. It is not safe for concurrent use.
type Txn struct {
	db   *DB
	id   lock.TxnID
	opts TxnOptions
	snap page.LSN // 0 until the first read
	done bool
	// locked is set once the transaction has taken a row lock: a locking read may have
	// read a commit that is not durable yet (see Commit).
	locked bool

	ws   map[string]*wsEntry
	undo []undoRec
	// stmts holds, for each open statement (MarkStatement; statements nest when triggers
	// run), each key's write-set entry from before its first change in that statement (nil:
	// none), so that a statement reads rows as they were when it started
	// (GetAtStatementStart), while a statement nested in it sees what ran before it.
	stmts []map[string]*wsEntry
	// ordered holds the write set's entries in (tree, key) order, for scans and commit.
	ordered *btree.BTreeG[*wsEntry]
	// writerAt and appendedAt are when its commit took the writer lock and when its group was
	// in the log, taken only for an EventListener.CommitEnd (CommitInfo); timed says so.
	timed                bool
	writerAt, appendedAt time.Time
}

type wsEntry struct {
	tree page.ID
	key  []byte
	val  []byte
	del  bool
	// snapshot marks a placeholder in a statement-start view: the key's value is the
	// snapshot's, not the write set's (see rangeEntries).
	snapshot bool
}

type undoRec struct {
	k    string
	prev *wsEntry // nil: the key was not in the write set
}

// Savepoint marks a point in a transaction's write set to roll back to.
type Savepoint int

// Begin starts a transaction.
func (db *DB) Begin(opts TxnOptions) (*Txn, error) {
	t := &Txn{db: db, id: lock.TxnID(db.txnSeq.Add(1)), opts: opts, ws: map[string]*wsEntry{}}
	if opts.Snapshot != 0 {
		if err := db.registerSnapshot(opts.Snapshot, true); err != nil {
			return nil, err
		}
		t.snap = opts.Snapshot
	}
	return t, nil
}

// ID returns the transaction's ID.
func (t *Txn) ID() uint64 { return uint64(t.id) }

// snapshot returns the read snapshot, taking it on first use.
func (t *Txn) snapshot() page.LSN {
	if t.snap == 0 {
		t.snap = t.db.takeSnapshot()
	}
	return t.snap
}

// Snapshot returns the LSN the transaction reads at (taking it if not yet taken).
func (t *Txn) Snapshot() page.LSN { return t.snapshot() }

// StartStatement marks the start of a statement: under READ COMMITTED it takes a new snapshot.
func (t *Txn) StartStatement() {
	if t.opts.Isolation == ReadCommitted && t.opts.Snapshot == 0 && t.snap != 0 {
		t.db.releaseSnapshot(t.snap)
		t.snap = 0
	}
}

func wsKey(tree page.ID, key []byte) string {
	var b strings.Builder
	b.Grow(8 + len(key))
	var h [8]byte
	binary.BigEndian.PutUint64(h[:], uint64(tree))
	b.Write(h[:])
	b.Write(key)
	return b.String()
}

func (t *Txn) check() error {
	if t.done {
		return ErrTxnDone
	}
	return t.db.failure()
}

// Lock takes a row lock on key of tree, whether or not the key exists.
func (t *Txn) Lock(ctx context.Context, tree page.ID, key []byte, mode lock.Mode) error {
	if err := t.check(); err != nil {
		return err
	}
	if t.db.ro != nil {
		return ErrReadOnlyNode // a lock would promise a write
	}
	t.locked = true
	return t.db.locks.Lock(ctx, t.id, []byte(wsKey(tree, key)), mode, t.opts.LockWaitTimeout)
}

// Get reads key at the transaction's snapshot, seeing its own writes.
func (t *Txn) Get(ctx context.Context, tree page.ID, key []byte) ([]byte, bool, error) {
	if err := t.check(); err != nil {
		return nil, false, err
	}
	if e, ok := t.ws[wsKey(tree, key)]; ok {
		if e.del {
			return nil, false, nil
		}
		return e.val, true, nil
	}
	return t.db.get(ctx, tree, key, t.snapshot())
}

// GetForUpdate locks key (shared or exclusive) and reads its newest committed version, as
// InnoDB's locking reads do, seeing the transaction's own writes.
func (t *Txn) GetForUpdate(ctx context.Context, tree page.ID, key []byte, mode lock.Mode) ([]byte, bool, error) {
	if err := t.Lock(ctx, tree, key, mode); err != nil {
		return nil, false, err
	}
	if e, ok := t.ws[wsKey(tree, key)]; ok {
		if e.del {
			return nil, false, nil
		}
		return e.val, true, nil
	}
	return t.db.get(ctx, tree, key, math.MaxUint64)
}

// Put writes value under key, taking an exclusive row lock.
func (t *Txn) Put(ctx context.Context, tree page.ID, key, value []byte) error {
	return t.write(ctx, tree, key, value, false)
}

// Delete deletes key, taking an exclusive row lock. Deleting a missing key is not an error.
func (t *Txn) Delete(ctx context.Context, tree page.ID, key []byte) error {
	return t.write(ctx, tree, key, nil, true)
}

// MaxKeySize is the longest user key.
const MaxKeySize = 3072

func (t *Txn) write(ctx context.Context, tree page.ID, key, value []byte, del bool) error {
	if err := t.check(); err != nil {
		return err
	}
	if t.db.ro != nil {
		return ErrReadOnlyNode
	}
	if t.opts.ReadOnly {
		return ErrReadOnly
	}
	if len(key) > MaxKeySize {
		return fmt.Errorf("engine: key of %d bytes exceeds %d", len(key), MaxKeySize)
	}
	k := wsKey(tree, key)
	t.locked = true
	if err := t.db.locks.Lock(ctx, t.id, []byte(k), lock.Exclusive, t.opts.LockWaitTimeout); err != nil {
		return err
	}
	prev, had := t.ws[k]
	if !had {
		prev = nil
	}
	for _, m := range t.stmts {
		if _, seen := m[k]; !seen {
			m[k] = prev
		}
	}
	t.undo = append(t.undo, undoRec{k: k, prev: prev})
	e := &wsEntry{tree: tree, key: []byte(k[8:]), del: del}
	if !del {
		e.val = slices.Clone(value)
	}
	t.ws[k] = e
	t.orderedSet().ReplaceOrInsert(e)
	return nil
}

// Savepoint returns a savepoint at the current state of the write set. Locks taken after it
// are kept when rolling back to it, as in InnoDB.
func (t *Txn) Savepoint() Savepoint { return Savepoint(len(t.undo)) }

// RollbackTo undoes the writes made after sp.
func (t *Txn) RollbackTo(sp Savepoint) error {
	if err := t.check(); err != nil {
		return err
	}
	if int(sp) > len(t.undo) || sp < 0 {
		return fmt.Errorf("engine: savepoint %d past the write set (%d)", sp, len(t.undo))
	}
	for i := len(t.undo) - 1; i >= int(sp); i-- {
		u := t.undo[i]
		if u.prev == nil {
			if e, ok := t.ws[u.k]; ok {
				t.orderedSet().Delete(e)
			}
			delete(t.ws, u.k)
		} else {
			t.ws[u.k] = u.prev
			t.orderedSet().ReplaceOrInsert(u.prev)
		}
	}
	t.undo = t.undo[:sp]
	return nil
}

// MarkStatement marks the start of a writing statement; calls nest (EndStatement ends one).
func (t *Txn) MarkStatement() { t.stmts = append(t.stmts, map[string]*wsEntry{}) }

// EndStatement ends the innermost statement begun with MarkStatement. What a nested
// statement (a trigger's) changed becomes visible to the statements around it, as in MySQL:
// only a statement's own direct changes are hidden from it.
func (t *Txn) EndStatement() {
	n := len(t.stmts)
	if n == 0 {
		return
	}
	inner := t.stmts[n-1]
	t.stmts = t.stmts[:n-1]
	for k, prev := range inner {
		for _, outer := range t.stmts {
			// The same entry recorded means the key's first change in the outer statement
			// happened inside the inner one.
			if op, ok := outer[k]; ok && op == prev {
				delete(outer, k)
			}
		}
	}
}

// stmtPrev returns the innermost open statement's record of first changes, or nil.
func (t *Txn) stmtPrev() map[string]*wsEntry {
	if n := len(t.stmts); n > 0 {
		return t.stmts[n-1]
	}
	return nil
}

// ChangedInStatement reports whether the open statement has written key of tree.
func (t *Txn) ChangedInStatement(tree page.ID, key []byte) bool {
	_, ok := t.stmtPrev()[wsKey(tree, key)]
	return ok
}

// InStatement reports whether a writing statement is open (MarkStatement).
func (t *Txn) InStatement() bool { return len(t.stmts) > 0 }

// GetAtStatementStart reads key as the current statement found it when it started: the
// snapshot with the transaction's writes from before the statement, not the statement's own
// (a statement must not see the rows it is changing).
func (t *Txn) GetAtStatementStart(ctx context.Context, tree page.ID, key []byte) ([]byte, bool, error) {
	if err := t.check(); err != nil {
		return nil, false, err
	}
	k := wsKey(tree, key)
	e, ok := t.ws[k]
	if prev, seen := t.stmtPrev()[k]; seen {
		e, ok = prev, prev != nil
	}
	if ok {
		if e.del {
			return nil, false, nil
		}
		return e.val, true, nil
	}
	return t.db.get(ctx, tree, key, t.snapshot())
}

// Written reports whether the transaction has written key of tree (and so holds its lock).
func (t *Txn) Written(tree page.ID, key []byte) bool {
	_, ok := t.ws[wsKey(tree, key)]
	return ok
}

// Wrote reports whether the transaction has written anything: its commit makes a group.
func (t *Txn) Wrote() bool { return len(t.ws) > 0 }

// WroteTree reports whether the transaction has written any key of tree.
func (t *Txn) WroteTree(tree page.ID) bool {
	found := false
	if len(t.ws) > 0 {
		t.orderedSet().AscendGreaterOrEqual(&wsEntry{tree: tree}, func(e *wsEntry) bool {
			found = e.tree == tree
			return false
		})
	}
	return found
}

// Writes returns the number of keys the transaction has written.
func (t *Txn) Writes() int { return len(t.ws) }

func (t *Txn) finish() {
	t.done = true
	if t.snap != 0 {
		t.db.releaseSnapshot(t.snap)
	}
	t.db.locks.ReleaseAll(t.id)
	t.ws, t.undo, t.ordered = nil, nil, nil
}

// Rollback discards the transaction's writes and releases its locks.
func (t *Txn) Rollback() {
	if !t.done {
		if len(t.ws) > 0 {
			t.db.stats.rollbacks.Add(1)
		}
		t.finish()
	}
}

// Commit applies the write set and a commit record as one redo group, releases the row locks,
// waits until the group is durable and makes it visible. It returns the LSN after the group
// (the snapshot from which the commit is visible); a transaction with no writes returns the
// current visible LSN without logging anything.
//
// The locks are released as soon as the group is in the log, before it is durable (early
// lock release, as InnoDB does): a transaction waiting for one of the rows goes on while the
// log syncs. It stays correct under a crash because nothing that depends on the commit can
// be acknowledged before the commit is durable:
//   - a transaction that writes after reading the commit's rows (locking reads and writes
//     read the newest version in the pages, durable or not) logs its own group after this
//     one, and its commit waits for its own group, so for this one too;
//   - a transaction without writes that took a lock waits, at commit, for every group
//     written so far, and makes them visible before it returns (a snapshot taken after it
//     must not miss a commit it saw);
//   - snapshot (non-locking) reads see only durable, visible commits.
//
// If the log fails instead, the engine fails and refuses every later commit, the dependent
// ones included. If it stalls, this commit is in doubt (ErrCommitInDoubt), and so is every
// commit that read it, since each waits for the same log.
func (t *Txn) Commit(ctx context.Context) (page.LSN, error) {
	rows := len(t.ws)
	if rows == 0 || t.done {
		return t.commit(ctx)
	}
	f := t.db.opts.EventListener.CommitEnd
	var began time.Time
	if f != nil {
		began, t.timed = time.Now(), true
	}
	end, err := t.commit(ctx)
	if err != nil {
		t.db.stats.commitErrors.Add(1)
	} else {
		t.db.stats.commits.Add(1)
	}
	if f != nil {
		info := CommitInfo{Duration: time.Since(began), Rows: rows, Err: err}
		if !t.appendedAt.IsZero() {
			info.WriterWait, info.Apply = t.writerAt.Sub(began), t.appendedAt.Sub(t.writerAt)
		}
		f(info)
	}
	return end, err
}

func (t *Txn) commit(ctx context.Context) (page.LSN, error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	inDoubt := false
	defer func() {
		if !inDoubt {
			t.finish()
		}
	}()
	if len(t.ws) == 0 {
		if t.locked {
			// Its locking reads may have read commits whose locks were released before they
			// were durable: it is acknowledged only once they are. Having written nothing, it
			// holds its locks no longer meanwhile.
			t.db.locks.ReleaseAll(t.id)
			w := page.LSN(t.db.written.Load())
			if err := t.db.log.WaitDurable(ctx, w); err != nil {
				return 0, err
			}
			// What it read must also be what every reader sees from now on, even if the
			// commit it read has not yet made itself visible: every group up to w is durable,
			// so every commit in them has taken effect.
			t.db.advanceVisible(w)
		}
		return t.db.VisibleLSN(), nil
	}
	entries := t.sortedEntries()
	horizon := t.db.Horizon()
	db := t.db
	var queue []purgeItem
	end, err := db.write(ctx, func(m *mtr.Mtr) error {
		if t.timed {
			t.writerAt = time.Now()
		}
		stamp := m.Base()
		queue = queue[:0]
		var kbuf, vbuf []byte
		for _, e := range entries {
			if !db.hasTree(e.tree) {
				continue // the tree was dropped (DROP TABLE): its rows went with it
			}
			tr := db.tree(e.tree)
			kbuf = mvccKey(kbuf[:0], e.key, stamp)
			vbuf = append(vbuf[:0], kindPut)
			if e.del {
				vbuf[0] = kindTombstone
			} else {
				vbuf = append(vbuf, e.val...)
			}
			if err := tr.Put(m, kbuf, vbuf); err != nil {
				return fmt.Errorf("engine: commit: write %q: %w", e.key, err)
			}
			more, err := db.pruneKey(m, tr, e.key, horizon)
			if err != nil {
				return err
			}
			if more || e.del {
				queue = append(queue, purgeItem{tree: e.tree, key: e.key, stamp: stamp})
			}
			if err := m.Spill(); err != nil {
				return err
			}
		}
		m.Commit(uint64(t.id), db.commitTime())
		return nil
	})
	if err != nil {
		return 0, err
	}
	if t.timed {
		t.appendedAt = time.Now()
	}
	db.locks.ReleaseAll(t.id) // early lock release: see above
	// The group is in the log: wait for it even if the client has gone.
	if err := db.log.WaitDurable(context.WithoutCancel(ctx), end); err != nil {
		if errors.Is(err, storage.ErrStalled) {
			// The log keeps the group and makes it durable when it recovers: the pages still
			// match the log, so the engine goes on. The commit's outcome is unknown to the
			// client; it takes effect once durable, unless this node stops first.
			inDoubt = true
			t.commitInDoubt(end, queue, len(entries))
			return end, fmt.Errorf("%w: %w", ErrCommitInDoubt, err)
		}
		db.fail(err)
		return 0, err
	}
	db.advanceVisible(end)
	db.enqueuePurge(queue)
	db.writes.Add(uint64(len(entries)))
	return end, nil
}

// ErrCommitInDoubt is returned by Commit when the log stalled before the commit's group
// became durable (storage.ErrStalled): the group stays in the log and the commit takes effect
// when the log recovers, unless the node stops first. Its rows are not locked meanwhile (its
// locks were released when it was written): a transaction that changes them after it builds
// on it, and is in doubt as well until the log recovers. Commit then also returns the LSN from
// which the commit would be visible.
var ErrCommitInDoubt = errors.New("engine: commit not durable yet, outcome unknown (it takes effect if the log recovers before this node stops)")

// commitInDoubt finishes a commit whose group ending at end is in the log but not yet durable:
// the transaction is done for its caller (its locks are already released), and it becomes
// visible as a normal commit would once the group is durable. A log error other than a stall
// fails the engine.
func (t *Txn) commitInDoubt(end page.LSN, queue []purgeItem, n int) {
	db := t.db
	t.done = true
	if t.snap != 0 {
		db.releaseSnapshot(t.snap)
		t.snap = 0
	}
	t.ws, t.undo, t.ordered = nil, nil, nil
	go func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-db.stopBg:
				cancel()
			case <-ctx.Done():
			}
		}()
		for {
			began := time.Now()
			err := db.log.WaitDurable(ctx, end)
			switch {
			case err == nil:
				db.advanceVisible(end)
				db.enqueuePurge(queue)
				db.writes.Add(uint64(n))
				db.lg.Info("engine: an in-doubt commit became durable", "end", uint64(end))
				return
			case errors.Is(err, storage.ErrStalled):
				if time.Since(began) < 10*time.Millisecond {
					time.Sleep(10 * time.Millisecond) // a log that fails fast
				}
			case ctx.Err() != nil, errors.Is(err, storage.ErrClosed):
				return // the engine or the log is closing
			default:
				db.fail(err)
				return
			}
		}
	}()
}

func lessEntry(a, b *wsEntry) bool {
	if a.tree != b.tree {
		return a.tree < b.tree
	}
	return bytes.Compare(a.key, b.key) < 0
}

func (t *Txn) orderedSet() *btree.BTreeG[*wsEntry] {
	if t.ordered == nil {
		t.ordered = btree.NewG(32, lessEntry)
	}
	return t.ordered
}

// sortedEntries returns the write set in (tree, key) order.
func (t *Txn) sortedEntries() []*wsEntry {
	out := make([]*wsEntry, 0, len(t.ws))
	t.orderedSet().Ascend(func(e *wsEntry) bool {
		out = append(out, e)
		return true
	})
	return out
}

// rangeEntries returns the write set's entries of tree with keys in [lo, hi), in order; with
// atStmtStart, as they were when the open statement began.
func (t *Txn) rangeEntries(tree page.ID, lo, hi []byte, atStmtStart bool) []*wsEntry {
	var out []*wsEntry
	if len(t.ws) == 0 {
		return nil
	}
	stmt := t.stmtPrev()
	t.orderedSet().AscendGreaterOrEqual(&wsEntry{tree: tree, key: lo}, func(e *wsEntry) bool {
		if e.tree != tree || hi != nil && bytes.Compare(e.key, hi) >= 0 {
			return false
		}
		if atStmtStart {
			if prev, seen := stmt[wsKey(e.tree, e.key)]; seen {
				if prev == nil {
					// Not in the write set when the statement began: the snapshot shows it.
					out = append(out, &wsEntry{tree: e.tree, key: e.key, snapshot: true})
					return true
				}
				e = prev
			}
		}
		out = append(out, e)
		return true
	})
	return out
}

// get reads key as of snap.
func (db *DB) get(ctx context.Context, tree page.ID, key []byte, snap page.LSN) ([]byte, bool, error) {
	release, err := db.readBarrier(snap)
	if err != nil {
		return nil, false, err
	}
	defer release()
	return visibleVersion(ctx, db.tree(tree), key, snap)
}

// visibleVersion reads, with one seek, the version of key that snapshot snap sees in tr: its
// value and true for a put; false for a tombstone or no version.
func visibleVersion(ctx context.Context, tr *stbtree.Tree, key []byte, snap page.LSN) ([]byte, bool, error) {
	var kb [64]byte
	start := seekVisible(kb[:0], key, snap)
	var out []byte
	var found bool
	err := tr.Scan(ctx, start, func(k []byte, v stbtree.Value) (bool, error) {
		u, stamp := splitKey(k)
		if !bytes.Equal(u, key) {
			return false, nil
		}
		if stamp >= snap {
			return true, nil // only when snap is 0
		}
		b, err := v.Append(nil)
		if err != nil {
			return false, err
		}
		if len(b) == 0 {
			return false, fmt.Errorf("engine: empty version of %q", key)
		}
		if b[0] == kindPut {
			out, found = b[1:], true
		}
		return false, nil
	})
	return out, found, err
}
