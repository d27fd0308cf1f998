package logclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"strata/internal/logapi"
	"strata/internal/logapi/logstorepb"
	"strata/internal/page"
	"strata/internal/storage"
)

// ErrUnavailable is returned (wrapped) by Reader.Read when no Log Store could be reached for
// ReaderOptions.FailAfter. The reader keeps trying in the background.
var ErrUnavailable = errors.New("logclient: no log store reachable")

// ReaderOptions configure NewReader.
type ReaderOptions struct {
	Addrs  []string // the Log Stores
	Secret string   // the cluster secret
	// Timeline is the log read: 0 is the main database's, N > 0 a branch's (whose log starts
	// at its branch point: reads below it are ErrTruncated). A store that does not hold the
	// timeline answers NotFound and is treated as failing.
	Timeline uint64
	Logger   *slog.Logger

	// Chunk is the most bytes asked per streamed answer (default 1 MiB).
	Chunk int
	// Buffer bounds the checked bytes kept ahead of the caller's reads (default 8 MiB); the
	// stream waits (and the store with it, by flow control) while it is full.
	Buffer int
	// StallTimeout: the followed store is abandoned for another when it has sent nothing for
	// this long while another store says more is committed (default 2 s).
	StallTimeout time.Duration
	// PollInterval is how often every store's status is asked, to learn the committed LSN
	// and which stores answer (default 500 ms).
	PollInterval time.Duration
	// RPCTimeout bounds a status call (default 2 s).
	RPCTimeout time.Duration
	// FailAfter: Read returns an error wrapping ErrUnavailable once no store has answered
	// for this long (default 10 s).
	FailAfter   time.Duration
	DialOptions []grpc.DialOption // added to the defaults
}

func (o *ReaderOptions) fill() error {
	if len(o.Addrs) == 0 {
		return errors.New("logclient: no log store addresses")
	}
	if o.Secret == "" {
		return errors.New("logclient: the cluster secret is empty")
	}
	if err := logapi.CheckTimeline(o.Timeline); err != nil {
		return fmt.Errorf("logclient: %w", err)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Timeline != 0 {
		o.Logger = o.Logger.With("timeline", o.Timeline)
	}
	if o.Chunk <= 0 {
		o.Chunk = 1 << 20
	}
	if o.Buffer <= 0 {
		o.Buffer = 8 << 20
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 2 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 500 * time.Millisecond
	}
	if o.RPCTimeout <= 0 {
		o.RPCTimeout = 2 * time.Second
	}
	if o.FailAfter <= 0 {
		o.FailAfter = 10 * time.Second
	}
	return nil
}

// Reader is a follower's storage.LogReader over the Log Stores: Page Stores and read-only
// nodes consume the log through it. It follows one store with a streaming Read (which serves
// only committed bytes: whole records a quorum holds, the durable part of a group still being
// written included; a consumer handles redo.TAbort, which voids a group whose writer failed,
// and a read-only node exposes only group ends), checks every record it hands out (length
// and CRC), and moves to another store, from exactly the next byte, when the one it follows
// fails, sends damaged records, or stalls while another store has more. It is safe for
// concurrent use, though a log is normally consumed by one goroutine.
type Reader struct {
	opts   ReaderOptions
	logger *slog.Logger
	srcs   []*source
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when bytes arrive, the position moves, a poll ends, or on close
	closed  bool
	started bool     // a Read has set the position
	gen     uint64   // bumped when Read moves the position elsewhere: the stream restarts
	start   page.LSN // LSN of buf[0]
	buf     []byte   // checked whole records from start on
	known   page.LSN // highest committed LSN a store reported
	lastOK  time.Time
	// truncated is set when a store said the position is below its first retained LSN and no
	// store served it since (for gen).
	truncated error
	cur       int                     // the source being followed, -1 when none
	stop      context.CancelCauseFunc // ends the current stream
	progress  time.Time               // last answer on the current stream (or buffer space freed)
}

var _ storage.LogReader = (*Reader)(nil)

// source is one Log Store as the reader sees it. Fields below client are guarded by Reader.mu.
type source struct {
	addr   string
	conn   *grpc.ClientConn
	client logstorepb.LogStoreClient

	committed   page.LSN // from its last status
	completeEnd page.LSN // its last group end among synced bytes, from its last status
	statusOK    bool     // its last status call succeeded
	lastErr     error
	avoidUntil  time.Time // stalled or damaged: tried last until then
}

// NewReader connects to the Log Stores and returns a Reader. It fails if no store answers a
// status call (wrong secret, every store down) within ctx and RPCTimeout; the error wraps
// each store's (grpc status codes, such as Unauthenticated, survive). Reading starts at
// the position of the first Read.
func NewReader(ctx context.Context, opts ReaderOptions) (*Reader, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	dial, err := logapi.DialOptions(opts.Secret)
	if err != nil {
		return nil, err
	}
	dial = append(dial, grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 500 * time.Millisecond},
		MinConnectTimeout: time.Second,
	}))
	dial = append(dial, opts.DialOptions...)
	r := &Reader{opts: opts, logger: opts.Logger, changed: make(chan struct{}), cur: -1}
	for _, addr := range opts.Addrs {
		conn, err := grpc.NewClient(addr, dial...)
		if err != nil {
			r.closeConns()
			return nil, fmt.Errorf("logclient: dial %s: %w", addr, err)
		}
		r.srcs = append(r.srcs, &source{addr: addr, conn: conn, client: logstorepb.NewLogStoreClient(conn)})
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	if !r.poll(ctx) {
		r.cancel()
		r.closeConns()
		var errs []error
		for _, s := range r.srcs {
			errs = append(errs, fmt.Errorf("%s: %w", s.addr, s.lastErr))
		}
		return nil, fmt.Errorf("logclient: no log store answered: %w", errors.Join(errs...))
	}
	r.wg.Add(2)
	go r.pollLoop()
	go r.pump()
	return r, nil
}

func (r *Reader) closeConns() {
	for _, s := range r.srcs {
		_ = s.conn.Close()
	}
}

// notify wakes Read and the pump. r.mu must be held.
func (r *Reader) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// end returns the LSN after the buffered bytes. r.mu must be held.
func (r *Reader) end() page.LSN { return r.start + page.LSN(len(r.buf)) }

// Durable returns the highest committed LSN the reader knows: what a store reported or what
// it has received. Bytes below it are readable.
func (r *Reader) Durable() page.LSN {
	r.mu.Lock()
	defer r.mu.Unlock()
	return max(r.known, r.end())
}

// GroupEnd returns the highest group end a store reported that is also readable there (0 when
// none is known): where a follower that must start at a group end can start. Followers read
// the durable part of a group still being written, so Durable may lie inside a group.
func (r *Reader) GroupEnd() page.LSN {
	r.mu.Lock()
	defer r.mu.Unlock()
	var best page.LSN
	for _, s := range r.srcs {
		if s.statusOK && s.completeEnd <= s.committed && s.completeEnd > best {
			best = s.completeEnd
		}
	}
	return best
}

// Read returns committed log bytes from from on, at most max of them, blocking until at least
// one is readable or ctx ends. The bytes are whole, checked records. Reading below every
// store's first retained LSN returns an error wrapping ErrTruncated.
func (r *Reader) Read(ctx context.Context, from page.LSN, max int) ([]byte, error) {
	if max <= 0 {
		return nil, fmt.Errorf("logclient: read of %d bytes", max)
	}
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil, storage.ErrClosed
		}
		end := r.end()
		if r.started && from >= r.start && from < end {
			out := append([]byte(nil), r.buf[from-r.start:min(end, from+page.LSN(max))-r.start]...)
			r.consumed(from + page.LSN(len(out)))
			r.mu.Unlock()
			return out, nil
		}
		if !r.started || from != end {
			r.moveTo(from)
		}
		if r.truncated != nil {
			err := r.truncated
			r.mu.Unlock()
			return nil, err
		}
		if since := time.Since(r.lastOK); since > r.opts.FailAfter {
			desc := r.describe()
			r.mu.Unlock()
			return nil, fmt.Errorf("%w for %v: %s", ErrUnavailable, since.Round(time.Millisecond), desc)
		}
		ch := r.changed
		r.mu.Unlock()
		t := time.NewTimer(r.opts.PollInterval)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		t.Stop()
	}
}

// consumed drops the buffered bytes below lsn: the caller has them. r.mu must be held.
func (r *Reader) consumed(lsn page.LSN) {
	k := int(lsn - r.start)
	if k > len(r.buf)/2 {
		r.buf = append([]byte(nil), r.buf[k:]...)
	} else {
		r.buf = r.buf[k:]
	}
	r.start = lsn
	r.progress = time.Now() // a stream waiting for space is not stalled
	r.notify()
}

// moveTo restarts reading at from: the buffer is dropped and the stream restarted there.
// r.mu must be held.
func (r *Reader) moveTo(from page.LSN) {
	r.started = true
	r.gen++
	r.start, r.buf, r.truncated = from, nil, nil
	if r.stop != nil {
		r.stop(errMoved)
	}
	r.notify()
}

// describe says what each store last did. r.mu must be held (or no goroutine started yet).
func (r *Reader) describe() string {
	var parts []string
	for _, s := range r.srcs {
		p := fmt.Sprintf("%s committed %d", s.addr, s.committed)
		if s.lastErr != nil {
			p += ": " + s.lastErr.Error()
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// Close stops the reader: waiting and later Reads return storage.ErrClosed.
func (r *Reader) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.notify()
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	r.closeConns()
	return nil
}
