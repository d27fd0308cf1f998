package pagenode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"strata/internal/logclient"
	"strata/internal/meta"
	"strata/internal/page"
	"strata/internal/pageserver"
	"strata/internal/pagestore"
)

// branchHost keeps, beside a Page Store's main store, a branch store for every branch whose
// branch point is fixed (docs/history.md): copy-on-write over the main store at the branch
// point (pagestore.Options.Base), consuming the branch's log (its timeline on the Log Stores,
// which its writer creates), served as its timeline. A branch deleted from the control plane
// is closed and its files removed.
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
	st   *pagestore.Store
	rd   *logclient.Reader
}

// branchesDir returns where the branch stores of the store in dir live.
func branchesDir(dir string) string { return filepath.Clean(dir) + ".timelines" }

// run follows the branches every interval until ctx ends, then closes every branch store.
func (h *branchHost) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	defer h.closeAll()
	var lastErr string
	for {
		if err := h.sync(ctx); err != nil && ctx.Err() == nil {
			if err.Error() != lastErr {
				h.lg.Warn("page store: following the branches", "err", err)
			}
			lastErr = err.Error()
		} else {
			lastErr = ""
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sync opens the branch stores of the branches whose point is fixed and closes (and removes)
// those of branches that are gone. A branch whose log does not exist yet is tried again.
func (h *branchHost) sync(ctx context.Context) error {
	branches, err := h.mc.Branches(ctx)
	if err != nil {
		return err
	}
	want := map[uint64]meta.Branch{}
	for _, b := range branches {
		if b.LSN != 0 {
			want[b.Timeline] = b
		}
	}
	var errs []error
	for tl, hb := range h.open {
		if b, ok := want[tl]; !ok || b.Name != hb.name || page.LSN(b.LSN) != hb.lsn {
			errs = append(errs, h.drop(tl))
		}
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
	for tl, b := range want {
		if h.open[tl] == nil {
			if err := h.openBranch(ctx, b); err != nil {
				errs = append(errs, fmt.Errorf("branch %s (timeline %d): %w", b.Name, tl, err))
			}
		}
	}
	return errors.Join(errs...)
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

// openBranch opens and serves the branch store of b.
func (h *branchHost) openBranch(ctx context.Context, b meta.Branch) error {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rd, err := logclient.NewReader(rctx, logclient.ReaderOptions{Addrs: h.logAddrs, Secret: h.secret,
		Timeline: b.Timeline, Logger: h.lg})
	if err != nil {
		return fmt.Errorf("its log (not created by its writer yet?): %w", err)
	}
	own := h.base.Ownership()
	st, err := pagestore.Open(ctx, pagestore.Options{
		Dir: filepath.Join(branchesDir(h.dir), strconv.FormatUint(b.Timeline, 10)), Log: rd, Logger: h.lg.With("branch", b.Name),
		Base: h.base, BaseLSN: page.LSN(b.LSN), Ownership: &own, FlushInterval: h.flush})
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
	h.open[b.Timeline] = &hostedBranch{name: b.Name, lsn: page.LSN(b.LSN), st: st, rd: rd}
	h.lg.Info("page store: serving a branch", "branch", b.Name, "timeline", b.Timeline, "branch_point", b.LSN)
	return nil
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

// branchPoll is how often a Page Store node looks for branches to open or drop: a new
// branch's writer waits for it.
const branchPoll = 200 * time.Millisecond
