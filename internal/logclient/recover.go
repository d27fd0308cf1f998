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
	answers := make([]sealAnswer, len(l.reps))
	var wg sync.WaitGroup
	for i, r := range l.reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := l.seal(ctx, r, true)
			answers[i] = sealAnswer{st, err}
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
	// Unless no log was ever written (see neverWritten): then nothing was acknowledged.
	logExists := false
	for _, a := range answers {
		if a.err == nil && len(a.st.History) > 0 {
			logExists = true
		}
	}
	if logExists && neverWritten(answers) {
		logExists = false
		l.logger.Info("logclient: no store holds a byte of the log: counting the stores without a history")
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
	if begin := max(st.Start, redo.StartLSN); l.opts.Start > begin {
		// A log of this timeline begins at Start or later (where its stores were restarted).
		if st.Durable > begin {
			return 0, fmt.Errorf("logclient: the log on %s begins at %d, before the log's start %d: it is another log",
				donor.addr, begin, l.opts.Start)
		}
		// Choose keeps a log with a byte if any store that counts holds one: none does, so
		// the log is new. It starts at Start.
		return 0, l.startNew(ctx, donor)
	}
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
	if _, err := donor.client.Adopt(actx, &logstorepb.AdoptRequest{Timeline: l.opts.Timeline, Epoch: l.opts.Epoch, At: uint64(kept),
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

// sealAnswer is a store's answer to recovery's seal.
type sealAnswer struct {
	st  logapi.Status
	err error
}

// startNew starts a new log at Options.Start on donor, a store that counts for recovery and
// holds no byte of a log: it restarts its (empty) log there with this writer's history from
// there. The other stores are started there by their senders (fillFrom: the writer's log
// begins there).
func (l *Log) startNew(ctx context.Context, donor *replica) error {
	start := l.opts.Start
	h := []quorum.Term{{Epoch: l.opts.Epoch, Start: start}}
	actx, cancel := context.WithTimeout(ctx, l.opts.RPCTimeout)
	defer cancel()
	if _, err := donor.client.StartAt(actx, &logstorepb.StartAtRequest{Timeline: l.opts.Timeline, Epoch: l.opts.Epoch,
		At: uint64(start), History: logapi.TermsToPB(h), Committed: uint64(start)}); err != nil {
		return fmt.Errorf("logclient: start the new log on %s at %d: %w", donor.addr, start, err)
	}
	l.history, l.end, l.bufStart = h, start, start
	l.groupEnds = []page.LSN{start} // the parent's group end: committed once a quorum holds it
	l.recovered = start
	donor.acked, donor.adopted = start, true
	l.logger.Info("logclient: recovery found no log; started a new one", "store", donor.addr, "start", uint64(start), "epoch", l.opts.Epoch)
	return nil
}

// neverWritten reports whether the seal answers show that no byte was ever written to the log:
// every store answered, and none holds a byte of a log or is being filled. Stores without a
// history then count for recovery beside those with one (a writer that failed inside its
// first recovery, after only some stores adopted or started the log, left them so): an
// acknowledged byte was synced by two stores with a history, at most one of which lost its
// log, and the other would hold it still.
func neverWritten(answers []sealAnswer) bool {
	for _, a := range answers {
		if a.err != nil {
			return false
		}
		if st := a.st; len(st.History) > 0 && (st.Durable > max(st.Start, redo.StartLSN) || st.FillTo > st.Durable) {
			return false
		}
	}
	return true
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
