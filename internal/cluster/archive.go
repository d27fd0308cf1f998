package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"strata/internal/archive"
	"strata/internal/meta"
	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/retry"
)

// The main database's writer copies its log to the archive (docs/history.md, "The archive")
// when the control plane names one (meta.Archive): archiveLog opens the archive, records the
// timeline, and runs an archive.LogArchiver over the writer's log. The Log Stores are truncated
// only below what the archive holds (maintain). An archive that cannot be reached or written
// stops nothing: writes go on, the log is kept, and the node's status says why
// (meta.Node.ArchiveError), as does a warning in its log.

// archiveLog runs until ctx ends. tl is the timeline the node writes; main says whether it is
// the main database's (else a branch the main database was made from: the timeline before a
// restore, whose log up to the restore point is part of the main database's history).
func (c *Compute) archiveLog(ctx context.Context, set meta.Archive, tl meta.Branch, main bool, lg *slog.Logger) {
	lg = lg.With("archive", set.Spec)
	b := retry.NewBackoff(time.Second, 30*time.Second)
	fail := func(what string, err error) bool {
		err = fmt.Errorf("%s: %w", what, err)
		if c.archiveErr.Load() == nil {
			lg.Warn("compute: the archive cannot be used; the log is kept until it can", "err", err)
		}
		c.archiveErr.Store(&err)
		return b.Wait(ctx)
	}
	for ctx.Err() == nil {
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		st, err := archive.Open(octx, set.Spec)
		if err != nil {
			cancel()
			if !fail("open the archive", err) {
				return
			}
			continue
		}
		start := max(page.LSN(tl.LSN), redo.StartLSN)
		rec := st.RecordTimeline
		if main {
			rec = st.RecordMain
		}
		err = rec(octx, archive.Timeline{Timeline: tl.Timeline, Base: tl.Base, Start: start})
		if err == nil {
			var a *archive.LogArchiver
			a, err = archive.NewLogArchiver(octx, archive.LogArchiverOptions{Store: st, Log: c.Log, Timeline: tl.Timeline,
				Start: start, ChunkDelay: set.ChunkDelay, Logger: c.opts.Logger})
			if err == nil {
				cancel()
				c.archiver.Store(a)
				c.archiveErr.Store(nil)
				lg.Info("compute: archiving the log", "timeline", tl.Timeline, "from", uint64(a.Archived()))
				err = a.Run(ctx)
				if ctx.Err() != nil {
					return
				}
				c.archiver.Store(nil)
				if !fail("archive the log", err) {
					return
				}
				continue
			}
		}
		cancel()
		if !fail("read the archive", err) {
			return
		}
	}
}

// archivedLimit returns how far the log may be truncated for the archive's sake: the end of
// what it holds; 0 while the archive is not in use yet (or cannot be); ok false with no
// archive.
func (c *Compute) archivedLimit() (page.LSN, bool) {
	if !c.archiving {
		return 0, false
	}
	if a := c.archiver.Load(); a != nil {
		return a.Archived(), true
	}
	return 0, true
}

// archiveStatus is what the status says of the archive: where its copy of the log ends, and
// why it cannot upload now.
func (c *Compute) archiveStatus() (uint64, string) {
	var archived uint64
	if a := c.archiver.Load(); a != nil {
		archived = uint64(a.Archived())
		if err := a.Err(); err != nil {
			return archived, err.Error()
		}
	}
	if p := c.archiveErr.Load(); p != nil {
		return archived, (*p).Error()
	}
	return archived, ""
}

// archiveSettings reads the archive settings: ok false when the cluster has none, or when
// timeline tl's log is not part of the main database's history (a branch's).
func archiveSettings(ctx context.Context, mc *meta.Client, tl uint64) (meta.Archive, bool, error) {
	a, err := mc.Archive(ctx)
	if errors.Is(err, meta.ErrNotFound) {
		return a, false, nil
	}
	if err != nil {
		return a, false, err
	}
	m, err := mc.Main(ctx)
	if err != nil {
		return a, false, err
	}
	if m.Timeline == tl {
		return a, true, nil
	}
	timelines, err := mc.Timelines(ctx)
	if err != nil {
		return a, false, err
	}
	return a, meta.InHistory(0, tl, m.Timeline, timelines), nil
}
