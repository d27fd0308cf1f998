// Package logclient is the writer's side of the replicated Log Store: a storage.Log over three
// Log Stores. Append sends every batch to every store (one ordered, pipelined stream each); a
// byte is durable once a quorum (2 of 3) has synced it, as computed by internal/quorum from the
// stores' acknowledgements. A store that is down or behind is caught up in the background,
// from the writer's buffer or by copying from a peer, without holding up writes while a quorum
// is up. Recover is how a new writer starts: it seals a quorum with its epoch, keeps the
// longest log that may hold acknowledged records, cut at its last complete group, and
// re-replicates it to a quorum.
package logclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"strata/internal/logapi"
	"strata/internal/logapi/logstorepb"
	"strata/internal/page"
	"strata/internal/quorum"
	"strata/internal/redo"
	"strata/internal/rpcauth"
	"strata/internal/storage"
)

// ErrNoQuorum is returned (wrapped) when fewer than a quorum of Log Stores acknowledged in time.
var ErrNoQuorum = errors.New("logclient: not enough log stores acknowledged")

// ErrDeposed is returned (wrapped) once a store has seen a newer epoch: another writer took
// over and this one must stop.
var ErrDeposed = errors.New("logclient: deposed by a newer epoch")

// ErrTruncated is returned (wrapped) by Read below the first retained LSN of every store.
var ErrTruncated = fmt.Errorf("logclient: %w", storage.ErrTruncated)

// Options configures Recover.
type Options struct {
	Addrs  []string // the Log Stores (three)
	Secret string   // the cluster secret
	// Timeline is the log written: 0 is the main database's, N > 0 a branch's (at most
	// logapi.MaxTimeline). Every call names it; epochs are per timeline.
	Timeline uint64
	// Start is where the log begins if it is new: a branch's point B (a group end of its
	// parent's log), from which the branch's LSNs continue. When no store that counts for
	// recovery holds a log, Recover starts it at Start (StartAt) rather than at
	// redo.StartLSN, and the Log appends from there; a store that never held the log is
	// started there by its sender. A log that exists is recovered as usual; one that begins
	// before Start is another log, and refused. 0: redo.StartLSN.
	Start        page.LSN
	Epoch        uint64        // this writer's epoch, higher than every earlier writer's
	Quorum       int           // stores that must sync a byte; default a majority of Addrs
	StallTimeout time.Duration // WaitDurable gives up after this without a quorum; default 10 s
	RPCTimeout   time.Duration // seal, adopt, status, truncate; default 3 s
	// MaxBuffer bounds the bytes queued beyond the durable LSN (Append waits for room, then
	// fails after StallTimeout) and those kept for lagging stores; default 64 MiB.
	MaxBuffer   int
	Logger      *slog.Logger
	DialOptions []grpc.DialOption // added to the defaults
}

// chunk bounds the bytes of one append sent to a store.
const chunk = 1 << 20

// Log is a storage.Log over Log Stores. It is safe for concurrent use.
type Log struct {
	opts   Options
	q      int
	logger *slog.Logger
	reps   []*replica
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	recovered page.LSN
	durable   atomic.Uint64

	mu        sync.Mutex
	dataCh    chan struct{} // closed when bytes are appended or the durable LSN moves (senders)
	durableCh chan struct{} // closed when the durable LSN moves, on failure and on close (waiters)
	history   []quorum.Term
	end       page.LSN
	buf       []byte // the log bytes [bufStart, end)
	bufStart  page.LSN
	err       error // sticky: deposed
	closed    bool

	// groupEnds are the ends of complete groups above committed, ascending; committed is the
	// last group end below the durable LSN.
	groupEnds []page.LSN
	committed page.LSN
	// told is the durable LSN as the stores are told it: followers may read below it, the
	// part of a group still being written included (the Page Stores must consume it for the
	// buffer pool to evict its pages). A recovering writer keeps every durable byte and voids
	// an unfinished group with an abort record (redo.TAbort) instead of cutting it, so no
	// byte a follower read is ever taken back.
	told page.LSN
	// commitTimer wakes the senders commitDelay after the committed LSN moved, so that a store
	// hears it without an append (armed while commitArmed).
	commitTimer *time.Timer
	commitArmed bool
}

var _ storage.Log = (*Log)(nil)

// replica is one Log Store as the writer sees it. Its fields are guarded by Log.mu.
type replica struct {
	addr    string
	conn    *grpc.ClientConn
	client  logstorepb.LogStoreClient
	acked   page.LSN // synced on the store, in this writer's log
	adopted bool     // reconciled with this writer's log in the current session
	lastErr error
}

func (o *Options) fill() error {
	if len(o.Addrs) == 0 {
		return errors.New("logclient: no log store addresses")
	}
	if o.Secret == "" {
		return rpcauth.ErrNoSecret
	}
	if o.Epoch == 0 {
		return errors.New("logclient: epoch 0")
	}
	if err := logapi.CheckTimeline(o.Timeline); err != nil {
		return fmt.Errorf("logclient: %w", err)
	}
	if o.Start != 0 && o.Start < redo.StartLSN {
		return fmt.Errorf("logclient: start %d below the first LSN of a log, %d", o.Start, redo.StartLSN)
	}
	if o.Quorum == 0 {
		o.Quorum = quorum.Majority(len(o.Addrs))
	}
	if o.Quorum < 1 || o.Quorum > len(o.Addrs) {
		return fmt.Errorf("logclient: quorum %d of %d stores", o.Quorum, len(o.Addrs))
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 10 * time.Second
	}
	if o.RPCTimeout <= 0 {
		o.RPCTimeout = 3 * time.Second
	}
	if o.MaxBuffer <= 0 {
		o.MaxBuffer = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Timeline != 0 {
		o.Logger = o.Logger.With("timeline", o.Timeline)
	}
	return nil
}

func newLog(opts Options) (*Log, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	l := &Log{opts: opts, q: opts.Quorum, logger: opts.Logger, dataCh: make(chan struct{}), durableCh: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	dial, err := logapi.DialOptions(opts.Secret)
	if err != nil {
		return nil, err
	}
	dial = append(dial, grpc.WithConnectParams(grpc.ConnectParams{
		// Reconnect to a store that comes back within a fraction of a second, not the
		// default's growing delays up to two minutes.
		Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 500 * time.Millisecond},
		MinConnectTimeout: time.Second,
	}))
	dial = append(dial, opts.DialOptions...)
	for _, addr := range opts.Addrs {
		conn, err := grpc.Dial(addr, dial...)
		if err != nil {
			l.closeConns()
			return nil, fmt.Errorf("logclient: dial %s: %w", addr, err)
		}
		l.reps = append(l.reps, &replica{addr: addr, conn: conn, client: logstorepb.NewLogStoreClient(conn)})
	}
	return l, nil
}

func (l *Log) closeConns() {
	for _, r := range l.reps {
		_ = r.conn.Close()
	}
}

// notify wakes the senders and the waiters. l.mu must be held.
func (l *Log) notify() {
	l.notifyData()
	l.notifyDurable()
}

// notifyData wakes the senders. l.mu must be held.
func (l *Log) notifyData() {
	close(l.dataCh)
	l.dataCh = make(chan struct{})
}

// notifyDurable wakes the waiters. l.mu must be held.
func (l *Log) notifyDurable() {
	close(l.durableCh)
	l.durableCh = make(chan struct{})
}

// Recovered returns the end of the log found by Recover: where this writer's log starts.
func (l *Log) Recovered() page.LSN { return l.recovered }

// End returns the LSN after the last appended byte.
func (l *Log) End() page.LSN {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.end
}

// Durable returns the LSN below which a quorum of stores has synced every byte.
func (l *Log) Durable() page.LSN { return page.LSN(l.durable.Load()) }

// Append adds sealed records at the end of the log and returns their LSN range. It does no
// I/O: the replica senders ship the bytes; WaitDurable waits for a quorum. The bytes queued
// beyond the durable LSN are bounded by MaxBuffer: while adding b would exceed it, Append waits
// for the durable LSN to move, and after the stall timeout without room it fails with an error
// wrapping storage.ErrStalled and ErrNoQuorum (nothing is appended). An append larger than
// MaxBuffer on its own is taken once everything before it is durable.
func (l *Log) Append(b []byte, complete bool) (start, end page.LSN, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(b) > 0 {
		if n, last := wholeRecords(b); n != len(b) || last != complete {
			return 0, 0, fmt.Errorf("logclient: append at %d: %d bytes are not whole records ending as complete=%v says (%d whole, group end %v)",
				l.end, len(b), complete, n, last)
		}
	}
	var timer *time.Timer
	for {
		if l.closed {
			return 0, 0, storage.ErrClosed
		}
		if l.err != nil {
			return 0, 0, l.err
		}
		queued := l.queued()
		if len(b) == 0 || queued == 0 || queued+uint64(len(b)) <= uint64(l.opts.MaxBuffer) {
			break
		}
		// The buffer is full of bytes that are not durable: wait for room.
		if timer == nil {
			timer = time.NewTimer(l.opts.StallTimeout)
			defer timer.Stop()
		}
		ch := l.durableCh
		l.mu.Unlock()
		select {
		case <-ch:
			l.mu.Lock()
		case <-timer.C:
			desc := l.describe()
			l.mu.Lock()
			return 0, 0, fmt.Errorf("%w: %w: append of %d bytes at %d: %d bytes beyond the durable LSN %d already queued (at most %d) after %v (quorum %d of %d; %s)",
				storage.ErrStalled, ErrNoQuorum, len(b), l.end, l.queued(), l.durable.Load(), l.opts.MaxBuffer,
				l.opts.StallTimeout, l.q, len(l.reps), desc)
		}
	}
	start = l.end
	if len(b) == 0 {
		return start, start, nil
	}
	l.buf = append(l.buf, b...)
	l.end += page.LSN(len(b))
	if complete {
		l.groupEnds = append(l.groupEnds, l.end)
	}
	l.notifyData()
	return start, l.end, nil
}

// queued returns the bytes appended by this writer that are not durable yet (the log it
// recovered is not its to queue). l.mu must be held.
func (l *Log) queued() uint64 {
	return uint64(l.end) - max(l.durable.Load(), uint64(l.bufStart))
}

// WaitDurable blocks until every byte below lsn is on a quorum of stores. Without a quorum it
// returns an error wrapping ErrNoQuorum after the stall timeout; the bytes stay queued and
// become durable by themselves when enough stores are back.
func (l *Log) WaitDurable(ctx context.Context, lsn page.LSN) error {
	var timer *time.Timer
	for {
		l.mu.Lock()
		switch {
		case page.LSN(l.durable.Load()) >= lsn:
			l.mu.Unlock()
			return nil
		case l.err != nil:
			err := l.err
			l.mu.Unlock()
			return err
		case l.closed:
			l.mu.Unlock()
			return storage.ErrClosed
		case lsn > l.end:
			end := l.end
			l.mu.Unlock()
			return fmt.Errorf("logclient: wait for LSN %d beyond the end of the log %d", lsn, end)
		}
		ch := l.durableCh
		l.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(l.opts.StallTimeout)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return fmt.Errorf("%w: %w: LSN %d not durable after %v (durable %d, quorum %d of %d; %s)",
				storage.ErrStalled, ErrNoQuorum, lsn, l.opts.StallTimeout, l.durable.Load(), l.q, len(l.reps), l.describe())
		}
	}
}

// describe says where each store is.
func (l *Log) describe() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var parts []string
	for _, r := range l.reps {
		s := fmt.Sprintf("%s acked %d", r.addr, r.acked)
		if !r.adopted {
			s += " (not connected"
			if r.lastErr != nil {
				s += ": " + r.lastErr.Error()
			}
			s += ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// ack records that store r synced everything below d, and advances the durable LSN.
func (l *Log) ack(r *replica, d page.LSN) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d > l.end {
		d = l.end
	}
	if d <= r.acked {
		return
	}
	r.acked = d
	l.recompute()
}

// recompute advances the durable LSN from the stores' acknowledgements. l.mu must be held.
func (l *Log) recompute() {
	acks := make([]page.LSN, len(l.reps))
	for i, x := range l.reps {
		acks[i] = x.acked
	}
	if nd := quorum.DurableLSN(acks, l.q); uint64(nd) > l.durable.Load() {
		l.durable.Store(uint64(nd))
		l.told = nd
		k := 0
		for k < len(l.groupEnds) && l.groupEnds[k] <= nd {
			l.committed = l.groupEnds[k]
			k++
		}
		l.groupEnds = l.groupEnds[k:]
		// Only the waiters: waking the senders at every commit would put three goroutines
		// on the path of the next one. A new committed LSN rides on the next append; the
		// timer tells the stores if none comes.
		l.notifyDurable()
		if !l.commitArmed {
			l.commitArmed = true
			if l.commitTimer == nil {
				l.commitTimer = time.AfterFunc(commitDelay, l.commitTick)
			} else {
				l.commitTimer.Reset(commitDelay)
			}
		}
	}
	l.trim()
}

// commitTick wakes the senders, which send the committed LSN to every store that has not heard
// it.
func (l *Log) commitTick() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.commitArmed = false
	l.notifyData()
}

// trim drops buffered bytes every store has, or, beyond MaxBuffer, those a quorum has (a
// lagging store then copies them from a peer). l.mu must be held.
func (l *Log) trim() {
	low := l.end
	for _, r := range l.reps {
		low = min(low, r.acked)
	}
	if int(l.end-l.bufStart) > l.opts.MaxBuffer {
		low = max(low, min(page.LSN(l.durable.Load()), l.end-page.LSN(l.opts.MaxBuffer)))
	}
	if low <= l.bufStart {
		return
	}
	k := int(low - l.bufStart)
	if k > len(l.buf)/2 {
		l.buf = append([]byte(nil), l.buf[k:]...)
	} else {
		l.buf = l.buf[k:]
	}
	l.bufStart = low
}

// Read returns durable bytes from from, at most max of them, blocking until at least one is
// durable or ctx ends: from the writer's buffer when it still holds them, else from a store
// that has them (another one if that fails).
func (l *Log) Read(ctx context.Context, from page.LSN, max int) ([]byte, error) {
	if max <= 0 {
		return nil, fmt.Errorf("logclient: read of %d bytes", max)
	}
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, storage.ErrClosed
		}
		d := page.LSN(l.durable.Load())
		if from > l.end {
			end := l.end
			l.mu.Unlock()
			return nil, fmt.Errorf("logclient: read from %d beyond the end of the log %d", from, end)
		}
		if d > from {
			if from >= l.bufStart {
				out := append([]byte(nil), l.buf[from-l.bufStart:min(d, from+page.LSN(max))-l.bufStart]...)
				l.mu.Unlock()
				return out, nil
			}
			l.mu.Unlock()
			return l.readRemote(ctx, from, max, d, nil)
		}
		if l.err != nil {
			err := l.err
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
}

// readRemote reads [from, limit) (at most max bytes) from a store of this writer's log that
// has it, other than skip.
func (l *Log) readRemote(ctx context.Context, from page.LSN, max int, limit page.LSN, skip *replica) ([]byte, error) {
	var errs []error
	truncated := 0
	l.mu.Lock()
	var cands []*replica
	var lims []page.LSN
	for _, r := range l.reps {
		if r != skip && r.adopted && r.acked > from {
			cands = append(cands, r)
			lims = append(lims, min(limit, r.acked))
		}
	}
	l.mu.Unlock()
	for i, r := range cands {
		b, err := readOnce(ctx, r.client, l.opts.Timeline, from, max, lims[i], l.opts.RPCTimeout)
		if err == nil {
			return b, nil
		}
		if errors.Is(err, ErrTruncated) {
			truncated++
		}
		errs = append(errs, fmt.Errorf("%s: %w", r.addr, err))
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("%w: no store holds LSN %d", ErrNoQuorum, from)
	}
	err := errors.Join(errs...)
	if truncated == len(cands) {
		return nil, fmt.Errorf("%w: %w", ErrTruncated, err)
	}
	return nil, fmt.Errorf("logclient: read from %d: %w", from, err)
}

// Truncate asks every store to discard its segments below before. Stores that are down keep
// theirs until a later call. It fails only if no store did it.
func (l *Log) Truncate(before page.LSN) error {
	var wg sync.WaitGroup
	errs := make([]error, len(l.reps))
	for i, r := range l.reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(l.ctx, l.opts.RPCTimeout)
			defer cancel()
			_, err := r.client.Truncate(ctx, &logstorepb.TruncateRequest{Timeline: l.opts.Timeline, Before: uint64(before)})
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("logclient: truncate before %d: %w", before, errors.Join(errs...))
}

// Close waits (up to the stall timeout) for every appended byte to be durable, then stops the
// senders and closes the connections.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return storage.ErrClosed
	}
	end := l.end
	l.mu.Unlock()
	var err error
	if l.Durable() < end {
		ctx, cancel := context.WithTimeout(context.Background(), l.opts.StallTimeout)
		err = l.WaitDurable(ctx, end)
		cancel()
	}
	l.mu.Lock()
	l.closed = true
	l.notify()
	if l.commitTimer != nil {
		l.commitTimer.Stop()
	}
	l.mu.Unlock()
	l.cancel()
	l.wg.Wait()
	l.closeConns()
	if errors.Is(err, ErrDeposed) {
		return err
	}
	return err
}

// wholeRecords returns the length of the whole records at the start of b (by their length
// fields) and whether the last of them ends a group.
func wholeRecords(b []byte) (n int, complete bool) {
	for n+4 <= len(b) {
		size := int(b[n]) | int(b[n+1])<<8
		if size < redo.HeaderSize || n+size > len(b) {
			break
		}
		complete = b[n+9]&redo.FlagGroupEnd != 0
		n += size
	}
	return n, complete
}

// abort stops the log at once, as a crash of the writer would: nothing more is sent.
func (l *Log) abort() {
	l.mu.Lock()
	l.closed = true
	l.notify()
	if l.commitTimer != nil {
		l.commitTimer.Stop()
	}
	l.mu.Unlock()
	l.cancel()
	l.wg.Wait()
	l.closeConns()
}

// Committed returns the end of the last complete group below the durable LSN: the position
// up to which followers (Page Stores, read-only nodes) can read the log.
func (l *Log) Committed() page.LSN { return l.committedLSN() }

// committedLSN returns the end of the last complete group below the durable LSN.
func (l *Log) committedLSN() page.LSN {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.committed
}
