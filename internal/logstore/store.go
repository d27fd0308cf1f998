// Package logstore is the Log Store: it keeps the redo log bytes of one database on local disk
// (segment files on a vfs.FS), makes appends durable with group commit (one fsync for every
// append pending when it starts), and serves reads and tails of the synced bytes. Three Log
// Stores hold the log; the writer (internal/logclient) counts a byte durable when two of them
// have synced it.
//
// The protocol decisions are in core, a state machine without I/O: an append is accepted only
// from the epoch the store has promised to and whose writer adopted the log, and only at the
// store's end; Seal promises a new epoch (durably) so that older writers are refused; Adopt cuts
// the log where a new writer's log agrees with it and takes that writer's epoch history. Store
// wraps core with the files, the flusher goroutine and waiting. Server serves it over gRPC.
package logstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/logapi"
	"strata/internal/page"
	"strata/internal/privfs"
	"strata/internal/quorum"
	"strata/internal/storage"
)

// DefaultSegmentSize is the size after which the store starts a new segment file.
const DefaultSegmentSize = 16 << 20

// ErrTruncated is returned (wrapped) for a read below the first retained LSN.
var ErrTruncated = errors.New("logstore: LSN below the first retained LSN")

// ErrCorrupt is returned (wrapped) for a read that found a damaged record. The store refuses to
// serve that range; read it from another replica.
var ErrCorrupt = errors.New("logstore: corrupt record")

// ErrFailed is returned (wrapped) by every call to a store whose write, sync or state change
// failed (see Store.Failed); the server reports it as unavailable.
var ErrFailed = errors.New("logstore: store failed")

// ErrInvalid is returned (wrapped) for a malformed request.
var ErrInvalid = errors.New("logstore: invalid request")

// Options configures Open.
type Options struct {
	FS          vfs.FS // default vfs.Default
	Dir         string
	SegmentSize int64        // default DefaultSegmentSize
	Logger      *slog.Logger // default slog.Default()

	// Peers are the other replicas' addresses, dialled with Secret: a range of this store's log
	// found damaged (on open, by a background check of every closed segment, or on a read) is
	// copied back from one of them. Without peers damage is only reported and refused.
	Peers  []string
	Secret string
	// RepairInterval is the first wait before retrying a range no peer could supply; it
	// doubles up to 30 s (default 200 ms).
	RepairInterval time.Duration
	// EventListener receives the store's events (batches made durable); the zero value
	// receives none.
	EventListener EventListener
	// Timeline is the log this store holds (0: the main database's; see logapi.MaxTimeline).
	// Its repairs ask the peers for this timeline's bytes. A Server opens the stores of the
	// timelines N > 0 itself, in Dir's timelines/N (TimelineDir).
	Timeline uint64
}

// Store is one Log Store replica. It is safe for concurrent use.
type Store struct {
	fs      vfs.FS
	dir     string
	segSize int64
	logger  *slog.Logger
	lock    io.Closer

	mu       sync.Mutex
	c        core
	pending  []byte     // accepted bytes not yet taken by the flusher; they end at c.end
	starts   []page.LSN // record starts in pending
	flushing bool       // the flusher is writing a batch
	cond     sync.Cond  // signalled when a batch is done or pending grows
	changed  chan struct{}
	err      error         // sticky: a write or sync failed
	failed   chan struct{} // closed when err is set
	closing  bool
	closed   bool
	done     chan struct{}
	fsyncs   uint64
	batches  uint64
	written  uint64    // bytes written and synced
	since    time.Time // when the oldest pending byte was accepted (with a BatchDurable listener)
	events   EventListener

	// truncMu serialises the file changes that remove whole segments outside mu (Truncate) with
	// those that replace them (StartAt) and with Close.
	truncMu sync.Mutex
	ioMu    sync.Mutex // held for file changes: the flusher's batch, Adopt's cut, StartAt
	w       writer

	segMu sync.RWMutex // guards segs; held shared while reading
	segs  []*segment

	opts     Options // as given, with the defaults filled in: what a timeline's store inherits
	timeline uint64

	peers       []*peer
	ownPeers    bool // the peers' connections are this store's to close (not a timeline's)
	repairEvery time.Duration
	repairWake  chan struct{} // buffered 1: damage was recorded
	repairStop  context.CancelFunc
	repairDone  chan struct{}
	repairs     uint64 // ranges repaired since Open (under mu)
}

// Open opens (creating if needed) the store in opts.Dir and recovers it: the last segment is
// cut after its last whole, valid record.
func Open(opts Options) (*Store, error) {
	if err := logapi.CheckTimeline(opts.Timeline); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	peers, err := dialPeers(opts.Peers, opts.Secret, opts.Timeline)
	if err != nil {
		return nil, err
	}
	s, err := openStore(opts, peers)
	if err != nil {
		closePeers(peers)
		return nil, err
	}
	s.ownPeers = true
	return s, nil
}

// openStore opens the store in opts.Dir with peers (whose connections the caller owns).
func openStore(opts Options, peers []*peer) (*Store, error) {
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	if opts.Dir == "" {
		return nil, errors.New("logstore: Options.Dir is empty")
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RepairInterval <= 0 {
		opts.RepairInterval = 200 * time.Millisecond
	}
	given := opts
	opts.FS = privfs.Wrap(opts.FS) // the log holds every row: owner only
	s := &Store{fs: opts.FS, dir: opts.Dir, segSize: opts.SegmentSize, logger: opts.Logger,
		changed: make(chan struct{}), done: make(chan struct{}), failed: make(chan struct{}),
		repairEvery: opts.RepairInterval, repairWake: make(chan struct{}, 1), repairDone: make(chan struct{}),
		events: opts.EventListener, opts: given, timeline: opts.Timeline, peers: peers}
	s.cond.L = &s.mu
	if err := mkdirDurable(s.fs, s.dir); err != nil {
		return nil, err
	}
	if err := privfs.Tighten(s.fs, s.dir); err != nil {
		return nil, fmt.Errorf("logstore: %w", err)
	}
	lock, err := s.fs.Lock(s.fs.PathJoin(s.dir, "LOCK"))
	if err != nil {
		return nil, fmt.Errorf("logstore: lock %s: %w", s.dir, err)
	}
	s.lock = lock
	if err := s.recover(); err != nil {
		_ = s.w.close()
		_ = lock.Close()
		return nil, err
	}
	go s.run()
	ctx, cancel := context.WithCancel(context.Background())
	s.repairStop = cancel
	go s.repairLoop(ctx)
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Status returns the store's protocol state.
func (s *Store) Status() logapi.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.status()
}

// Fsyncs returns the number of log syncs and of flushed batches since Open.
func (s *Store) Fsyncs() (syncs, batches uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fsyncs, s.batches
}

// notify wakes everyone waiting for a change of state. s.mu must be held.
func (s *Store) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Changed returns a channel closed at the next change of the store's state (durable end,
// committed LSN, epoch, failure, close).
func (s *Store) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// usable returns the store's failure or ErrClosed. s.mu must be held.
func (s *Store) usable() error {
	if s.closing {
		return storage.ErrClosed
	}
	return s.err
}

// Append accepts data, whole records, at start from the writer of epoch, and returns the LSN
// after them. It does no I/O: WaitDurable waits until the bytes are synced. complete says the
// data ends at a group end; committed is the writer's quorum-durable LSN. An empty data only
// updates committed. A protocol refusal is a *RefusedError.
func (s *Store) Append(epoch uint64, start page.LSN, data []byte, complete bool, committed page.LSN) (page.LSN, error) {
	if len(data) > logapi.MaxAppend {
		return 0, fmt.Errorf("%w: append of %d bytes (at most %d)", ErrInvalid, len(data), logapi.MaxAppend)
	}
	offs, groupEnd, n, err := scanRecords(data)
	if err == nil && n != len(data) {
		err = errors.New("the data ends inside a record")
	}
	if err != nil {
		return 0, fmt.Errorf("%w: append at %d: at offset %d: %w", ErrInvalid, start, n, err)
	}
	if complete != (len(data) > 0 && groupEnd == len(data)) && len(data) > 0 {
		return 0, fmt.Errorf("%w: append at %d: complete=%v but the last record's group end flag says otherwise", ErrInvalid, start, complete)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return 0, err
	}
	if err := s.c.checkAppend(epoch, start, len(data)); err != nil {
		return 0, err
	}
	notify := false
	if committed > s.c.committed {
		s.c.commit(committed)
		notify = true
	}
	if len(data) > 0 {
		var ge page.LSN
		if groupEnd >= 0 {
			ge = start + page.LSN(groupEnd)
		}
		for _, o := range offs {
			s.starts = append(s.starts, start+page.LSN(o))
		}
		s.c.accept(len(data), ge)
		if len(s.pending) == 0 && s.events.BatchDurable != nil {
			s.since = time.Now()
		}
		s.pending = append(s.pending, data...)
		s.cond.Broadcast()
	}
	if notify {
		s.notify()
	}
	return s.c.end, nil
}

// WaitDurable waits until every byte below lsn is synced, the store fails or closes, or ctx
// ends.
func (s *Store) WaitDurable(ctx context.Context, lsn page.LSN) error {
	for {
		s.mu.Lock()
		if s.c.durable >= lsn {
			s.mu.Unlock()
			return nil
		}
		if err := s.usable(); err != nil {
			s.mu.Unlock()
			return err
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// DurableFor returns the store's synced end for the writer of epoch, refusing a writer that
// is no longer the one the store follows: an acknowledgement is only good for its epoch.
func (s *Store) DurableFor(epoch uint64) (page.LSN, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return 0, err
	}
	if err := s.c.checkEpoch(epoch); err != nil {
		return 0, err
	}
	return s.c.durable, nil
}

// drain waits until the flusher has synced every accepted byte. s.mu must be held.
func (s *Store) drain() error {
	for (len(s.pending) > 0 || s.flushing) && s.err == nil && !s.closed {
		s.cond.Wait()
	}
	if s.closed {
		return storage.ErrClosed
	}
	return s.err
}

// Seal promises epoch: from now on (and after a restart) appends of older epochs are refused.
// It waits until every accepted byte is synced and returns the store's state. With newEpoch
// the epoch must be newer than every one the store has seen.
func (s *Store) Seal(epoch uint64, newEpoch bool) (logapi.Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return logapi.Status{}, err
	}
	changed, err := s.c.seal(epoch, newEpoch)
	if err != nil {
		return s.c.status(), err
	}
	if changed {
		s.notify() // acknowledgements for older epochs stop
	}
	if err := s.drain(); err != nil {
		return logapi.Status{}, err
	}
	if changed {
		if err := s.persist(); err != nil {
			return logapi.Status{}, err
		}
	}
	return s.c.status(), nil
}

// persist writes the durable protocol state. s.mu must be held.
func (s *Store) persist() error {
	err := writeState(s.fs, s.dir, s.c.state())
	if err != nil {
		s.fail(err)
	}
	return err
}

// sealAndCheck is how a writer's Adopt or StartAt begins, with s.mu held: it seals the log for
// epoch, writes out the pending appends, then asks check whether the change is valid. A refused
// change still persists the seal (it may have raised the promised epoch) and is returned as an
// error wrapping ErrInvalid, with the store's status.
func (s *Store) sealAndCheck(epoch uint64, check func() error) (logapi.Status, error) {
	if err := s.usable(); err != nil {
		return logapi.Status{}, err
	}
	changed, err := s.c.seal(epoch, false)
	if err != nil {
		return s.c.status(), err
	}
	s.notify()
	if err := s.drain(); err != nil {
		return logapi.Status{}, err
	}
	if err := check(); err != nil {
		if changed {
			if perr := s.persist(); perr != nil {
				return logapi.Status{}, perr
			}
		}
		return s.c.status(), fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return logapi.Status{}, nil
}

// Adopt lets the writer of epoch take over the log: the store cuts it at at (where the writer
// found that their logs agree; see quorum.Agree) and takes the writer's history h, which must
// end with the writer's own term. committed is the writer's quorum-durable LSN. The writer
// then appends from at.
func (s *Store) Adopt(epoch uint64, at page.LSN, h []quorum.Term, committed page.LSN) (logapi.Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, err := s.sealAndCheck(epoch, func() error { return s.c.checkAdopt(epoch, at, h) }); err != nil {
		return st, err
	}
	// Cut first, then write the state: a crash in between leaves a shorter log with the old
	// history, which is still true of it; the reverse order could label old bytes with the
	// new writer's epochs.
	complete := s.c.syncedGroup
	if at < s.c.durable {
		var err error
		if complete, err = s.cut(at); err != nil {
			s.fail(err)
			return logapi.Status{}, err
		}
		s.logger.Info("logstore: log cut by a new writer", "dir", s.dir, "epoch", epoch, "at", uint64(at), "was", uint64(s.c.durable))
	}
	s.c.adopt(epoch, at, h, complete, committed)
	if err := s.persist(); err != nil {
		return logapi.Status{}, err
	}
	s.notify()
	return s.c.status(), nil
}

// StartAt lets the writer of epoch restart the log at at: the store drops its log, which must
// lie wholly below at (see core.checkStartAt), takes the part of the writer's history h from at
// on, and its log then starts at at, empty; the writer fills it from there (copying from a peer).
// The writer uses it for a store whose log ends below the first LSN any peer still holds, such as
// a new, empty store replacing a lost one after the log was truncated. committed is the writer's
// quorum-durable LSN (or the end of the log its recovery kept, if higher); at must not exceed it.
//
// The state file, saying that the log starts at at, is written first; then the old segments are
// removed and the first segment at at is created. A crash before the state file is replaced
// leaves the old log and state; a crash after it leaves the new state, and the next open removes
// whatever old segments remain below at and creates the segment at at.
func (s *Store) StartAt(epoch uint64, at page.LSN, h []quorum.Term, committed page.LSN) (logapi.Status, error) {
	s.truncMu.Lock()
	defer s.truncMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, err := s.sealAndCheck(epoch, func() error { return s.c.checkStartAt(epoch, at, h, committed) }); err != nil {
		return st, err
	}
	was := s.c.status()
	next := s.c
	next.startAt(epoch, at, h, committed)
	if err := writeState(s.fs, s.dir, next.state()); err != nil {
		s.fail(err)
		return logapi.Status{}, err
	}
	s.c = next
	if err := s.restartFiles(at); err != nil {
		s.fail(err)
		return logapi.Status{}, err
	}
	s.logger.Info("logstore: log restarted by the writer at a peer's first retained LSN; dropped the log below it",
		"dir", s.dir, "epoch", epoch, "at", uint64(at), "was_first", uint64(was.First), "was_end", uint64(was.Durable))
	s.notify()
	return s.c.status(), nil
}

// restartFiles replaces the segments with one empty segment at at, for StartAt once the state
// file says the log starts there. The old segments are removed in order, so that those left by a
// crash are still contiguous for the next open, which removes them. The flusher must be idle
// (drained) and s.mu held.
func (s *Store) restartFiles(at page.LSN) error {
	s.ioMu.Lock()
	defer s.ioMu.Unlock()
	if err := s.w.close(); err != nil {
		return fmt.Errorf("logstore: close %s: %w", s.w.seg.path, err)
	}
	s.segMu.Lock()
	old := s.segs
	s.segs = nil
	s.segMu.Unlock()
	var errs []error
	for _, seg := range old {
		errs = append(errs, seg.retireReader())
		if seg.start == at {
			continue // an empty segment rolled at at: created afresh below
		}
		if err := s.fs.Remove(seg.path); err != nil {
			errs = append(errs, fmt.Errorf("logstore: remove segment: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := syncDir(s.fs, s.dir); err != nil {
		return err
	}
	seg, f, err := createSegment(s.fs, s.dir, at)
	if err != nil {
		return err
	}
	s.segMu.Lock()
	s.segs = []*segment{seg}
	s.segMu.Unlock()
	s.w = writer{f: f, seg: seg}
	return nil
}

// Truncate deletes the segment files that end at or below before. The segment being written
// is never deleted. The store stops serving them at once; the files are removed afterwards,
// outside s.mu, so that appends and status calls do not wait for the file system.
func (s *Store) Truncate(before page.LSN) error {
	s.truncMu.Lock() // lock order: truncMu, then mu
	defer s.truncMu.Unlock()
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	s.segMu.Lock()
	k := 0
	for k+1 < len(s.segs) && s.segs[k+1].start <= before {
		k++
	}
	removed := s.segs[:k] // the old array: s.segs gets a new one
	s.segs = slices.Clone(s.segs[k:])
	first := s.segs[0].start
	s.segMu.Unlock()
	if len(removed) > 0 {
		s.c.first = first
		s.c.clipDamaged()
	}
	s.mu.Unlock()
	if len(removed) == 0 {
		return nil
	}
	// In order, so that a crash leaves the segments still on disk contiguous; the next open
	// starts the log at the first of them, which is all the store promised to keep.
	var errs []error
	for _, seg := range removed {
		errs = append(errs, seg.retireReader())
		if err := s.fs.Remove(seg.path); err != nil {
			errs = append(errs, fmt.Errorf("logstore: remove segment: %w", err))
		}
	}
	errs = append(errs, syncDir(s.fs, s.dir))
	s.logger.Info("logstore: truncated", "dir", s.dir, "before", uint64(before), "first", uint64(first), "segments", len(removed))
	return errors.Join(errs...)
}

// Close syncs what was accepted, stops the flusher and closes the files.
func (s *Store) Close() error {
	s.truncMu.Lock()
	defer s.truncMu.Unlock()
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return storage.ErrClosed
	}
	s.closing = true
	s.cond.Broadcast()
	s.mu.Unlock()
	s.repairStop()
	<-s.repairDone
	<-s.done
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.notify()
	errs := []error{s.err}
	if s.err == nil {
		// Record how far the log is synced, so that the next open tells damage below it from a
		// torn tail.
		errs = append(errs, writeState(s.fs, s.dir, s.c.state()))
	}
	s.mu.Unlock()
	if s.ownPeers {
		closePeers(s.peers)
	}
	s.ioMu.Lock()
	errs = append(errs, s.w.close())
	s.ioMu.Unlock()
	s.segMu.Lock()
	for _, seg := range s.segs {
		errs = append(errs, seg.closeReader())
	}
	s.segMu.Unlock()
	errs = append(errs, s.lock.Close())
	return errors.Join(errs...)
}

// run is the flusher: it takes every pending byte, writes it, syncs once, and advances the
// durable end, until Close with nothing pending, or a failure. Appends that arrive during a
// sync wait for the next one, so one sync serves all of them (group commit).
func (s *Store) run() {
	defer close(s.done)
	for {
		s.mu.Lock()
		for len(s.pending) == 0 && !s.closing && s.err == nil {
			s.cond.Wait()
		}
		if len(s.pending) == 0 || s.err != nil {
			s.mu.Unlock()
			return
		}
		buf, starts, since := s.pending, s.starts, s.since
		s.pending, s.starts = nil, nil
		to := s.c.end
		from := to - page.LSN(len(buf))
		s.flushing = true
		s.mu.Unlock()

		s.ioMu.Lock()
		sync, err := s.writeBatch(from, buf, starts)
		if err != nil {
			s.dropUnsynced(from)
		}
		s.ioMu.Unlock()

		s.mu.Lock()
		s.flushing = false
		s.batches++
		if err != nil {
			s.fail(err)
			s.mu.Unlock()
			return
		}
		s.fsyncs++
		s.written += uint64(len(buf))
		s.c.synced(to)
		s.cond.Broadcast()
		s.notify()
		s.mu.Unlock()
		if f := s.events.BatchDurable; f != nil {
			f(BatchInfo{Bytes: len(buf), Wait: time.Since(since), Sync: sync})
		}
	}
}

// writeBatch writes buf (the bytes from from, records starting at starts) to the segment being
// written, syncs, and rolls to a new segment when this one is full. It returns how long the
// sync took. s.ioMu must be held.
func (s *Store) writeBatch(from page.LSN, buf []byte, starts []page.LSN) (time.Duration, error) {
	if s.w.seg.start+page.LSN(s.w.off) != from {
		return 0, fmt.Errorf("logstore: internal error: batch at %d, segment %s at %d", from, s.w.seg.path, s.w.seg.start+page.LSN(s.w.off))
	}
	if err := s.w.preallocate(s.w.off+int64(len(buf)), min(preallocStep, s.segSize), s.segSize); err != nil {
		// Not fatal: the batch is written without it (and fails by itself if the disk is full).
		s.logger.Warn("logstore: preallocation failed; appending to this segment without it", "err", err)
	}
	if err := s.w.write(buf); err != nil {
		return 0, err
	}
	s.w.seg.addStarts(starts)
	began := time.Now()
	if err := s.w.sync(); err != nil {
		return 0, err
	}
	sync := time.Since(began)
	if s.w.off >= s.segSize {
		return sync, s.roll(from + page.LSN(len(buf)))
	}
	return sync, nil
}

// roll closes the segment being written and starts a new one at start. s.ioMu must be held.
// The closed segment loses its preallocated zeros before the next one exists, so that only the
// last segment can have them.
func (s *Store) roll(start page.LSN) error {
	if err := s.w.trim(s.fs, s.dir); err != nil {
		return err
	}
	if err := s.w.close(); err != nil {
		return fmt.Errorf("logstore: close %s: %w", s.w.seg.path, err)
	}
	seg, f, err := createSegment(s.fs, s.dir, start)
	if err != nil {
		return err
	}
	s.segMu.Lock()
	s.segs = append(s.segs, seg)
	s.segMu.Unlock()
	s.w = writer{f: f, seg: seg}
	return nil
}

// cut makes the log end at at: the segment holding at is cut there, later segments removed, and
// it becomes the segment being written. It returns the end of the last complete group at or
// below at. The flusher must be idle (drained) and s.mu held.
func (s *Store) cut(at page.LSN) (page.LSN, error) {
	s.ioMu.Lock()
	defer s.ioMu.Unlock()
	if err := s.w.close(); err != nil {
		return 0, fmt.Errorf("logstore: close %s: %w", s.w.seg.path, err)
	}
	s.segMu.Lock()
	k := len(s.segs) - 1
	for k > 0 && s.segs[k].start > at {
		k--
	}
	keep, removed := s.segs[k], slices.Clone(s.segs[k+1:])
	s.segs = s.segs[:k+1]
	s.segMu.Unlock()
	if err := keep.closeReader(); err != nil {
		return 0, err
	}
	for _, seg := range removed {
		if err := seg.retireReader(); err != nil {
			return 0, err
		}
	}
	if err := cutFile(s.fs, s.dir, keep.path, int64(at-keep.start)); err != nil {
		return 0, err
	}
	for _, seg := range removed {
		if err := s.fs.Remove(seg.path); err != nil {
			return 0, fmt.Errorf("logstore: remove segment: %w", err)
		}
	}
	if err := syncDir(s.fs, s.dir); err != nil {
		return 0, err
	}
	keep.cutIndex(at)
	if err := keep.buildIndex(s.fs, int64(at-keep.start)); err != nil {
		return 0, fmt.Errorf("logstore: %s: %w", keep.path, err)
	}
	f, err := s.fs.OpenReadWrite(keep.path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return 0, fmt.Errorf("logstore: open segment for writing: %w", err)
	}
	s.w = writer{f: f, seg: keep, off: int64(at - keep.start), alloc: int64(at - keep.start)}
	ge, err := s.lastGroupEnd(at)
	if err != nil {
		// Damage below at hides the last group end; the repair finds it.
		s.logger.Warn("logstore: looking for the last complete group after a cut", "dir", s.dir, "err", err)
		s.c.groupUnsure = true
		return s.c.first, nil
	}
	s.c.groupUnsure = false
	return ge, nil
}

// lastGroupEnd returns the end of the last complete group at or below end, scanning segments
// from the last one back; the log's start if there is none. The segments are read whole.
func (s *Store) lastGroupEnd(end page.LSN) (page.LSN, error) {
	s.segMu.RLock()
	segs := slices.Clone(s.segs)
	s.segMu.RUnlock()
	for i := len(segs) - 1; i >= 0; i-- {
		seg := segs[i]
		hi := end
		if i+1 < len(segs) {
			hi = min(hi, segs[i+1].start)
		}
		if hi <= seg.start {
			continue
		}
		data := make([]byte, hi-seg.start)
		if err := seg.readAt(s.fs, data, 0); err != nil {
			return 0, err
		}
		_, ge, n, err := scanRecords(data)
		if err != nil {
			// The last group end may lie after the damage.
			return 0, fmt.Errorf("logstore: %s at offset %d: %w", seg.path, n, err)
		}
		if ge >= 0 {
			return seg.start + page.LSN(ge), nil
		}
	}
	return s.c.first, nil
}

// mkdirDurable creates dir and its missing parents and makes their creation durable.
func mkdirDurable(fs vfs.FS, dir string) error {
	var missing []string
	for d := dir; ; {
		if _, err := fs.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
		parent := fs.PathDir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if len(missing) == 0 {
		return nil
	}
	if err := fs.MkdirAll(dir, privfs.DirMode); err != nil {
		return fmt.Errorf("logstore: create %s: %w", dir, err)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if parent := fs.PathDir(missing[i]); parent != missing[i] {
			if err := syncDir(fs, parent); err != nil {
				return err
			}
		}
	}
	return nil
}
