package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"strata/internal/archive"
	"strata/internal/logclient"
	"strata/internal/meta"
	"strata/internal/page"
)

// Branches and restores from the archive (docs/history.md): a branch point older than what
// the Page Stores keep is looked for in the archive (the main database's writer, fixBranch),
// and the new timeline starts from the archive's newest base before it: its Page Stores copy
// their segments from that base (pagenode), and its writer copies the archived log from the
// base to the branch point into the timeline's log before it opens the engine (seedLog).

// archiveSearchTimeout bounds one search of the archive: it reads at most the log archived
// between two bases.
const archiveSearchTimeout = 10 * time.Minute

// archiveSearches are the searches of the archive for branch points under way, one goroutine
// each, so that maintain goes on meanwhile.
type archiveSearches struct {
	mu sync.Mutex
	m  map[string]*archiveSearch // by branch name and timeline
}

// archiveSearch is one search: its result once done is closed.
type archiveSearch struct {
	done  chan struct{}
	lsn   page.LSN
	start *meta.ArchiveStart
	err   error
}

// find returns the search for branch b's point once it is done (and forgets it), after
// starting it if need be; nil while it runs.
func (a *archiveSearches) find(c *Compute, b meta.Branch) *archiveSearch {
	a.mu.Lock()
	defer a.mu.Unlock()
	key := b.Name + "/" + strconv.FormatUint(b.Timeline, 10)
	s := a.m[key]
	if s == nil {
		if a.m == nil {
			a.m = map[string]*archiveSearch{}
		}
		s = &archiveSearch{done: make(chan struct{})}
		a.m[key] = s
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer close(s.done)
			s.lsn, s.start, s.err = c.searchArchive(c.bg, b)
		}()
		return nil
	}
	select {
	case <-s.done:
		delete(a.m, key)
		return s
	default:
		return nil
	}
}

// searchArchive finds branch b's point in the archive, on this node's timeline's history.
func (c *Compute) searchArchive(ctx context.Context, b meta.Branch) (page.LSN, *meta.ArchiveStart, error) {
	ctx, cancel := context.WithTimeout(ctx, archiveSearchTimeout)
	defer cancel()
	st, err := openRecordedArchive(ctx, c.opts.Meta)
	if err != nil {
		return 0, nil, err
	}
	hist, err := st.HistoryOf(ctx, c.timeline)
	if err != nil {
		return 0, nil, fmt.Errorf("the archive %s: %w", st, err)
	}
	p, err := st.FindPoint(ctx, hist, archive.Target{At: b.At, LSN: page.LSN(b.AtLSN)})
	if err != nil {
		return 0, nil, fmt.Errorf("the archive %s: %w", st, err)
	}
	as := &meta.ArchiveStart{Start: uint64(p.Start())}
	if p.Base != nil {
		as.Base, as.BaseTimeline = true, p.Base.Timeline
	}
	for _, s := range p.Log {
		as.Log = append(as.Log, meta.ArchiveSegment{Timeline: s.Timeline, Start: uint64(s.Start), End: uint64(s.End)})
	}
	return p.LSN, as, nil
}

// seedLog copies the archived log of timeline tl, made from the archive, from where its log
// ends to its branch point (tl.Archive.Log): its writer does so before it opens the engine at
// the branch point, and goes on where a copy that stopped left off.
func seedLog(ctx context.Context, mc *meta.Client, log *logclient.Log, tl meta.Branch, lg *slog.Logger) error {
	if tl.Archive == nil || log.End() >= page.LSN(tl.LSN) {
		return nil
	}
	st, err := openRecordedArchive(ctx, mc)
	if err != nil {
		return fmt.Errorf("cluster: the timeline is made from the archive: %w", err)
	}
	var hist []archive.Segment
	for _, s := range tl.Archive.Log {
		hist = append(hist, archive.Segment{Timeline: s.Timeline, Start: page.LSN(s.Start), End: page.LSN(s.End)})
	}
	from, start := log.End(), time.Now()
	lg.Info("compute: copying the archived log to the branch point", "from", uint64(from), "to", tl.LSN, "archive", st.String())
	if err := st.CopyLog(ctx, hist, log, nil, nil); err != nil {
		return fmt.Errorf("cluster: copy the archived log from %d to the branch point %d: %w", from, tl.LSN, err)
	}
	if log.End() != page.LSN(tl.LSN) {
		return fmt.Errorf("cluster: the archived log copied ends at %d, not at the branch point %d", log.End(), tl.LSN)
	}
	lg.Info("compute: archived log copied", "bytes", uint64(log.End()-from), "took", time.Since(start))
	return nil
}

// openRecordedArchive opens the archive the control plane names (meta.Archive).
func openRecordedArchive(ctx context.Context, mc *meta.Client) (*archive.Store, error) {
	set, err := mc.Archive(ctx)
	if errors.Is(err, meta.ErrNotFound) || (err == nil && set.Spec == "") {
		return nil, errors.New("the cluster has no archive")
	}
	if err != nil {
		return nil, fmt.Errorf("the archive's settings: %w", err)
	}
	st, err := archive.Open(ctx, set.Spec)
	if err != nil {
		return nil, fmt.Errorf("the archive: %w", err)
	}
	return st, nil
}
