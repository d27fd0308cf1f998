package logclient

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"strata/internal/logapi"
	"strata/internal/logapi/logstorepb"
	"strata/internal/page"
	"strata/internal/quorum"
	"strata/internal/redo"
)

// Recover starts a writer with opts.Epoch on the Log Stores: it seals them with the epoch (a
// quorum must answer; a store that has seen a newer epoch means this writer is deposed), keeps
// the log of the store whose last byte has the newest epoch, the longest of those (every record
// that may have been acknowledged is on a quorum, so any quorum of answers includes a store
// holding it, and that store's log contains it), makes that store adopt it, and waits until a
// quorum holds it: the others are cut where they disagree and filled from it. Stores that did
// not answer are reconciled when they do. When the kept log ends inside a group (its writer
// failed while appending a large one, whose durable part followers may have read), the group
// is voided with an abort record (redo.TAbort) rather than cut. The returned Log appends from
// Recovered().
func Recover(ctx context.Context, opts Options) (*Log, error) {
	l, err := newLog(opts)
	if err != nil {
		return nil, err
	}
	open, err := l.recover(ctx)
	if err != nil {
		l.cancel()
		l.closeConns()
		return nil, err
	}
	for _, r := range l.reps {
		l.wg.Add(1)
		go l.run(r)
	}
	if open != 0 {
		g := redo.NewGroup()
		g.Abort(open)
		_, end, err := l.Append(g.Bytes(), true)
		if err != nil {
			_ = l.Close()
			return nil, fmt.Errorf("logclient: void the unfinished group from %d: %w", open, err)
		}
		l.logger.Warn("logclient: the recovered log ends inside a group; voided it", "from", uint64(open), "to", uint64(l.recovered))
		l.recovered = end
	}
	if err := l.WaitDurable(ctx, l.recovered); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("logclient: re-replicating the recovered log: %w", err)
	}
	l.logger.Info("logclient: recovered", "epoch", opts.Epoch, "end", uint64(l.recovered))
	return l, nil
}

// recover seals a quorum, chooses the log to keep and has its store adopt it. It returns where
// the unfinished group at the end of the kept log starts (0: it ends at a group end).
func (l *Log) recover(ctx context.Context) (page.LSN, error) {
	type answer struct {
		st  logapi.Status
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
	// A store that lost its log does not vote: one whose log restarted at a peer's first
	// retained LSN and is not filled yet, or one without a history (never adopted: a new,
	// empty store) while another store has one. It may lack records it acknowledged before,
	// and the quorum of answers must include a store holding every acknowledged record.
	logExists := false
	for _, a := range answers {
		if a.err == nil && len(a.st.History) > 0 {
			logExists = true
		}
	}
	for i, a := range answers {
		if errors.Is(a.err, ErrDeposed) {
			return 0, a.err
		}
		if a.err != nil {
			errs = append(errs, a.err)
			continue
		}
		if lost := lostLog(a.st, logExists); lost != "" {
			errs = append(errs, fmt.Errorf("logclient: %s does not count for recovery: %s", l.reps[i].addr, lost))
			continue
		}
		rs = append(rs, quorum.Replica{History: a.st.History, Start: max(a.st.Start, redo.StartLSN), End: a.st.Durable, CompleteEnd: a.st.CompleteEnd})
		idx = append(idx, i)
	}
	if len(rs) < l.q {
		return 0, fmt.Errorf("%w: %d of %d stores answered the seal holding their log, %d needed: %w", ErrNoQuorum, len(rs), len(l.reps), l.q, errors.Join(errs...))
	}
	k := quorum.Choose(rs)
	donor, st := l.reps[idx[k]], answers[idx[k]].st
	// Every durable byte is kept, the end of a group still being written included: followers
	// may have read it. Its group is voided after (see Recover).
	kept, open := st.Durable, page.LSN(0)
	if st.CompleteEnd < kept {
		open = st.CompleteEnd
	}
	// The unfinished group may start below the first retained LSN (the Page Stores consumed
	// and persisted its beginning): the abort record only names it.
	if kept < st.First {
		return 0, fmt.Errorf("logclient: the chosen log on %s ends at %d, below its first retained LSN %d", donor.addr, kept, st.First)
	}
	h := quorum.Cut(st.History, kept, l.opts.Epoch)
	if err := quorum.Validate(h); err != nil {
		return 0, fmt.Errorf("logclient: recovered history: %w", err)
	}
	actx, cancel := context.WithTimeout(ctx, l.opts.RPCTimeout)
	defer cancel()
	if _, err := donor.client.Adopt(actx, &logstorepb.AdoptRequest{Epoch: l.opts.Epoch, At: uint64(kept),
		// Not committed yet: a follower may read the kept bytes only once a quorum holds them
		// (the senders tell the stores then), or a second crash could lose what it read.
		History: logapi.TermsToPB(h)}); err != nil {
		return 0, fmt.Errorf("logclient: adopt on %s: %w", donor.addr, err)
	}
	l.history, l.end, l.bufStart = h, kept, kept
	if open == 0 {
		l.groupEnds = []page.LSN{kept} // committed once a quorum holds the kept log
	}
	l.recovered = kept
	donor.acked, donor.adopted = kept, true
	l.logger.Info("logclient: recovery chose a log", "store", donor.addr, "end", uint64(st.Durable), "kept", uint64(kept),
		"epoch", l.opts.Epoch, "answered", len(rs), "unfinished_group_from", uint64(open))
	return open, nil
}

// lostLog says why a store's seal answer st cannot count towards recovery's quorum ("" if it
// can): its log was restarted (StartAt) and is still being filled, or it has no history while
// some store has one (logExists), as a new store replacing a lost one has until its first
// session with a writer.
func lostLog(st logapi.Status, logExists bool) string {
	if st.FillTo > st.Durable {
		return fmt.Sprintf("its log restarted at %d is filled only to %d of %d", st.Start, st.Durable, st.FillTo)
	}
	if logExists && len(st.History) == 0 {
		return "it holds no log (a new, empty store) while other stores do"
	}
	return ""
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
