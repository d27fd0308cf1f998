// Package wal provides the local redo log: an append-only file log on a vfs.FS with group commit
// (one fsync makes many appends durable), segment files, recovery to the last complete group,
// and tail reads for Page Stores.
//
// Append only copies bytes into an in-memory buffer. One background flusher repeatedly takes
// everything appended so far, writes it to the current segment file, syncs once and advances
// Durable, waking every waiter whose LSN became durable. A segment file is named by its start
// LSN and holds whole groups: the log rolls to a new file only after an append that ends a group.
package wal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/privfs"
	"strata/internal/storage"
)

// DefaultSegmentSize is the size after which the log rolls to a new segment file.
const DefaultSegmentSize = 64 << 20

// maxSpare bounds the capacity of the append buffer kept for reuse between flushes.
const maxSpare = 4 << 20

// ErrTruncated is returned (wrapped) by Read for an LSN below the first retained LSN.
var ErrTruncated = errors.New("wal: LSN below the first retained LSN")

// Options configures Open.
type Options struct {
	FS          vfs.FS       // default vfs.Default
	Dir         string       // created if missing
	SegmentSize int64        // roll to a new segment file after this many bytes; default 64 MiB
	Logger      *slog.Logger // default slog.Default()
}

// Stats counts the work of a log since Open.
type Stats struct {
	Appends      uint64 // Append calls that added bytes or ended a group
	Fsyncs       uint64 // file and directory syncs issued
	BytesWritten uint64 // log bytes written to segment files
}

// Log is a redo log in a directory of segment files. It is safe for concurrent use.
type Log struct {
	fs        vfs.FS
	dir       string
	segSize   int64
	logger    *slog.Logger
	lock      io.Closer
	recovered page.LSN

	end     atomic.Uint64 // LSN after the last appended byte
	durable atomic.Uint64 // every byte below is durable
	first   atomic.Uint64 // first retained LSN

	appends, fsyncs, written atomic.Uint64

	mu        sync.Mutex
	pending   []byte     // appended bytes [flushed, end) not yet taken by the flusher
	spare     []byte     // a drained buffer for reuse
	flushed   page.LSN   // LSN of pending[0]
	segStart  page.LSN   // start of the segment the next appended byte will belong to
	rolls     []page.LSN // LSNs at which the flusher must start a new segment, ascending
	kick      sync.Cond  // the flusher waits on it for pending bytes or closing
	idle      bool       // the flusher is waiting on kick
	durableCh chan struct{}
	err       error // sticky: a write or sync failed
	closing   bool  // Close has begun: no more appends
	closed    bool  // Close has stopped the flusher
	done      chan struct{}

	// Gathering: after a flush the flusher waits, briefly, until as many appends are pending as
	// the last flush carried (their committers were just woken and are likely to append
	// again), so that one fsync serves them all instead of alternating small and large batches.
	pendingAppends int           // appends in pending
	expect         int           // appends the last flush carried
	lastSync       time.Duration // how long the last write+sync took
	gathering      bool          // the flusher is waiting for more appends

	segMu      sync.RWMutex // guards segs and segsClosed; held shared while reading files
	segs       []*segment   // retained segments by start; the last is being written
	segsClosed bool

	truncMu sync.Mutex // serialises Truncate

	w writer // owned by the flusher (by Open before it starts, by Close after it stops)
}

var _ storage.Log = (*Log)(nil)

// Open opens the log in opts.Dir, creating the directory and a first segment if needed, and
// recovers it: the last segment is cut after its last complete group.
func Open(opts Options) (*Log, error) {
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	opts.FS = privfs.Wrap(opts.FS) // the log holds every row: owner only
	if opts.Dir == "" {
		return nil, errors.New("wal: Options.Dir is empty")
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	l := &Log{
		fs:        opts.FS,
		dir:       opts.Dir,
		segSize:   opts.SegmentSize,
		logger:    opts.Logger,
		durableCh: make(chan struct{}),
		done:      make(chan struct{}),
	}
	l.kick.L = &l.mu
	if err := l.mkdir(); err != nil {
		return nil, err
	}
	if err := privfs.Tighten(l.fs, l.dir); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	lock, err := l.fs.Lock(l.fs.PathJoin(l.dir, "LOCK"))
	if err != nil {
		return nil, fmt.Errorf("wal: lock %s: %w", l.dir, err)
	}
	l.lock = lock
	if err := l.recover(); err != nil {
		_ = l.w.close()
		_ = lock.Close()
		return nil, err
	}
	go l.run()
	return l, nil
}

// mkdir creates the log directory if it is missing and makes its creation durable.
func (l *Log) mkdir() error {
	var missing []string
	for d := l.dir; ; {
		if _, err := l.fs.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
		parent := l.fs.PathDir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if len(missing) == 0 {
		return nil
	}
	if err := l.fs.MkdirAll(l.dir, privfs.DirMode); err != nil {
		return fmt.Errorf("wal: create directory: %w", err)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if parent := l.fs.PathDir(missing[i]); parent != missing[i] {
			if err := syncDir(l.fs, parent); err != nil {
				return err
			}
		}
	}
	return nil
}

// Recovered returns the end of the log found by Open.
func (l *Log) Recovered() page.LSN { return l.recovered }

// End returns the LSN after the last appended byte.
func (l *Log) End() page.LSN { return page.LSN(l.end.Load()) }

// Durable returns the LSN below which every byte is durable.
func (l *Log) Durable() page.LSN { return page.LSN(l.durable.Load()) }

// First returns the first retained LSN.
func (l *Log) First() page.LSN { return page.LSN(l.first.Load()) }

// Stats returns counters since Open.
func (l *Log) Stats() Stats {
	return Stats{Appends: l.appends.Load(), Fsyncs: l.fsyncs.Load(), BytesWritten: l.written.Load()}
}

// Append copies b into the log and returns its LSN range. It does no I/O: the flusher makes the
// bytes durable; WaitDurable waits for that. complete says whether b ends a group; the log only
// rolls to a new segment file after such an append.
func (l *Log) Append(b []byte, complete bool) (start, end page.LSN, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return 0, 0, storage.ErrClosed
	}
	if l.err != nil {
		return 0, 0, l.err
	}
	start = page.LSN(l.end.Load())
	end = start + page.LSN(len(b))
	if end < start {
		return 0, 0, fmt.Errorf("wal: append of %d bytes at LSN %d overflows", len(b), start)
	}
	if len(b) == 0 && !complete {
		return start, end, nil
	}
	l.appends.Add(1)
	l.pendingAppends++
	l.pending = append(l.pending, b...)
	l.end.Store(uint64(end))
	if complete && int64(end-l.segStart) >= l.segSize {
		l.rolls = append(l.rolls, end)
		l.segStart = end
	}
	if (l.idle || l.gathering) && len(b) > 0 {
		l.idle = false
		l.kick.Signal()
	}
	return start, end, nil
}

// WaitDurable blocks until every byte below lsn is durable, the log fails, or ctx ends.
func (l *Log) WaitDurable(ctx context.Context, lsn page.LSN) error {
	for {
		if page.LSN(l.durable.Load()) >= lsn {
			return nil
		}
		l.mu.Lock()
		ch, err := l.waitState(lsn)
		l.mu.Unlock()
		if ch == nil {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitState returns the channel to wait on for lsn to become durable, or nil and the outcome
// when there is nothing to wait for. l.mu must be held.
func (l *Log) waitState(lsn page.LSN) (chan struct{}, error) {
	switch {
	case page.LSN(l.durable.Load()) >= lsn:
		return nil, nil
	case l.err != nil:
		return nil, l.err
	case l.closed:
		return nil, storage.ErrClosed
	case lsn > page.LSN(l.end.Load()):
		return nil, fmt.Errorf("wal: wait for LSN %d beyond the end of the log %d", lsn, l.end.Load())
	}
	return l.durableCh, nil
}

// Read returns durable bytes starting at from, at most max of them, blocking until at least
// one byte at from is durable or ctx ends.
func (l *Log) Read(ctx context.Context, from page.LSN, max int) ([]byte, error) {
	if max <= 0 {
		return nil, fmt.Errorf("wal: read of %d bytes", max)
	}
	var durable page.LSN
	for {
		l.mu.Lock()
		if l.closing {
			l.mu.Unlock()
			return nil, storage.ErrClosed
		}
		if first := l.First(); from < first {
			l.mu.Unlock()
			return nil, fmt.Errorf("%w: read from %d, first is %d", ErrTruncated, from, first)
		}
		if end := l.End(); from > end {
			l.mu.Unlock()
			return nil, fmt.Errorf("wal: read from %d beyond the end of the log %d", from, end)
		}
		if durable = l.Durable(); durable > from {
			l.mu.Unlock()
			break
		}
		if err := l.err; err != nil {
			l.mu.Unlock()
			return nil, err
		}
		ch := l.durableCh
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return l.readDurable(from, durable, max)
}

// readDurable reads [from, min(from+max, durable)) from the segment files.
func (l *Log) readDurable(from, durable page.LSN, max int) ([]byte, error) {
	l.segMu.RLock()
	defer l.segMu.RUnlock()
	if l.segsClosed {
		return nil, storage.ErrClosed
	}
	if len(l.segs) == 0 || from < l.segs[0].start {
		return nil, fmt.Errorf("%w: read from %d, first is %d", ErrTruncated, from, l.First())
	}
	n := uint64(durable - from)
	if n > uint64(max) {
		n = uint64(max)
	}
	out := make([]byte, n)
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].start > from }) - 1
	pos, off := from, 0
	for off < len(out) {
		if i >= len(l.segs) {
			return nil, fmt.Errorf("wal: no segment holds LSN %d", pos)
		}
		s := l.segs[i]
		segEnd := durable
		if i+1 < len(l.segs) {
			segEnd = min(segEnd, l.segs[i+1].start)
		}
		if pos < segEnd {
			chunk := min(uint64(len(out)-off), uint64(segEnd-pos))
			if err := s.readAt(l.fs, out[off:off+int(chunk)], int64(pos-s.start)); err != nil {
				return nil, err
			}
			off += int(chunk)
			pos += page.LSN(chunk)
		}
		i++
	}
	return out, nil
}

// Truncate deletes the segment files that end at or below before. The segment being written
// is never deleted.
func (l *Log) Truncate(before page.LSN) error {
	l.truncMu.Lock()
	defer l.truncMu.Unlock()
	l.segMu.Lock()
	if l.segsClosed {
		l.segMu.Unlock()
		return storage.ErrClosed
	}
	k := 0
	for k+1 < len(l.segs) && l.segs[k+1].start <= before {
		k++
	}
	removed := l.segs[:k]
	l.segs = slices.Clone(l.segs[k:])
	l.first.Store(uint64(l.segs[0].start))
	var errs []error
	for _, s := range removed {
		errs = append(errs, s.closeReader())
	}
	l.segMu.Unlock()
	if len(removed) == 0 {
		return nil
	}
	for _, s := range removed {
		if err := l.fs.Remove(s.path); err != nil {
			errs = append(errs, fmt.Errorf("wal: remove segment: %w", err))
		}
	}
	errs = append(errs, syncDir(l.fs, l.dir))
	l.fsyncs.Add(1)
	return errors.Join(errs...)
}

// Close makes every appended byte durable, stops the flusher and closes the files. It returns
// the log's failure, if it failed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return storage.ErrClosed
	}
	l.closing = true
	l.kick.Broadcast()
	l.mu.Unlock()

	<-l.done // the flusher exits once it has flushed what is pending (or failed)

	l.mu.Lock()
	l.closed = true
	errs := []error{l.err}
	close(l.durableCh)
	l.durableCh = make(chan struct{})
	l.pending, l.spare = nil, nil
	l.mu.Unlock()

	l.segMu.Lock()
	l.segsClosed = true
	for _, s := range l.segs {
		errs = append(errs, s.closeReader())
	}
	l.segMu.Unlock()
	errs = append(errs, l.w.close(), l.lock.Close())
	return errors.Join(errs...)
}

// run is the flusher: it takes every pending byte, writes it, syncs once, advances Durable and
// wakes the waiters, until Close and nothing is pending, or a failure.
func (l *Log) run() {
	defer close(l.done)
	for {
		l.mu.Lock()
		for len(l.pending) == 0 && !l.closing {
			l.idle = true
			l.kick.Wait()
		}
		l.idle = false
		if len(l.pending) == 0 {
			l.mu.Unlock()
			return
		}
		l.gather()
		buf, from := l.pending, l.flushed
		batch := l.pendingAppends
		l.pendingAppends = 0
		to := from + page.LSN(len(buf))
		var rolls []page.LSN
		if k := sort.Search(len(l.rolls), func(i int) bool { return l.rolls[i] >= to }); k > 0 {
			rolls = slices.Clone(l.rolls[:k])
			l.rolls = slices.Delete(l.rolls, 0, k)
		}
		l.pending, l.spare = l.spare[:0], nil
		l.flushed = to
		l.mu.Unlock()

		began := time.Now()
		err := l.write(from, buf, rolls)
		took := time.Since(began)

		l.mu.Lock()
		l.expect, l.lastSync = batch, took
		if cap(buf) <= maxSpare {
			l.spare = buf[:0]
		}
		if err != nil {
			l.err = fmt.Errorf("wal: log failed, durable up to LSN %d: %w", l.Durable(), err)
			l.pending = nil
			close(l.durableCh)
			l.durableCh = make(chan struct{})
			l.mu.Unlock()
			l.logger.Error("wal: log failed", "dir", l.dir, "durable", uint64(l.Durable()), "err", err)
			return
		}
		l.durable.Store(uint64(to))
		close(l.durableCh)
		l.durableCh = make(chan struct{})
		l.mu.Unlock()
	}
}

// maxGather bounds how long the flusher waits for more appends before a sync.
const maxGather = time.Millisecond

// gather waits, with l.mu held, until as many appends are pending as the last flush carried,
// for at most half the last sync's duration (capped at maxGather): the cost of a sync bounds
// the latency added. A lone committer never waits.
func (l *Log) gather() {
	if l.expect <= 1 || l.pendingAppends >= l.expect || l.closing {
		return
	}
	wait := min(l.lastSync/2, maxGather)
	if wait <= 0 {
		return
	}
	deadline := time.Now().Add(wait)
	expired := false
	t := time.AfterFunc(wait, func() {
		l.mu.Lock()
		expired = true
		l.kick.Broadcast()
		l.mu.Unlock()
	})
	defer t.Stop()
	l.gathering = true
	for l.pendingAppends < l.expect && !expired && !l.closing && time.Now().Before(deadline) {
		l.kick.Wait()
	}
	l.gathering = false
}

// write writes buf, the bytes starting at from, starting a new segment at each LSN in rolls,
// and syncs.
func (l *Log) write(from page.LSN, buf []byte, rolls []page.LSN) error {
	pos := from
	for len(buf) > 0 || len(rolls) > 0 {
		if len(rolls) > 0 {
			r := rolls[0]
			if r < pos || r-pos > page.LSN(len(buf)) {
				return fmt.Errorf("wal: internal error: roll point %d outside [%d, %d]", r, pos, pos+page.LSN(len(buf)))
			}
			if r == pos {
				if err := l.roll(pos); err != nil {
					return err
				}
				rolls = rolls[1:]
				continue
			}
		}
		n := len(buf)
		if len(rolls) > 0 {
			n = int(rolls[0] - pos)
		}
		if err := l.w.write(buf[:n]); err != nil {
			return err
		}
		l.written.Add(uint64(n))
		buf = buf[n:]
		pos += page.LSN(n)
	}
	return l.sync()
}

// sync syncs the segment being written.
func (l *Log) sync() error {
	synced, err := l.w.sync()
	if synced {
		l.fsyncs.Add(1)
	}
	return err
}

// roll syncs and closes the segment being written and starts a new one at start.
func (l *Log) roll(start page.LSN) error {
	if err := l.sync(); err != nil {
		return err
	}
	if err := l.w.close(); err != nil {
		return fmt.Errorf("wal: close %s: %w", l.w.seg.path, err)
	}
	s, f, err := createSegment(l.fs, l.dir, start)
	if err != nil {
		return err
	}
	l.fsyncs.Add(1) // the directory sync
	l.segMu.Lock()
	l.segs = append(l.segs, s)
	l.segMu.Unlock()
	l.w = writer{f: f, seg: s}
	return nil
}
