package logclient

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"strata/internal/logstore"
	"strata/internal/logstore/logstorepb"
	"strata/internal/page"
	"strata/internal/quorum"
	"strata/internal/redo"
)

// Recover starts a writer with opts.Epoch on the Log Stores: it seals them with the epoch (a
// quorum must answer; a store that has seen a newer epoch means this writer is deposed), keeps
// the log of the store whose last byte has the newest epoch, the longest of those (every record
// that may have been acknowledged is on a quorum, so any quorum of answers includes a store
// holding it, and that store's log contains it), cuts it at its last complete group, makes that
// store adopt it, and waits until a quorum holds it: the others are cut where they disagree and
// filled from it. Stores that did not answer are reconciled when they do. The returned Log
// appends from Recovered().
func Recover(ctx context.Context, opts Options) (*Log, error) {
	l, err := newLog(opts)
	if err != nil {
		return nil, err
	}
	if err := l.recover(ctx); err != nil {
		l.cancel()
		l.closeConns()
		return nil, err
	}
	for _, r := range l.reps {
		l.wg.Add(1)
		go l.run(r)
	}
	if err := l.WaitDurable(ctx, l.recovered); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("logclient: re-replicating the recovered log: %w", err)
	}
	l.logger.Info("logclient: recovered", "epoch", opts.Epoch, "end", uint64(l.recovered))
	return l, nil
}

// recover seals a quorum, chooses the log to keep and has its store adopt it.
func (l *Log) recover(ctx context.Context) error {
	type answer struct {
		st  logstore.Status
		err error
	}
	answers := make([]answer, len(l.reps))
	var wg sync.WaitGroup
	for i, r := range l.reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := seal(ctx, r, l.opts.Epoch, true, l.opts.RPCTimeout)
			answers[i] = answer{st, err}
		}()
	}
	wg.Wait()
	var rs []quorum.Replica
	var idx []int
	var errs []error
	for i, a := range answers {
		if errors.Is(a.err, ErrDeposed) {
			return a.err
		}
		if a.err != nil {
			errs = append(errs, a.err)
			continue
		}
		rs = append(rs, quorum.Replica{History: a.st.History, Start: redo.StartLSN, End: a.st.Durable, CompleteEnd: a.st.CompleteEnd})
		idx = append(idx, i)
	}
	if len(rs) < l.q {
		return fmt.Errorf("%w: %d of %d stores answered the seal, %d needed: %w", ErrNoQuorum, len(rs), len(l.reps), l.q, errors.Join(errs...))
	}
	k := quorum.Choose(rs)
	donor, st := l.reps[idx[k]], answers[idx[k]].st
	kept := st.CompleteEnd
	if kept < st.First {
		return fmt.Errorf("logclient: the chosen log on %s ends its last complete group at %d, below its first retained LSN %d", donor.addr, kept, st.First)
	}
	h := quorum.Cut(st.History, kept, l.opts.Epoch)
	if err := quorum.Validate(h); err != nil {
		return fmt.Errorf("logclient: recovered history: %w", err)
	}
	actx, cancel := context.WithTimeout(ctx, l.opts.RPCTimeout)
	defer cancel()
	if _, err := donor.client.Adopt(actx, &logstorepb.AdoptRequest{Epoch: l.opts.Epoch, At: uint64(kept),
		// Not committed yet: a follower may read the kept bytes only once a quorum holds them
		// (the senders tell the stores then), or a second crash could lose what it read.
		History: logstore.TermsToPB(h)}); err != nil {
		return fmt.Errorf("logclient: adopt on %s: %w", donor.addr, err)
	}
	l.history, l.end, l.bufStart = h, kept, kept
	l.groupEnds = []page.LSN{kept} // committed once a quorum holds the kept log
	l.recovered = kept
	donor.acked, donor.adopted = kept, true
	l.logger.Info("logclient: recovery chose a log", "store", donor.addr, "end", uint64(st.Durable), "kept", uint64(kept),
		"epoch", l.opts.Epoch, "answered", len(rs))
	return nil
}

// Acked returns what each store has acknowledged, in Options.Addrs order (for status and tests).
func (l *Log) Acked() []page.LSN {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]page.LSN, len(l.reps))
	for i, r := range l.reps {
		out[i] = r.acked
	}
	return out
}
