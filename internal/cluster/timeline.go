package cluster

import (
	"context"
	"log/slog"
	"time"

	"strata/internal/meta"
)

// mainPoll is how often the main database's compute nodes read its record besides when the
// control plane reports a change (meta.Client.MainChanges), in case a watch stalls.
const mainPoll = time.Second

// watchMain closes moved once the control plane names another timeline than tl as the main
// database's (a point-in-time restore), or returns when stop is closed.
func watchMain(mc *meta.Client, tl uint64, stop <-chan struct{}, moved chan<- struct{}, lg *slog.Logger) {
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	changes := mc.MainChanges(wctx, mainPoll)
	for {
		select {
		case <-stop:
			return
		case <-changes:
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
