package logstore

import (
	"errors"
	"fmt"
	"slices"

	"strata/internal/logapi"
	"strata/internal/page"
	"strata/internal/quorum"
)

// Reasons an append, seal or adopt is refused. RefusedError wraps one of them.
var (
	// ErrStaleEpoch: the request's epoch is older than the highest the store has seen. The
	// writer has been deposed.
	ErrStaleEpoch = errors.New("logstore: stale epoch")
	// ErrGap: the append does not start at the store's end. RefusedError.End says where the
	// writer must resume.
	ErrGap = errors.New("logstore: append does not start at the end of the log")
	// ErrNotAdopted: the writer of this epoch has not reconciled the store's log with its own
	// (Adopt) yet.
	ErrNotAdopted = errors.New("logstore: log not adopted by this epoch")
)

// RefusedError is a protocol refusal: the request was valid but the store's state forbids it.
// It carries what the writer needs to proceed.
type RefusedError struct {
	Reason   error    // ErrStaleEpoch, ErrGap or ErrNotAdopted
	Epoch    uint64   // the request's epoch
	Promised uint64   // the highest epoch the store has seen
	End      page.LSN // the store's end
	Detail   string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%v: %s (epoch %d, store epoch %d, store end %d)", e.Reason, e.Detail, e.Epoch, e.Promised, e.End)
}

// Unwrap returns the reason, so errors.Is(err, ErrGap) works.
func (e *RefusedError) Unwrap() error { return e.Reason }

// core is the store's protocol state machine: every decision (epoch checks, position checks,
// seal, adopt) and no I/O. The Store drives it under its mutex and does the I/O it calls for.
type core struct {
	promised    uint64
	history     []quorum.Term
	start       page.LSN
	first       page.LSN
	end         page.LSN // accepted
	durable     page.LSN // synced
	completeEnd page.LSN // end of the last complete group among the accepted bytes
	syncedGroup page.LSN // end of the last complete group among the synced bytes
	committed   page.LSN
	groupEnds   []page.LSN    // accepted group ends above durable, ascending
	damaged     []logapi.Span // synced ranges that failed their check, ascending, disjoint
	// groupUnsure: damage hid the end of the last complete group among the synced bytes, so
	// syncedGroup may be too low. A new writer's recovery must not keep this store's log only
	// up to it (it could cut acknowledged groups): a strict seal is refused until the repair
	// finds the group end again.
	groupUnsure bool
	// fillTo: the writer's committed LSN when StartAt restarted the log, until durable
	// reaches it (then 0). See logapi.Status.FillTo.
	fillTo page.LSN
}

func (c *core) refuse(reason error, epoch uint64, format string, args ...any) error {
	return &RefusedError{Reason: reason, Epoch: epoch, Promised: c.promised, End: c.end, Detail: fmt.Sprintf(format, args...)}
}

// adoptedBy reports whether the writer of epoch has adopted the log: its history ends with
// that writer's term.
func (c *core) adoptedBy(epoch uint64) bool {
	return len(c.history) > 0 && c.history[len(c.history)-1].Epoch == epoch
}

// checkEpoch refuses an epoch older than promised, and one the log was not adopted by.
func (c *core) checkEpoch(epoch uint64) error {
	if epoch < c.promised {
		return c.refuse(ErrStaleEpoch, epoch, "epoch %d is older than %d", epoch, c.promised)
	}
	if epoch != c.promised || !c.adoptedBy(epoch) {
		return c.refuse(ErrNotAdopted, epoch, "epoch %d has not adopted this log", epoch)
	}
	return nil
}

// checkAppend decides whether n bytes at start from epoch can be accepted.
func (c *core) checkAppend(epoch uint64, start page.LSN, n int) error {
	if err := c.checkEpoch(epoch); err != nil {
		return err
	}
	if start != c.end {
		return c.refuse(ErrGap, epoch, "append at %d", start)
	}
	if uint64(n) > ^uint64(0)-uint64(start) {
		return fmt.Errorf("logstore: append of %d bytes at %d overflows the LSN space", n, start)
	}
	return nil
}

// accept records an accepted append of n bytes whose last group end is groupEnd (0 if none).
func (c *core) accept(n int, groupEnd page.LSN) {
	c.end += page.LSN(n)
	if groupEnd > 0 {
		c.completeEnd = groupEnd
		c.groupEnds = append(c.groupEnds, groupEnd)
	}
}

// synced records that every accepted byte below to is durable.
func (c *core) synced(to page.LSN) {
	c.durable = to
	k := 0
	for k < len(c.groupEnds) && c.groupEnds[k] <= to {
		c.syncedGroup = c.groupEnds[k]
		c.groupUnsure = false // a newer group end than any the damage hides
		k++
	}
	c.groupEnds = slices.Delete(c.groupEnds, 0, k)
	if c.fillTo != 0 && to >= c.fillTo {
		c.fillTo = 0 // filled: written with the state next time
	}
}

// commit raises the committed LSN told by the writer of epoch (already checked).
func (c *core) commit(lsn page.LSN) {
	if lsn > c.committed {
		c.committed = lsn
	}
}

// seal raises promised to epoch. It reports whether promised changed (and must be persisted).
// With strict, the epoch must be newer than promised: a new writer's recovery must not share
// its epoch with an earlier writer.
func (c *core) seal(epoch uint64, strict bool) (bool, error) {
	if epoch < c.promised || (strict && epoch == c.promised) {
		return false, c.refuse(ErrStaleEpoch, epoch, "seal")
	}
	if strict && c.groupUnsure {
		return false, fmt.Errorf("%w: damaged range %v hides the end of the last complete group; repairing it from a peer", ErrCorrupt, c.damaged)
	}
	if epoch == 0 {
		return false, errors.New("logstore: seal with epoch 0")
	}
	changed := epoch > c.promised
	c.promised = epoch
	return changed, nil
}

// checkAdopt decides whether the writer of epoch may cut the log at at and give it history h.
// h must describe the bytes the store keeps: it must agree with the store's history below at.
func (c *core) checkAdopt(epoch uint64, at page.LSN, h []quorum.Term) error {
	if epoch < c.promised {
		return c.refuse(ErrStaleEpoch, epoch, "adopt")
	}
	if epoch == 0 {
		return errors.New("logstore: adopt with epoch 0")
	}
	if err := quorum.Validate(h); err != nil {
		return err
	}
	if len(h) == 0 || h[len(h)-1].Epoch != epoch {
		return fmt.Errorf("logstore: adopt by epoch %d with a history that does not end with it", epoch)
	}
	if at > c.durable {
		return fmt.Errorf("logstore: adopt at %d beyond the durable end %d", at, c.durable)
	}
	if at < c.first {
		return fmt.Errorf("logstore: adopt at %d below the first retained LSN %d", at, c.first)
	}
	if got := quorum.Agree(c.history, at, h, at, c.start); got != at {
		return fmt.Errorf("logstore: adopt at %d, but the histories agree only up to %d", at, got)
	}
	return nil
}

// adopt applies an adopt checked by checkAdopt, once the I/O cut the log at at; completeEnd is
// the end of the last complete group at or below at.
func (c *core) adopt(epoch uint64, at page.LSN, h []quorum.Term, completeEnd, committed page.LSN) {
	c.promised = epoch
	// A log restarted at start (StartAt) keeps a history of its own bytes only.
	c.history = quorum.From(h, c.start)
	c.end, c.durable = at, at
	c.completeEnd, c.syncedGroup = completeEnd, completeEnd
	c.groupEnds = nil
	c.committed = min(max(c.committed, committed), at)
	c.clipDamaged()
}

// checkStartAt decides whether the writer of epoch may restart the log at at with history h
// (StartAt): the store drops every byte it holds and its log starts at at, empty. The writer
// asks for it when the store's log ends below the first LSN any peer still holds: at is a peer's
// first retained LSN, a record boundary, and every byte before it was truncated on the peers,
// which a caller only does once the Page Stores persisted them. The store refuses unless its
// whole log lies below at (an empty log included), so it never drops a byte at or after at that
// it could be the only one to hold; bytes after a point the writer's log disagrees with are cut
// by Adopt first. at must not exceed committed, the writer's quorum-durable LSN (or the end of
// the log its recovery kept, if higher): no recovery cuts below it, so at is a record boundary of
// every later writer's log and the store's log restarted there is a suffix of theirs. h must
// give at an epoch.
func (c *core) checkStartAt(epoch uint64, at page.LSN, h []quorum.Term, committed page.LSN) error {
	if epoch < c.promised {
		return c.refuse(ErrStaleEpoch, epoch, "start at %d", at)
	}
	if epoch == 0 {
		return errors.New("logstore: start with epoch 0")
	}
	if err := quorum.Validate(h); err != nil {
		return err
	}
	if len(h) == 0 || h[len(h)-1].Epoch != epoch {
		return fmt.Errorf("logstore: start by epoch %d with a history that does not end with it", epoch)
	}
	if quorum.EpochAt(h, at) == 0 {
		return fmt.Errorf("logstore: start at %d with a history that begins at %d", at, h[0].Start)
	}
	if at > committed {
		return fmt.Errorf("logstore: start at %d beyond the writer's committed LSN %d", at, committed)
	}
	if c.end != c.durable {
		return fmt.Errorf("logstore: start at %d with unsynced bytes up to %d", at, c.end)
	}
	if c.durable > at {
		return fmt.Errorf("logstore: start at %d, but the log holds bytes up to %d (only a log wholly below the new start may be dropped)", at, c.durable)
	}
	return nil
}

// startAt applies a restart checked by checkStartAt: the log is empty and starts at at, with the
// part of h that describes it, and is being filled up to committed.
func (c *core) startAt(epoch uint64, at page.LSN, h []quorum.Term, committed page.LSN) {
	c.promised = epoch
	c.start, c.first, c.end, c.durable = at, at, at, at
	c.history = quorum.From(h, at)
	// at may lie inside a group; as after a truncation, the log's first LSN stands for the
	// last group end when the log holds none.
	c.completeEnd, c.syncedGroup = at, at
	c.groupEnds = nil
	c.committed = at
	c.damaged = nil
	c.groupUnsure = false
	// Until the log reaches what the writer had made durable, this store may lack bytes it
	// acknowledged before it lost its log.
	c.fillTo = committed
}

// readable returns the end of what a reader may read: the synced bytes, and, for a reader that
// gives no limit of its own, only those the writer said are committed.
func (c *core) readable(limit page.LSN) page.LSN {
	if limit == 0 {
		limit = c.committed
	}
	return min(c.durable, limit)
}

func (c *core) status() logapi.Status {
	return logapi.Status{
		Promised:    c.promised,
		History:     slices.Clone(c.history),
		Start:       c.start,
		First:       c.first,
		End:         c.end,
		Durable:     c.durable,
		CompleteEnd: c.syncedGroup,
		Committed:   c.committed,
		FillTo:      c.fillTo,
		Damaged:     slices.Clone(c.damaged),
	}
}

// markDamaged records that the bytes of sp failed their check: the store refuses to serve them
// until they are repaired. Only synced bytes the store still holds can be damaged; the part of
// sp outside [first, durable) is ignored. It reports whether anything new was recorded.
func (c *core) markDamaged(sp logapi.Span) bool {
	sp.Lo, sp.Hi = max(sp.Lo, c.first), min(sp.Hi, c.durable)
	if sp.Lo >= sp.Hi {
		return false
	}
	var out []logapi.Span
	added := true
	for _, d := range c.damaged {
		switch {
		case d.Hi < sp.Lo || d.Lo > sp.Hi:
			out = append(out, d)
		default: // overlapping or adjacent: merge
			if d.Lo <= sp.Lo && d.Hi >= sp.Hi {
				added = false
			}
			sp.Lo, sp.Hi = min(sp.Lo, d.Lo), max(sp.Hi, d.Hi)
		}
	}
	out = append(out, sp)
	slices.SortFunc(out, func(a, b logapi.Span) int { return cmpLSN(a.Lo, b.Lo) })
	c.damaged = out
	return added
}

func cmpLSN(a, b page.LSN) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// clipDamaged drops the damage outside [first, durable): truncated or cut away.
func (c *core) clipDamaged() {
	var out []logapi.Span
	for _, d := range c.damaged {
		d.Lo, d.Hi = max(d.Lo, c.first), min(d.Hi, c.durable)
		if d.Lo < d.Hi {
			out = append(out, d)
		}
	}
	c.damaged = out
}

// servable limits a read of [from, to) by the damage: it returns the end of the undamaged
// bytes from from on, and the damaged span when from itself is damaged.
func (c *core) servable(from, to page.LSN) (page.LSN, *logapi.Span) {
	for _, d := range c.damaged {
		if d.Hi <= from || d.Lo >= to {
			continue
		}
		if d.Lo <= from {
			return from, &d
		}
		return d.Lo, nil
	}
	return to, nil
}

// isDamaged reports whether sp is exactly a span recorded as damaged.
func (c *core) isDamaged(sp logapi.Span) bool { return slices.Contains(c.damaged, sp) }

// checkRepairSource decides whether a peer in state peer may supply the bytes of the damaged
// span sp, and returns the epoch of the span's last byte in this store's history. Only bytes
// this store had synced (below its durable end, so possibly acknowledged) are repaired: a torn
// tail is cut at open, never filled from a peer. The peer must hold sp synced, and its log must
// agree with this one up to sp.Hi (the byte before sp.Hi has the same epoch in both
// histories): by the log matching property its bytes below sp.Hi are then the ones this store
// wrote there.
func (c *core) checkRepairSource(sp logapi.Span, peer logapi.Status) (uint64, error) {
	if !c.isDamaged(sp) {
		return 0, fmt.Errorf("logstore: %v is not a damaged range of this store (any more)", sp)
	}
	if sp.Lo < c.first || sp.Hi > c.durable || sp.Lo >= sp.Hi {
		return 0, fmt.Errorf("logstore: %v is not within the synced log [%d, %d)", sp, uint64(c.first), uint64(c.durable))
	}
	if peer.First > sp.Lo || peer.Durable < sp.Hi {
		return 0, fmt.Errorf("logstore: the peer holds [%d, %d), not all of %v", uint64(peer.First), uint64(peer.Durable), sp)
	}
	if err := quorum.Validate(peer.History); err != nil {
		return 0, fmt.Errorf("logstore: the peer's history: %w", err)
	}
	if got := quorum.Agree(c.history, sp.Hi, peer.History, peer.Durable, c.start); got < sp.Hi {
		return 0, fmt.Errorf("logstore: the peer's log agrees with this one only up to %d, not to the end of %v", uint64(got), sp)
	}
	return quorum.EpochAt(c.history, sp.Hi-1), nil
}

// checkRepairData checks bytes offered for the damaged span sp: exactly its length, whole
// records with valid CRCs (the span starts and ends at record boundaries of this log).
func checkRepairData(sp logapi.Span, data []byte) error {
	if uint64(len(data)) != uint64(sp.Hi-sp.Lo) {
		return fmt.Errorf("logstore: %d bytes for %v", len(data), sp)
	}
	_, _, n, err := scanRecords(data)
	if err != nil {
		return fmt.Errorf("logstore: bytes for %v at offset %d: %w", sp, n, err)
	}
	if n != len(data) {
		return fmt.Errorf("logstore: bytes for %v end inside a record at offset %d", sp, n)
	}
	return nil
}

// repaired records that sp holds good bytes again.
func (c *core) repaired(sp logapi.Span) {
	c.damaged = slices.DeleteFunc(c.damaged, func(d logapi.Span) bool { return d == sp })
}
