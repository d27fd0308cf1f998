package cluster

import (
	"context"
	"log/slog"
	"time"

	"strata/internal/meta"
)

// mainPoll is how often the main database's compute nodes look for a change of its timeline
// (a point-in-time restore).
const mainPoll = 100 * time.Millisecond

// watchMain closes moved once the control plane names another timeline than tl as the main
// database's, or returns when stop is closed.
func watchMain(mc *meta.Client, tl uint64, stop <-chan struct{}, moved chan<- struct{}, lg *slog.Logger) {
	t := time.NewTicker(mainPoll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		m, err := mc.Main(ctx)
		cancel()
		if err == nil && m.Timeline != tl {
			lg.Warn("compute: the main database is now another timeline (a point-in-time restore); this node moves to it",
				"from", tl, "to", m.Timeline, "branch_point", m.LSN)
			close(moved)
			return
		}
	}
}
