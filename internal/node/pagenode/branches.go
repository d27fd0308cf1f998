package pagenode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"strata/internal/archive"
	"strata/internal/logclient"
	"strata/internal/meta"
	"strata/internal/page"
	"strata/internal/pageserver"
	"strata/internal/pagestore"
)

// branchHost keeps, beside a Page Store's own store (timeline 0), a store for every other
// timeline whose branch point is fixed (docs/history.md): the branches', and the main
// database's after a point-in-time restore. Each is copy-on-write over its base timeline's
// store at the branch point (pagestore.Options.Base), consumes its timeline's log on the Log
// Stores (which its writer creates), and is served as that timeline. A branch deleted from the
// control plane is closed and its files removed; a retired one (another timeline was made
// from it) stays.
type branchHost struct {
	mc       *meta.Client
	dir      string // where branch stores live: <dir>/<timeline>
	logAddrs []string
	secret   string
	flush    time.Duration
	base     *pagestore.Store
	srv      *pageserver.Server
	lg       *slog.Logger

	open map[uint64]*hostedBranch // by timeline; the run goroutine's only
}

// hostedBranch is a branch store and the log it consumes.
type hostedBranch struct {
	name string
	lsn  page.LSN
	base uint64 // the timeline it reads below lsn
	st   *pagestore.Store
	rd   *logclient.Reader
}

// branchesDir returns where the branch stores of the store in dir live.
func branchesDir(dir string) string { return filepath.Clean(dir) + ".timelines" }

// run follows the branches, when the control plane reports a change to them and every
// interval besides, until ctx ends, then closes every branch store. After a failed round (a
// new branch's log not created by its writer yet) it tries again every branchRetry.
func (h *branchHost) run(ctx context.Context, interval time.Duration) {
	changes := h.mc.TimelineChanges(ctx, interval)
	defer h.closeAll()
	var lastErr string
	for {
		var again <-chan time.Time
		if err := h.sync(ctx); err != nil && ctx.Err() == nil {
			if err.Error() != lastErr {
				h.lg.Warn("page store: following the branches", "err", err)
			}
			lastErr = err.Error()
			again = time.After(branchRetry)
		} else {
			lastErr = ""
		}
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changes:
			if !ok {
				return // ctx ended
			}
		case <-again:
		}
	}
}

// sync opens the stores of the timelines whose point is fixed (branches, and the main
// database's after a restore; meta.Client.Timelines) and closes (and removes) those of
// branches that are gone. A timeline whose log does not exist yet is tried again.
func (h *branchHost) sync(ctx context.Context) error {
	timelines, err := h.mc.Timelines(ctx)
	if err != nil {
		return err
	}
	branches, err := h.mc.Branches(ctx)
	if err != nil {
		return err
	}
	want := map[uint64]meta.Branch{}
	for _, b := range timelines {
		if b.Timeline != 0 { // timeline 0 is this node's own store
			want[b.Timeline] = b
		}
	}
	var errs []error
	for tl, hb := range h.open {
		b, ok := want[tl]
		if !ok || page.LSN(b.LSN) != hb.lsn || b.Base != hb.base {
			errs = append(errs, h.drop(tl))
			continue
		}
		hb.name = b.Name // a restore becomes the main database (""), the main database a branch
	}
	// Files of branches deleted while the store was down.
	if ents, err := os.ReadDir(branchesDir(h.dir)); err == nil {
		for _, e := range ents {
			tl, err := strconv.ParseUint(e.Name(), 10, 64)
			if _, ok := want[tl]; err == nil && !ok && h.open[tl] == nil && !pendingTimeline(branches, tl) {
				h.lg.Info("page store: removing the files of a deleted branch", "timeline", tl)
				errs = append(errs, os.RemoveAll(filepath.Join(branchesDir(h.dir), e.Name())))
			}
		}
	}
	for _, b := range timelines { // parents first: a store reads its base's
		if b.Timeline == 0 || h.open[b.Timeline] != nil {
			continue
		}
		if err := h.openBranch(ctx, b); err != nil {
			errs = append(errs, fmt.Errorf("timeline %d (%s): %w", b.Timeline, timelineName(b), err))
		}
	}
	return errors.Join(errs...)
}

// timelineName names timeline b for people.
func timelineName(b meta.Branch) string {
	if b.Name == "" {
		return "the main database"
	}
	return "branch " + b.Name
}

// pendingTimeline says whether a pending branch has timeline tl.
func pendingTimeline(branches []meta.Branch, tl uint64) bool {
	for _, b := range branches {
		if b.Timeline == tl && b.Pending() {
			return true
		}
	}
	return false
}

// openBranch opens and serves the store of timeline b, over its base's store (the node's own
// for timeline 0, else an open branch store).
func (h *branchHost) openBranch(ctx context.Context, b meta.Branch) error {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rd, err := logclient.NewReader(rctx, logclient.ReaderOptions{Addrs: h.logAddrs, Secret: h.secret,
		Timeline: b.Timeline, Logger: h.lg})
	if err != nil {
		return fmt.Errorf("its log (not created by its writer yet?): %w", err)
	}
	own := h.base.Ownership()
	so := pagestore.Options{
		Dir: filepath.Join(branchesDir(h.dir), strconv.FormatUint(b.Timeline, 10)), Log: rd, Logger: h.lg.With("timeline", b.Timeline),
		Ownership: &own, FlushInterval: h.flush}
	switch {
	case b.Archive != nil: // made from the archive: its own pages, from the archive's base
		so.Start = page.LSN(b.Archive.Start)
		if b.Archive.Base {
			so.Source, so.StartCopied = &archiveBase{mc: h.mc, start: *b.Archive}, true
		}
	case b.Base != 0:
		hb := h.open[b.Base]
		if hb == nil {
			return errors.Join(fmt.Errorf("its base, timeline %d, is not served here", b.Base), rd.Close())
		}
		so.Base, so.BaseLSN = hb.st, page.LSN(b.LSN)
	default:
		so.Base, so.BaseLSN = h.base, page.LSN(b.LSN)
	}
	st, err := pagestore.Open(ctx, so)
	if err != nil {
		return errors.Join(err, rd.Close())
	}
	st.Start()
	if err := h.srv.AddTimeline(b.Timeline, st); err != nil {
		return errors.Join(err, st.Close(), rd.Close())
	}
	if h.open == nil {
		h.open = map[uint64]*hostedBranch{}
	}
	h.open[b.Timeline] = &hostedBranch{name: b.Name, lsn: page.LSN(b.LSN), base: b.Base, st: st, rd: rd}
	h.lg.Info("page store: serving a timeline", "timeline", b.Timeline, "of", timelineName(b), "base", b.Base, "branch_point", b.LSN)
	return nil
}

// archiveBase is the segment source of a timeline made from the archive: the archive's base
// it starts from, found when a segment is first copied (a store that copied them all never
// reads the archive again).
type archiveBase struct {
	mc    *meta.Client
	start meta.ArchiveStart

	mu  sync.Mutex
	src *archive.BaseSource
}

var _ pagestore.SegmentSource = (*archiveBase)(nil)

// CopySegment copies segment seg from the base.
func (a *archiveBase) CopySegment(ctx context.Context, seg uint64, lsn page.LSN, pages func(n int), emit func(*page.Page) error) error {
	src, err := a.source(ctx)
	if err != nil {
		return err
	}
	return src.CopySegment(ctx, seg, lsn, pages, emit)
}

// UsedSegments lists the base's segments.
func (a *archiveBase) UsedSegments(ctx context.Context) ([]uint64, error) {
	src, err := a.source(ctx)
	if err != nil {
		return nil, err
	}
	return src.UsedSegments(ctx)
}

// source finds the base in the archive the control plane names.
func (a *archiveBase) source(ctx context.Context) (*archive.BaseSource, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.src != nil {
		return a.src, nil
	}
	set, err := a.mc.Archive(ctx)
	if err == nil && set.Spec == "" {
		err = errors.New("the cluster has no archive now")
	}
	if err != nil {
		return nil, fmt.Errorf("pagenode: a timeline made from the archive: %w", err)
	}
	st, err := archive.Open(ctx, set.Spec)
	if err != nil {
		return nil, fmt.Errorf("pagenode: a timeline made from the archive: %w", err)
	}
	bases, err := st.Bases(ctx, a.start.BaseTimeline)
	if err != nil {
		return nil, fmt.Errorf("pagenode: a timeline made from the archive %s: %w", st, err)
	}
	for _, b := range bases {
		if b.LSN == page.LSN(a.start.Start) {
			a.src = &archive.BaseSource{Store: st, Base: b}
			return a.src, nil
		}
	}
	return nil, fmt.Errorf("pagenode: a timeline made from the archive %s's base of timeline %d at %d, which is not there: %w",
		st, a.start.BaseTimeline, a.start.Start, archive.ErrNotFound)
}

// drop stops serving timeline tl, closes its store and removes its files.
func (h *branchHost) drop(tl uint64) error {
	hb := h.open[tl]
	delete(h.open, tl)
	h.srv.RemoveTimeline(tl)
	err := errors.Join(hb.st.Close(), hb.rd.Close(),
		os.RemoveAll(filepath.Join(branchesDir(h.dir), strconv.FormatUint(tl, 10))))
	h.lg.Info("page store: a branch is gone; its store is removed", "branch", hb.name, "timeline", tl, "err", err)
	return err
}

// closeAll closes every branch store (the node stops); their files stay.
func (h *branchHost) closeAll() {
	for tl, hb := range h.open {
		h.srv.RemoveTimeline(tl)
		if err := errors.Join(hb.st.Close(), hb.rd.Close()); err != nil {
			h.lg.Warn("page store: closing a branch store", "branch", hb.name, "err", err)
		}
	}
	h.open = nil
}

// branchPoll is how often a Page Store node looks for branches to open or drop besides when
// the control plane reports a change (a new branch's writer waits for it).
const branchPoll = 2 * time.Second

// branchRetry is how soon a Page Store node tries again after failing to follow the branches.
const branchRetry = 200 * time.Millisecond
