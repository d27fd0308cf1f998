package logclient

import (
	"context"
	"sync"
	"time"

	"strata/internal/logapi/logstorepb"
	"strata/internal/page"
)

// pollLoop asks every store's status each PollInterval and abandons the followed store when it
// stalls, until the reader closes.
func (r *Reader) pollLoop() {
	defer r.wg.Done()
	t := time.NewTicker(r.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-r.ctx.Done():
			return
		}
		r.poll(r.ctx)
		r.checkStall()
	}
}

// poll asks every store for its status in parallel and records its committed LSN. It reports
// whether any store answered.
func (r *Reader) poll(ctx context.Context) bool {
	type answer struct {
		committed, completeEnd page.LSN
		err                    error
	}
	answers := make([]answer, len(r.srcs))
	var wg sync.WaitGroup
	for i, s := range r.srcs {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, r.opts.RPCTimeout)
			defer cancel()
			st, err := s.client.GetStatus(cctx, &logstorepb.StatusRequest{Timeline: r.opts.Timeline})
			answers[i] = answer{page.LSN(st.GetCommitted()), page.LSN(st.GetCompleteEnd()), err}
		})
	}
	wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	ok := false
	for i, s := range r.srcs {
		a := answers[i]
		s.statusOK = a.err == nil
		if a.err != nil {
			s.lastErr = a.err
			continue
		}
		ok = true
		s.committed, s.completeEnd = a.committed, a.completeEnd
		r.known = max(r.known, a.committed)
	}
	if ok {
		r.lastOK = time.Now()
	}
	r.notify()
	return ok
}

// checkStall ends the current stream when its store has sent nothing for StallTimeout while
// another store has committed bytes beyond the buffer (and the buffer has room for them).
func (r *Reader) checkStall() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur < 0 || r.stop == nil || len(r.buf) >= r.opts.Buffer || time.Since(r.progress) < r.opts.StallTimeout {
		return
	}
	end := r.end()
	for i, s := range r.srcs {
		if i != r.cur && s.statusOK && s.committed > end {
			r.logger.Warn("logclient: the followed log store stalled; following another",
				"store", r.srcs[r.cur].addr, "at", uint64(end), "silent", time.Since(r.progress).Round(time.Millisecond),
				"other", s.addr, "committed", uint64(s.committed))
			r.stop(errStalled)
			return
		}
	}
}
