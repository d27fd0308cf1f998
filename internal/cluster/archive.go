package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	start := max(page.LSN(tl.LSN), redo.StartLSN)
	b := retry.NewBackoff(time.Second, 30*time.Second)
	for ctx.Err() == nil {
		st, a, err := c.openArchive(ctx, set, tl, start, main)
		if err == nil {
			c.archiver.Store(a)
			c.archiveErr.Store(nil)
			lg.Info("compute: archiving the log", "timeline", tl.Timeline, "from", uint64(a.Archived()))
			bctx, stopBases := context.WithCancel(ctx)
			basesDone := make(chan struct{})
			go func() {
				defer close(basesDone)
				if main {
					c.takeBases(bctx, st, a, set, start, lg)
				}
			}()
			err = fmt.Errorf("archive the log: %w", a.Run(ctx))
			stopBases()
			<-basesDone
			c.archiver.Store(nil)
		}
		if ctx.Err() != nil {
			return
		}
		if c.archiveErr.Load() == nil {
			lg.Warn("compute: the archive cannot be used; the log is kept until it can", "err", err)
		}
		c.archiveErr.Store(&err)
		if !b.Wait(ctx) {
			return
		}
	}
}

// openArchive opens the archive, records the timeline (and, on the main database's writer,
// that it is the main one), and makes the log's archiver, which goes on where the archive's
// copy of the timeline's log ends.
func (c *Compute) openArchive(ctx context.Context, set meta.Archive, tl meta.Branch, start page.LSN, main bool) (*archive.Store, *archive.LogArchiver, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := archive.Open(ctx, set.Spec)
	if err != nil {
		return nil, nil, fmt.Errorf("open the archive: %w", err)
	}
	rec := st.RecordTimeline
	if main {
		rec = st.RecordMain
	}
	if err := rec(ctx, archive.Timeline{Timeline: tl.Timeline, Base: tl.Base, Start: start}); err != nil {
		return nil, nil, fmt.Errorf("read the archive: %w", err)
	}
	a, err := archive.NewLogArchiver(ctx, archive.LogArchiverOptions{Store: st, Log: c.Log, Timeline: tl.Timeline,
		Start: start, ChunkDelay: set.ChunkDelay, Logger: c.opts.Logger})
	if err != nil {
		return nil, nil, fmt.Errorf("read the archive: %w", err)
	}
	return st, a, nil
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
	if errors.Is(err, meta.ErrNotFound) || (err == nil && a.Spec == "") {
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

// basePoll is how often the main database's writer checks whether a new base is due.
const basePoll = 5 * time.Second

// takeBases takes a base (every page as of a recent position) of the main database's
// timeline once set.BaseBytes of log were archived since the newest (or since start, where the
// timeline's log starts), and at each look drops what the archive no longer needs
// (pruneArchive). It runs beside the log's archiver a until ctx ends.
func (c *Compute) takeBases(ctx context.Context, st *archive.Store, a *archive.LogArchiver, set meta.Archive, start page.LSN, lg *slog.Logger) {
	every := set.BaseBytes
	if every <= 0 {
		every = meta.DefaultBaseBytes
	}
	t := time.NewTicker(basePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		bases, err := st.Bases(ctx, c.timeline)
		if err != nil {
			lg.Warn("compute: read the archive's bases", "err", err)
			continue
		}
		newest := start
		if n := len(bases); n > 0 {
			newest = bases[n-1].LSN
		}
		if a.Archived() >= newest && int64(a.Archived()-newest) >= every {
			b, err := c.takeBase(ctx, st)
			if err != nil {
				if ctx.Err() == nil {
					lg.Warn("compute: take a base for the archive", "err", err)
				}
				continue
			}
			lg.Info("compute: base archived", "lsn", uint64(b.LSN), "segments", len(b.Segments), "pages", b.Pages())
			bases = append(bases, b)
		}
		c.pruneArchive(ctx, st, bases, set.Keep, lg)
	}
}

// takeBase copies every page as of the visible position from the Page Stores to the archive,
// holding their horizon at that position meanwhile.
func (c *Compute) takeBase(ctx context.Context, st *archive.Store) (archive.Base, error) {
	lsn := c.VisibleLSN()
	c.basePin.Store(uint64(lsn))
	defer c.basePin.Store(0)
	p, _, addrOf, err := LoadPlacement(ctx, c.opts.Meta)
	if err != nil {
		return archive.Base{}, err
	}
	var addrs []string
	for _, a := range addrOf {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	segs, err := c.Pages.UsedSegments(ctx, addrs)
	if err != nil {
		return archive.Base{}, err
	}
	b := archive.Base{Timeline: c.timeline, LSN: lsn, SegmentPages: p.SegmentPages, Created: time.Now().UTC()}
	for _, seg := range segs {
		var buf []byte
		err := c.Pages.CopySegment(ctx, addrs, seg, lsn, func(n int) { buf = make([]byte, 0, n*page.Size) },
			func(pg *page.Page) error { buf = append(buf, pg[:]...); return nil })
		if err != nil {
			return b, err
		}
		if err := st.PutBaseSegment(ctx, c.timeline, lsn, seg, buf); err != nil {
			return b, err
		}
		b.Segments = append(b.Segments, archive.BaseSegment{Segment: seg, Pages: len(buf) / page.Size})
	}
	return b, st.PutBase(ctx, b)
}

// pruneArchive deletes the bases that neither the history window nor the archive's keep
// (meta.Archive.Keep, when longer) needs any more, and the log below the oldest base kept:
// kept is the newest base taken before the longer one's start. While no base is that old,
// every moment since the oldest one's start may still be asked for (a branch or restore from
// the archive), and nothing goes.
func (c *Compute) pruneArchive(ctx context.Context, st *archive.Store, bases []archive.Base, keepFor time.Duration, lg *slog.Logger) {
	window, err := c.opts.Meta.HistoryWindow(ctx, meta.DefaultHistoryWindow)
	if err != nil {
		return
	}
	window = max(window, keepFor)
	keep := -1
	for i, b := range bases {
		if b.Created.Before(time.Now().Add(-window)) {
			keep = i
		}
	}
	if keep < 0 {
		return
	}
	for _, b := range bases[:keep] {
		if err := st.DeleteBase(ctx, b); err != nil {
			lg.Warn("compute: delete an old base from the archive", "lsn", uint64(b.LSN), "err", err)
			return
		}
	}
	n, err := st.DeleteLogBelow(ctx, c.timeline, bases[keep].LSN)
	if err != nil {
		lg.Warn("compute: delete old log from the archive", "below", uint64(bases[keep].LSN), "err", err)
	}
	if keep > 0 || n > 0 {
		lg.Info("compute: pruned the archive", "bases", keep, "log_chunks", n, "kept_from", uint64(bases[keep].LSN))
	}
}
