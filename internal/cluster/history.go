package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"strata/internal/meta"
	"strata/internal/page"
)

// horizon returns where the Page Stores' compaction horizon may move: the older of the
// engine's history horizon (oldest snapshot, past views, the history window) and the oldest
// snapshot recorded in the control plane, after fixing the position of snapshots taken since
// the last call. 0: it must not move (the window or the snapshots could not be read).
func (c *Compute) horizon(ctx context.Context, lg *slog.Logger) page.LSN {
	window, err := c.opts.Meta.HistoryWindow(ctx, meta.DefaultHistoryWindow)
	if err != nil {
		lg.Debug("compute: read the history window", "err", err)
		return 0
	}
	snaps, err := c.opts.Meta.Snapshots(ctx)
	if err != nil {
		lg.Debug("compute: read the snapshots", "err", err)
		return 0
	}
	pending := false
	for i, s := range snaps {
		if s.Pending() {
			snaps[i] = c.fixSnapshot(ctx, lg, s)
			pending = pending || snaps[i].Pending() // its moment is not past yet, or not recorded
		}
	}
	h := c.HistoryHorizon(ctx, window)
	if h == 0 || pending {
		return 0
	}
	for _, s := range snaps {
		if s.LSN != 0 {
			h = min(h, page.LSN(s.LSN))
		}
	}
	c.lastHorizon = max(c.lastHorizon, h)
	return h
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
	s.LSN = uint64(lsn)
	if err := c.opts.Meta.FixSnapshot(ctx, s); err != nil {
		lg.Warn("compute: record a snapshot's position", "snapshot", s.Name, "err", err)
		s.LSN = 0
		return s
	}
	lg.Info("compute: snapshot taken", "snapshot", s.Name, "at", s.At, "lsn", s.LSN)
	return s
}
