package lognode

import (
	"context"
	"log/slog"
	"time"

	"strata/internal/logstore"
	"strata/internal/meta"
	"strata/internal/node"
	"strata/internal/retry"
)

// timelinePoll is how often a Log Store node looks for timelines whose database is gone.
const timelinePoll = 5 * time.Second

// followControlPlane connects to the control plane (retrying while it does not answer: the
// store serves meanwhile) and follows the timelines until ctx ends.
func followControlPlane(ctx context.Context, opts Options, srv *logstore.Server, lg *slog.Logger) {
	b := retry.NewBackoff(time.Second, 30*time.Second)
	for {
		mc, err := node.DialMeta(ctx, opts.Etcd, opts.Secret, lg, 0)
		if err == nil {
			defer mc.Close()
			followTimelines(ctx, mc, srv, lg)
			return
		}
		lg.Debug("logstore: connect to the control plane to follow the timelines", "err", err)
		if !b.Wait(ctx) {
			return
		}
	}
}

// followTimelines drops, every timelinePoll until ctx ends, the timelines N > 0 the server
// holds that the control plane no longer lists (meta.Client.Timelines: the main database's,
// the branches', retired ones included), nor as a branch still being made: a deleted branch's
// log goes from every Log Store.
func followTimelines(ctx context.Context, mc *meta.Client, srv *logstore.Server, lg *slog.Logger) {
	t := time.NewTicker(timelinePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		keep, err := liveTimelines(qctx, mc)
		cancel()
		if err != nil {
			lg.Debug("logstore: read the timelines", "err", err)
			continue
		}
		for _, n := range srv.TimelineNumbers() {
			if !keep[n] {
				if err := srv.DropTimeline(n); err != nil {
					lg.Warn("logstore: drop the log of a deleted branch", "timeline", n, "err", err)
				}
			}
		}
	}
}

// liveTimelines returns the timelines whose log must stay.
func liveTimelines(ctx context.Context, mc *meta.Client) (map[uint64]bool, error) {
	tls, err := mc.Timelines(ctx)
	if err != nil {
		return nil, err
	}
	bs, err := mc.Branches(ctx) // pending ones too
	if err != nil {
		return nil, err
	}
	keep := map[uint64]bool{0: true}
	for _, b := range tls {
		keep[b.Timeline] = true
	}
	for _, b := range bs {
		keep[b.Timeline] = true
	}
	return keep, nil
}
