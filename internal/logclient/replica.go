package logclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"strata/internal/logapi"
	"strata/internal/logapi/logstorepb"
	"strata/internal/page"
	"strata/internal/quorum"
	"strata/internal/redo"
	"strata/internal/retry"
)

// commitDelay bounds how long a store may go without hearing a new durable LSN while nothing
// is appended.
const commitDelay = 500 * time.Microsecond

// readOnce reads [from, limit) of timeline tl, at most max bytes, from one store.
func readOnce(ctx context.Context, c logstorepb.LogStoreClient, tl uint64, from page.LSN, max int, limit page.LSN, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stream, err := c.Read(ctx, &logstorepb.ReadRequest{Timeline: tl, From: uint64(from), Max: uint32(max), Limit: uint64(limit)})
	if err == nil {
		var resp *logstorepb.ReadResponse
		if resp, err = stream.Recv(); err == nil {
			if resp.GetStart() != uint64(from) || len(resp.GetData()) == 0 || len(resp.GetData()) > max {
				return nil, fmt.Errorf("logclient: store answered a read at %d with %d bytes at %d", from, len(resp.GetData()), resp.GetStart())
			}
			return resp.GetData(), nil
		}
	}
	if status.Code(err) == codes.OutOfRange {
		return nil, fmt.Errorf("%w: %w", ErrTruncated, err)
	}
	return nil, err
}

// run keeps store r in step with the log until the log closes or is deposed: a session
// reconciles the store's log with the writer's and streams appends to it; when it ends (the
// store is down, restarted or refused), the next one starts after a backoff.
func (l *Log) run(r *replica) {
	defer l.wg.Done()
	backoff := retry.NewBackoff(20*time.Millisecond, 500*time.Millisecond)
	for l.ctx.Err() == nil {
		began := time.Now()
		err := l.session(r)
		l.mu.Lock()
		wasUp := r.adopted
		r.adopted = false
		r.lastErr = err
		if errors.Is(err, ErrDeposed) && l.err == nil {
			l.err = err
			l.logger.Error("logclient: deposed", "store", r.addr, "err", err)
		}
		l.notify()
		stop := l.err != nil || l.closed
		l.mu.Unlock()
		if stop || l.ctx.Err() != nil {
			return
		}
		if wasUp {
			l.logger.Warn("logclient: log store lost; catching it up when it returns", "store", r.addr, "err", err)
		}
		if time.Since(began) > time.Second {
			backoff.Reset()
		}
		if !backoff.Wait(l.ctx) {
			return
		}
	}
}

// session reconciles store r with the writer's log and streams appends to it until an error.
func (l *Log) session(r *replica) error {
	ctx, cancel := context.WithCancel(l.ctx)
	defer cancel()
	at, err := l.reconcile(ctx, r)
	if err != nil {
		return err
	}
	stream, err := r.client.Append(ctx)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			if resp.GetRefusal() != logstorepb.Refusal_REFUSAL_NONE {
				err := fmt.Errorf("logclient: %s refused: %s", r.addr, resp.GetDetail())
				if resp.GetRefusal() == logstorepb.Refusal_REFUSAL_STALE_EPOCH {
					err = fmt.Errorf("%w: %w", ErrDeposed, err)
				}
				errc <- err
				return
			}
			l.ack(r, page.LSN(resp.GetDurable()))
		}
	}()
	next, committed := at, page.LSN(0)
	for {
		data, complete, sendCommitted, wait, err := l.nextChunk(ctx, r, next, committed)
		if err != nil {
			return err
		}
		if data == nil && sendCommitted == committed {
			select {
			case <-wait:
				continue
			case err := <-errc:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		// Data, or a new committed LSN alone: a new committed LSN rides on the next append,
		// and the senders are woken for it without one only commitDelay after it moved
		// (Log.commitTick), so that followers see it.
		req := &logstorepb.AppendRequest{Timeline: l.opts.Timeline, Epoch: l.opts.Epoch, Start: uint64(next), Data: data,
			Complete: complete, Committed: uint64(sendCommitted)}
		if err := stream.Send(req); err != nil {
			if errors.Is(err, io.EOF) {
				return <-errc
			}
			return err
		}
		next += page.LSN(len(data))
		committed = sendCommitted
		select {
		case err := <-errc:
			return err
		default:
		}
	}
}

// nextChunk returns the next bytes to send to r from next (nil if none: then wait is closed
// when there may be), and the committed LSN to tell it. Bytes no longer in the buffer are
// read from a peer.
func (l *Log) nextChunk(ctx context.Context, r *replica, next, committed page.LSN) (data []byte, complete bool, durable page.LSN, wait <-chan struct{}, err error) {
	l.mu.Lock()
	durable = l.told
	wait = l.dataCh
	if next >= l.end {
		l.mu.Unlock()
		return nil, false, durable, wait, nil
	}
	if next >= l.bufStart {
		b := l.buf[next-l.bufStart : min(l.end, next+chunk)-l.bufStart]
		l.mu.Unlock()
		n, complete := wholeRecords(b)
		if n == 0 {
			return nil, false, 0, nil, fmt.Errorf("logclient: no whole record at LSN %d", next)
		}
		return b[:n], complete, durable, wait, nil
	}
	limit := l.end // readRemote reads below each peer's acknowledged end, a record boundary
	l.mu.Unlock()
	// Catch up from a peer that has the bytes the buffer no longer holds.
	b, err := l.readRemote(ctx, next, chunk, limit, r)
	if err != nil {
		return nil, false, 0, nil, fmt.Errorf("logclient: catching %s up from a peer: %w", r.addr, err)
	}
	n, complete := wholeRecords(b)
	if n == 0 {
		return nil, false, 0, nil, fmt.Errorf("logclient: no whole record at LSN %d from a peer", next)
	}
	return b[:n], complete, durable, wait, nil
}

// reconcile seals store r with the writer's epoch, finds where its log agrees with the
// writer's, and has it adopt the writer's history from there, cutting what follows. When
// neither the writer's buffer nor any peer still holds the bytes from there (the log was
// truncated while the store was away, or the store is a new, empty one replacing a lost one),
// the store's log is restarted (StartAt) at the first LSN a peer still holds, beyond all of it.
// It returns where the writer resumes sending.
func (l *Log) reconcile(ctx context.Context, r *replica) (page.LSN, error) {
	st, err := l.seal(ctx, r, false)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	h, end, bufStart := l.history, l.end, l.bufStart
	l.mu.Unlock()
	at := quorum.Agree(st.History, st.Durable, h, end, max(st.Start, redo.StartLSN))
	from, restart := at, false
	if at < bufStart {
		from, restart = fillFrom(at, bufStart, st, h, l.sources(ctx, r))
	}
	if !restart || st.Durable > from {
		// The store keeps its log up to at (a restart then drops what is left).
		if at < st.First {
			return 0, fmt.Errorf("logclient: %s agrees with this log only up to %d, below its first retained LSN %d", r.addr, at, st.First)
		}
		actx, cancel := context.WithTimeout(ctx, l.opts.RPCTimeout)
		_, err := r.client.Adopt(actx, &logstorepb.AdoptRequest{Timeline: l.opts.Timeline, Epoch: l.opts.Epoch, At: uint64(at),
			History: logapi.TermsToPB(h), Committed: uint64(l.Durable())})
		cancel()
		if err != nil {
			if status.Code(err) == codes.FailedPrecondition {
				return 0, fmt.Errorf("%w: adopt on %s: %w", ErrDeposed, r.addr, err)
			}
			return 0, fmt.Errorf("logclient: adopt on %s: %w", r.addr, err)
		}
		if at < st.Durable {
			l.logger.Info("logclient: cut a store's tail that is not in this log", "store", r.addr, "at", uint64(at), "was", uint64(st.Durable))
		}
	}
	if restart {
		// from is a peer's first retained LSN: every byte before it was truncated, which the
		// caller does only once the Page Stores persisted it, and the store's log lies wholly
		// below it (checked again by the store).
		actx, cancel := context.WithTimeout(ctx, l.opts.RPCTimeout)
		_, err := r.client.StartAt(actx, &logstorepb.StartAtRequest{Timeline: l.opts.Timeline, Epoch: l.opts.Epoch, At: uint64(from),
			History: logapi.TermsToPB(h), Committed: uint64(max(l.Durable(), l.recovered))})
		cancel()
		if err != nil {
			if status.Code(err) == codes.FailedPrecondition {
				return 0, fmt.Errorf("%w: start the log on %s at %d: %w", ErrDeposed, r.addr, from, err)
			}
			return 0, fmt.Errorf("logclient: start the log on %s at %d: %w", r.addr, from, err)
		}
		l.logger.Warn("logclient: a store's log ends below what any peer still holds; restarted it at a peer's first retained LSN and filling it from there",
			"store", r.addr, "at", uint64(from), "store_first", uint64(st.First), "store_end", uint64(st.Durable), "agreed", uint64(at))
	}
	l.mu.Lock()
	r.acked = from // it may be lower than before: a store that lost its tail is refilled
	r.adopted = true
	r.lastErr = nil
	l.recompute()
	l.mu.Unlock()
	return from, nil
}

// held is what a peer holds of the writer's log: [first, acked).
type held struct{ first, acked page.LSN }

// sources asks the peers of r that hold part of this writer's log for their first retained LSN.
// A peer that does not answer is left out.
func (l *Log) sources(ctx context.Context, r *replica) []held {
	l.mu.Lock()
	var peers []*replica
	var acked []page.LSN
	for _, p := range l.reps {
		if p != r && p.adopted && p.acked > 0 {
			peers = append(peers, p)
			acked = append(acked, p.acked)
		}
	}
	l.mu.Unlock()
	out := make([]held, len(peers))
	ok := make([]bool, len(peers))
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sctx, cancel := context.WithTimeout(ctx, l.opts.RPCTimeout)
			defer cancel()
			st, err := p.client.GetStatus(sctx, &logstorepb.StatusRequest{Timeline: l.opts.Timeline})
			if err != nil {
				l.logger.Debug("logclient: status of a peer", "store", p.addr, "err", err)
				return
			}
			out[i], ok[i] = held{first: page.LSN(st.GetFirst()), acked: min(acked[i], page.LSN(st.GetDurable()))}, true
		}()
	}
	wg.Wait()
	var res []held
	for i := range out {
		if ok[i] {
			res = append(res, out[i])
		}
	}
	return res
}

// fillFrom decides where a store whose log (st) agrees with the writer's up to at is filled
// from, when the writer's buffer starts at bufStart and the peers hold peers. It is at when the
// buffer or a peer holds the bytes from at on. Otherwise the store's log must restart (StartAt)
// at the lowest first retained LSN of a peer holding bytes of the log after it (a segment start,
// so a record boundary): above at, where the store's log is cut first, or, when at is below the
// store's first retained LSN and the log cannot be cut there, at or above the store's end, so
// that the store drops nothing it holds at or after the new start. The new start must have an
// epoch in the writer's history h. With no such peer it is at: the catch-up then fails and is
// retried.
//
// The writer's log begins where h does (a branch's at its branch point; one kept by recovery
// from a restarted store at that store's start): no byte of it lies below. When the store
// agrees with it only below that beginning and the buffer holds the log from there, the store
// restarts there, though no peer holds a byte yet (a new branch's log, empty on every store).
func fillFrom(at, bufStart page.LSN, st logapi.Status, h []quorum.Term, peers []held) (from page.LSN, restart bool) {
	if at >= bufStart {
		return at, false
	}
	for _, p := range peers {
		if p.first <= at && at < p.acked {
			return at, false
		}
	}
	low := at + 1
	if at < st.First {
		low = max(low, st.Durable)
	}
	if len(h) > 0 {
		if begin := h[0].Start; at < begin && begin >= low && bufStart <= begin {
			return begin, true
		}
	}
	found := false
	for _, p := range peers {
		if p.first >= low && p.first < p.acked && quorum.EpochAt(h, p.first) != 0 && (!found || p.first < from) {
			from, found = p.first, true
		}
	}
	if !found {
		return at, false
	}
	return from, true
}

// seal promises the writer's epoch on r (creating the timeline there if r does not hold it yet)
// and returns its state; a store that promised a newer epoch (or, with newEpoch, the same one)
// means this writer is deposed.
func (l *Log) seal(ctx context.Context, r *replica, newEpoch bool) (logapi.Status, error) {
	epoch := l.opts.Epoch
	ctx, cancel := context.WithTimeout(ctx, l.opts.RPCTimeout)
	defer cancel()
	p, err := r.client.Seal(ctx, &logstorepb.SealRequest{Timeline: l.opts.Timeline, Epoch: epoch, NewEpoch: newEpoch})
	if status.Code(err) == codes.FailedPrecondition {
		return logapi.Status{}, fmt.Errorf("%w: seal %s: %w", ErrDeposed, r.addr, err)
	}
	if err != nil {
		return logapi.Status{}, fmt.Errorf("logclient: seal %s: %w", r.addr, err)
	}
	st := logapi.StatusFromPB(p)
	if st.Promised > epoch {
		return st, fmt.Errorf("%w: %s has seen epoch %d, this writer has %d", ErrDeposed, r.addr, st.Promised, epoch)
	}
	if err := quorum.Validate(st.History); err != nil {
		return st, fmt.Errorf("logclient: %s: %w", r.addr, err)
	}
	return st, nil
}
