package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"strata/internal/engine"
	"strata/internal/meta"
	"strata/internal/page"
	"strata/internal/pageclient"
	"strata/internal/retry"
	"strata/internal/storage"
)

// horizon returns where the Page Stores' compaction horizon of the node's timeline may move,
// and the positions below it they must keep whole (Neon's retain LSNs): the horizon is the
// oldest of the engine's history horizon (its oldest snapshot, past views, the history window)
// and a base being archived; the retained positions are the snapshots taken on this timeline
// and the branch points of the timelines made from it (branches; the main database after a
// restore, made from the timeline before it), which read this timeline's pages as of exactly
// that position. The pending snapshots and branches are fixed first: by the main database's
// writer, and by a branch's writer for the branches made from it.
// 0: it must not move (something could not be read, or a snapshot or branch still waits).
func (c *Compute) horizon(ctx context.Context, lg *slog.Logger) (page.LSN, []page.LSN) {
	window, err := c.opts.Meta.HistoryWindow(ctx, meta.DefaultHistoryWindow)
	if err != nil {
		lg.Debug("compute: read the history window", "err", err)
		return 0, nil
	}
	snaps, _, pending, err := c.fixPending(ctx, lg)
	if err != nil {
		lg.Debug("compute: read the snapshots and branches", "err", err)
		return 0, nil
	}
	timelines, err := c.opts.Meta.Timelines(ctx)
	if err != nil {
		lg.Debug("compute: read the timelines", "err", err)
		return 0, nil
	}
	h := c.HistoryHorizon(ctx, window)
	if h == 0 || pending {
		return 0, nil
	}
	if p := page.LSN(c.basePin.Load()); p != 0 {
		h = min(h, p) // a base for the archive is being copied at p
	}
	c.lastHorizon = max(c.lastHorizon, h)
	return h, retainedPositions(h, c.timeline, snaps, timelines)
}

// retainedPositions returns the positions below horizon h of timeline tl whose pages must stay
// whole: every snapshot taken on tl and every branch point of a timeline made from tl.
func retainedPositions(h page.LSN, tl uint64, snaps []meta.Snapshot, timelines []meta.Branch) []page.LSN {
	var out []page.LSN
	for _, s := range snaps {
		if s.LSN != 0 && s.Timeline == tl && page.LSN(s.LSN) < h {
			out = append(out, page.LSN(s.LSN))
		}
	}
	for _, b := range timelines {
		if b.LSN != 0 && b.ChildOf(tl) && page.LSN(b.LSN) < h {
			out = append(out, page.LSN(b.LSN))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// fixSnapshot records the log position of a snapshot just taken: the position as of its
// moment, from the time index, when the Page Stores still keep it; else (no history window,
// or the moment fell out of it) the visible position now, which holds every commit of that
// moment and maybe a few since.
func (c *Compute) fixSnapshot(ctx context.Context, lg *slog.Logger, s meta.Snapshot) meta.Snapshot {
	if time.Until(s.At) > 0 {
		return s // a moment this node's clock has not reached: next round
	}
	tp, err := c.LSNAt(ctx, s.At.UnixMicro())
	lsn := tp.LSN
	if err != nil || lsn < c.lastHorizon {
		lsn = c.VisibleLSN()
		lg.Info("compute: a snapshot's moment is not in the history kept; it takes the present", "snapshot", s.Name,
			"at", s.At, "lsn", uint64(lsn), "why", errors.Join(err, fmt.Errorf("position %d, horizon %d", tp.LSN, c.lastHorizon)))
	}
	s.LSN, s.Timeline = uint64(lsn), c.timeline
	if err := c.opts.Meta.FixSnapshot(ctx, s); err != nil {
		lg.Warn("compute: record a snapshot's position", "snapshot", s.Name, "err", err)
		s.LSN = 0
		return s
	}
	lg.Info("compute: snapshot taken", "snapshot", s.Name, "at", s.At, "lsn", s.LSN)
	return s
}

// fixBranch records the branch point of a branch just asked for (branchPoint decides it).
func (c *Compute) fixBranch(ctx context.Context, lg *slog.Logger, b meta.Branch, snaps []meta.Snapshot) meta.Branch {
	lsn, void, wait := branchPoint(b, snaps, c.VisibleLSN(), c.lastHorizon, time.Now(),
		func(at int64) (storage.TimePoint, error) { return c.LSNAt(ctx, at) },
		func(l page.LSN) (storage.TimePoint, error) { return c.CommitAtOrBefore(ctx, l) })
	if wait != nil {
		lg.Debug("compute: a branch point waits", "branch", b.Name, "why", wait)
		return b
	}
	var from *meta.ArchiveStart
	if errors.Is(void, errOutsideHistory) && c.opts.Branch == nil {
		// Older than what the Page Stores keep: the archive (of the main database's history)
		// may hold it.
		s := c.searches.find(c, b)
		if s == nil {
			return b // being searched
		}
		if s.err != nil {
			void = fmt.Errorf("%w; %w", void, s.err)
		} else {
			lsn, void, from = s.lsn, nil, s.start
		}
	}
	if void != nil {
		b.Error = void.Error()
		lg.Warn("compute: a branch cannot be made", "branch", b.Name, "err", void)
	} else {
		b.LSN, b.Base, b.Archive = uint64(lsn), c.timeline, from
	}
	if err := c.opts.Meta.FixBranch(ctx, b); err != nil {
		lg.Warn("compute: record a branch point", "branch", b.Name, "err", err)
		b.LSN, b.Error = 0, ""
		return b
	}
	if b.LSN != 0 {
		lg.Info("compute: branch point fixed", "branch", b.Name, "timeline", b.Timeline, "lsn", b.LSN)
	}
	return b
}

// branchPoint decides the branch point of branch b: the position as of its moment, of its
// log position (the last commit at or below it) or of its snapshot, found with lsnAt and
// commitAt (the time index). It returns the position; or why the branch is void (a moment or
// position the Page Stores no longer keep, below horizon, beyond visible, or a void or missing
// snapshot: unlike a snapshot's, a branch point is never the present instead); or why it must
// wait for a later round (a moment not yet reached, a snapshot not yet fixed, an index that did
// not answer).
func branchPoint(b meta.Branch, snaps []meta.Snapshot, visible, horizon page.LSN, now time.Time,
	lsnAt func(at int64) (storage.TimePoint, error), commitAt func(page.LSN) (storage.TimePoint, error)) (lsn page.LSN, void, wait error) {
	var err error
	switch {
	case b.Snapshot != "":
		i := slices.IndexFunc(snaps, func(s meta.Snapshot) bool { return s.Name == b.Snapshot })
		switch {
		case i < 0:
			return 0, fmt.Errorf("no snapshot %s", b.Snapshot), nil
		case snaps[i].Pending():
			return 0, nil, fmt.Errorf("snapshot %s is not fixed yet", b.Snapshot)
		case snaps[i].Error != "":
			return 0, fmt.Errorf("snapshot %s is void: %s", b.Snapshot, snaps[i].Error), nil
		}
		lsn = page.LSN(snaps[i].LSN)
	case b.AtLSN != 0:
		if page.LSN(b.AtLSN) > visible {
			return 0, fmt.Errorf("log position %d is beyond what is committed (%d)", b.AtLSN, visible), nil
		}
		var tp storage.TimePoint
		tp, err = commitAt(page.LSN(b.AtLSN))
		lsn = tp.LSN
	default:
		if b.At.After(now) {
			return 0, nil, fmt.Errorf("the moment %s is not reached yet", b.At)
		}
		var tp storage.TimePoint
		tp, err = lsnAt(b.At.UnixMicro())
		lsn = tp.LSN
	}
	switch {
	case errors.Is(err, storage.ErrBeforeHistory) || errors.Is(err, engine.ErrNoHistory):
		return 0, fmt.Errorf("%w: %w", errOutsideHistory, err), nil
	case err != nil:
		return 0, nil, err
	case lsn < horizon && b.Snapshot == "": // a snapshot's position is retained below it
		return 0, fmt.Errorf("position %d is below the Page Stores' horizon %d: %w", lsn, horizon, errOutsideHistory), nil
	}
	return lsn, nil, nil
}

// errOutsideHistory says a branch point is older than what the Page Stores keep.
var errOutsideHistory = errors.New("outside the history kept")

// branchStoresWait bounds how long a branch's writer waits for every Page Store to serve the
// branch (they look for new branches every second).
const branchStoresWait = 60 * time.Second

// archiveCopyWait bounds how long the writer of a timeline made from the archive waits for
// the Page Stores to copy its pages from the archive's base.
const archiveCopyWait = time.Hour

// awaitBranchStores waits until every Page Store of the placement serves the timeline pages
// reads; copied: and has copied every segment it keeps (a timeline made from the archive's
// base, whose stores copy their segments from it; archiveCopyWait bounds that wait).
func awaitBranchStores(ctx context.Context, pages *pageclient.Client, copied bool, lg *slog.Logger) error {
	wait := branchStoresWait
	if copied {
		wait = archiveCopyWait
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var logged time.Time
	for {
		var errs []error
		for _, st := range pages.Status(ctx) {
			switch {
			case st.Err != nil:
				errs = append(errs, fmt.Errorf("%s: %w", st.Addr, st.Err))
			case copied && (len(st.Copying) > 0 || st.CopyingRest):
				errs = append(errs, fmt.Errorf("%s: copying its segments from the archive: %v", st.Addr, st.Copying))
			}
		}
		if len(errs) == 0 {
			return nil
		}
		if copied && time.Since(logged) > 10*time.Second {
			lg.Info("compute: waiting for the Page Stores to copy the branch's pages from the archive", "stores", errors.Join(errs...))
			logged = time.Now()
		}
		lg.Debug("compute: waiting for the Page Stores to serve the branch", "err", errors.Join(errs...))
		if !retry.Sleep(ctx, 100*time.Millisecond) {
			return fmt.Errorf("cluster: the Page Stores do not serve the branch within %v: %w", wait, errors.Join(errs...))
		}
	}
}

// visibleSnapshots returns snaps as timeline tl sees them: a snapshot taken on a timeline
// before a restore, after the point the main database was restored to, is void there.
func visibleSnapshots(snaps []meta.Snapshot, tl uint64, timelines []meta.Branch) []meta.Snapshot {
	out := slices.Clone(snaps)
	for i, s := range out {
		if s.LSN != 0 && !meta.InHistory(s.LSN, s.Timeline, tl, timelines) {
			out[i].Error = fmt.Sprintf("taken on timeline %d, after the point the database was restored to", s.Timeline)
			out[i].LSN = 0
		}
	}
	return out
}

// staleRestore is how long a restore may wait to become the main database (its maker,
// `strata ctl restore`, swaps it as soon as its point is fixed) before the writer drops it.
const staleRestore = 5 * time.Minute

// pendingInterval is how often the writer looks again at snapshots and branches that still
// wait for their position (between the maintain rounds, which fix them too; a new one is
// looked at as soon as the control plane reports it, meta.Client.PendingChanges).
const pendingInterval = 100 * time.Millisecond

// fixPending reads the snapshots and branches and fixes the position of those that wait for
// one; pending says whether some still wait (a moment not past yet, a snapshot a branch waits
// for, a position not recorded). It runs on maintain's goroutine: between the rounds, and in
// each round before the horizon is worked out.
func (c *Compute) fixPending(ctx context.Context, lg *slog.Logger) (snaps []meta.Snapshot, branches []meta.Branch, pending bool, err error) {
	if snaps, err = c.opts.Meta.Snapshots(ctx); err != nil {
		return nil, nil, false, err
	}
	main := c.opts.Branch == nil
	if main { // snapshots are the main database's
		for i, s := range snaps {
			if s.Pending() {
				snaps[i] = c.fixSnapshot(ctx, lg, s)
				pending = pending || snaps[i].Pending()
			}
		}
	}
	if branches, err = c.opts.Meta.Branches(ctx); err != nil {
		return nil, nil, false, err
	}
	// The branches made from this node's database: From names it ("" the main database).
	self := ""
	if !main {
		self = c.opts.Branch.Name
	}
	mine := func(b meta.Branch) bool { return b.From == self && b.Pending() }
	var ours []meta.Snapshot // the snapshots as this timeline sees them
	if slices.ContainsFunc(branches, mine) {
		timelines, err := c.opts.Meta.Timelines(ctx)
		if err != nil {
			return nil, nil, false, err
		}
		ours = visibleSnapshots(snaps, c.timeline, timelines)
	}
	for i, b := range branches {
		switch {
		case mine(b):
			branches[i] = c.fixBranch(ctx, lg, b, ours)
			pending = pending || branches[i].Pending()
		case main && b.Restore && time.Since(b.Created) > staleRestore:
			// A restore that never became the main database (its maker stopped): it goes,
			// so that nothing half made stays.
			if _, err := c.opts.Meta.DeleteBranch(ctx, b.Name); err == nil {
				lg.Warn("compute: a restore that did not complete is dropped", "restore", b.Name, "created", b.Created)
			}
		}
	}
	return snaps, branches, pending, nil
}
