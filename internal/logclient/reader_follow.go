package logclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"strata/internal/logapi/logstorepb"
	"strata/internal/page"
	"strata/internal/redo"
)

// Why a stream was ended by the reader itself.
var (
	errMoved   = errors.New("logclient: the read position moved")
	errStalled = errors.New("logclient: the store sent nothing while another store has more committed")
	// errBadAnswer: the store answered at another LSN than asked, or with no or too many bytes.
	errBadAnswer = errors.New("logclient: malformed read answer")
)

// avoidFor is how long a store that stalled or sent damaged records is tried last.
const avoidFor = 30 * time.Second

// pump follows one store at a time from the end of the buffer, until the reader closes. When
// a stream ends it goes on from the same byte on the next store, after a backoff once every
// store has failed in a row.
func (r *Reader) pump() {
	defer r.wg.Done()
	delay := 20 * time.Millisecond
	failed := 0 // consecutive streams that delivered nothing
	var truncErrs []error
	next := 0 // the store to try first
	for r.ctx.Err() == nil {
		r.mu.Lock()
		if !r.started {
			ch := r.changed
			r.mu.Unlock()
			select {
			case <-ch:
			case <-r.ctx.Done():
			}
			continue
		}
		i := r.pick(next)
		gen, from := r.gen, r.end()
		ctx, stop := context.WithCancelCause(r.ctx)
		r.cur, r.stop, r.progress = i, stop, time.Now()
		r.mu.Unlock()

		s := r.srcs[i]
		n, err := r.follow(ctx, s, gen, from)
		cause := context.Cause(ctx)
		stop(nil)

		r.mu.Lock()
		r.cur, r.stop = -1, nil
		if r.closed || r.ctx.Err() != nil {
			r.mu.Unlock()
			return
		}
		if errors.Is(cause, errMoved) || r.gen != gen {
			failed, truncErrs, next = 0, nil, i
			r.mu.Unlock()
			continue
		}
		if errors.Is(cause, errStalled) {
			err = errStalled
		}
		s.lastErr = err
		if errors.Is(err, redo.ErrCorrupt) || errors.Is(err, errBadAnswer) || errors.Is(err, errStalled) {
			s.avoidUntil = time.Now().Add(avoidFor)
		}
		next = i + 1
		if n > 0 {
			failed, truncErrs, delay = 0, nil, 20*time.Millisecond
			r.mu.Unlock()
			r.logger.Warn("logclient: lost the log store being followed; following another", "store", s.addr, "at", uint64(from)+uint64(n), "err", err)
			continue
		}
		failed++
		if status.Code(err) == codes.OutOfRange {
			truncErrs = append(truncErrs, fmt.Errorf("%s: %w", s.addr, err))
		}
		if failed < len(r.srcs) {
			r.mu.Unlock()
			continue
		}
		// Every store failed in a row: report a truncated position, back off.
		if len(truncErrs) > 0 {
			r.truncated = fmt.Errorf("%w: reading from %d: %w", ErrTruncated, uint64(from), errors.Join(truncErrs...))
			r.notify()
		}
		desc := r.describe()
		r.mu.Unlock()
		r.logger.Warn("logclient: no log store could be followed; retrying", "at", uint64(from), "in", delay, "stores", desc)
		failed, truncErrs = 0, nil
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.ctx.Done():
			t.Stop()
			return
		}
		delay = min(2*delay, time.Second)
	}
}

// pick returns the store to follow: the first from index first on (in ring order) that is
// not being avoided and answered its last status call, else the least bad. r.mu must be held.
func (r *Reader) pick(first int) int {
	n := len(r.srcs)
	now := time.Now()
	best, bestRank := 0, 4
	for k := range n {
		i := (first%n + n + k) % n
		s := r.srcs[i]
		rank := 0
		if !s.statusOK {
			rank++
		}
		if now.Before(s.avoidUntil) {
			rank += 2
		}
		if rank < bestRank {
			best, bestRank = i, rank
		}
	}
	return best
}

// follow streams committed bytes from store s from LSN from on, checks them and adds the whole
// records to the buffer while the position is still gen's. It returns how many bytes it added
// and why the stream ended.
func (r *Reader) follow(ctx context.Context, s *source, gen uint64, from page.LSN) (int, error) {
	stream, err := s.client.Read(ctx, &logstorepb.ReadRequest{Timeline: r.opts.Timeline, From: uint64(from), Max: uint32(r.opts.Chunk), Follow: true})
	if err != nil {
		return 0, err
	}
	next := from // the LSN of pending[0]
	var pending []byte
	added := 0
	for {
		resp, err := stream.Recv()
		if err != nil {
			return added, err
		}
		data := resp.GetData()
		if want := next + page.LSN(len(pending)); resp.GetStart() != uint64(want) || len(data) == 0 || len(data) > r.opts.Chunk {
			return added, fmt.Errorf("%w: %s answered with %d bytes at %d, expected at most %d at %d",
				errBadAnswer, s.addr, len(data), resp.GetStart(), r.opts.Chunk, uint64(want))
		}
		r.heard()
		pending = append(pending, data...)
		n, bad := wholeChecked(pending)
		if n > 0 {
			if !r.deliver(ctx, gen, next, pending[:n]) {
				return added, errMoved
			}
			added += n
			next += page.LSN(n)
			pending = append(pending[:0], pending[n:]...)
		}
		if bad != nil {
			r.logger.Error("logclient: damaged record from a log store; reading from another", "store", s.addr, "lsn", uint64(next), "err", bad)
			return added, fmt.Errorf("logclient: %s sent a damaged record at LSN %d: %w", s.addr, uint64(next), bad)
		}
	}
}

// wholeChecked returns the length of the whole, valid records at the start of b, and the
// error of the record after them if it is damaged (not merely incomplete).
func wholeChecked(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		_, size, err := redo.Decode(b[n:])
		if errors.Is(err, redo.ErrShort) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n += size
	}
	return n, nil
}

// heard notes an answer on the current stream.
func (r *Reader) heard() {
	r.mu.Lock()
	r.progress, r.lastOK = time.Now(), time.Now()
	r.mu.Unlock()
}

// deliver appends b, the checked bytes at LSN at, to the buffer, waiting while it is full. It
// returns false when the position moved (or the reader closed) and the bytes are not wanted.
func (r *Reader) deliver(ctx context.Context, gen uint64, at page.LSN, b []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if r.closed || r.gen != gen || at != r.end() {
			return false
		}
		if len(r.buf) < r.opts.Buffer {
			break
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		r.mu.Lock()
		if ctx.Err() != nil {
			return false
		}
	}
	r.buf = append(r.buf, b...)
	r.progress, r.lastOK, r.truncated = time.Now(), time.Now(), nil
	r.known = max(r.known, r.end())
	r.notify()
	return true
}
