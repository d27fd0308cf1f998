package archive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"strata/internal/page"
	"strata/internal/redo"
)

// Branches and restores from the archive (docs/history.md). A branch point older than what
// the Page Stores keep is found in the archive: the newest base at or before it on the
// database's history, and the archived log from that base to the point, which the new
// timeline's writer copies into its log while its Page Stores copy their segments from the
// base.

// Target is the point asked for: a moment (At) or, when LSN is set, the last commit at or
// below a log position.
type Target struct {
	At  time.Time
	LSN page.LSN
}

func (t Target) String() string {
	if t.LSN != 0 {
		return fmt.Sprintf("log position %d", t.LSN)
	}
	return "the moment " + t.At.UTC().Format("2006-01-02 15:04:05.000000 MST")
}

// Point is a branch point found in the archive.
type Point struct {
	// LSN is the branch point: the end of the last group with a commit at or before the
	// target (the base's position when no commit after it is).
	LSN page.LSN
	// Base holds the pages the new timeline starts from; nil: it starts from the log's first
	// position, with no pages.
	Base *Base
	// Log is the archived log from the start (Base's position, or the log's first) to LSN,
	// each timeline's part in order.
	Log []Segment
	// Commit is the commit time at LSN in microseconds since the Unix epoch (0: none met).
	Commit int64
}

// Start is where the new timeline's log starts.
func (p Point) Start() page.LSN {
	if p.Base != nil {
		return p.Base.LSN
	}
	if len(p.Log) > 0 {
		return p.Log[0].Start
	}
	return p.LSN
}

// ErrNotArchived says the archive does not hold the point asked for: older than its oldest
// base and log, or newer than what it holds yet.
var ErrNotArchived = errors.New("archive: not held")

// FindPoint finds the point of target in hist (a timeline's history in the archive, as
// HistoryOf returns it): it starts at the newest complete base on hist that lies at or before
// the target (taken at or before the moment; at or below the position), else at the log's
// first position if the archive still holds the log from there, and reads the archived log on
// from it. ErrNotArchived when the archive holds nothing that old, or when the target may lie
// beyond the log it holds yet.
func (s *Store) FindPoint(ctx context.Context, hist []Segment, target Target) (Point, error) {
	if len(hist) == 0 {
		return Point{}, fmt.Errorf("%w: the archive holds no log", ErrNotArchived)
	}
	end := hist[len(hist)-1].End
	if target.LSN != 0 && target.LSN > end {
		return Point{}, fmt.Errorf("%w: %s is beyond the archived log, which ends at %d", ErrNotArchived, target, end)
	}
	start, base, err := s.startFor(ctx, hist, target)
	if err != nil {
		return Point{}, err
	}
	p := Point{LSN: start, Base: base}
	log := historyFrom(hist, start)
	stop := errors.New("stop")
	found := false
	for _, seg := range log {
		err := s.ScanLog(ctx, seg.Timeline, seg.Start, seg.End, func(at page.LSN, b []byte) error {
			committed, t := false, int64(0)
			for off := 0; off < len(b); {
				r, n, err := redo.Decode(b[off:])
				if err != nil {
					return fmt.Errorf("archive: timeline %d's log at %d: %w", seg.Timeline, at+page.LSN(off), err)
				}
				off += n
				if r.Type == redo.TCommit {
					ct, ok, err := redo.CommitTime(r)
					if err != nil {
						return err
					}
					if ok && target.LSN == 0 && ct > target.At.UnixMicro() {
						return stop
					}
					committed, t = true, ct
				}
				if !r.GroupEnd() {
					continue
				}
				pos := at + page.LSN(off)
				if target.LSN != 0 && pos > target.LSN {
					return stop
				}
				if committed {
					p.LSN, p.Commit, committed = pos, t, false
				}
			}
			return nil
		})
		if errors.Is(err, stop) {
			found = true
			break
		}
		if err != nil {
			return Point{}, err
		}
	}
	if base == nil && p.LSN == start {
		return Point{}, fmt.Errorf("%w: %s is before the first commit in the archive", ErrNotArchived, target)
	}
	if !found && target.LSN == 0 {
		return Point{}, fmt.Errorf("%w: %s may be after the archived log, which ends at %d (its last commit at %s)",
			ErrNotArchived, target, end, time.UnixMicro(p.Commit).UTC().Format("2006-01-02 15:04:05.000000 MST"))
	}
	p.Log = historyTo(log, p.LSN)
	return p, nil
}

// startFor returns where a point of target starts: the newest base on hist at or before it,
// or the log's first position (no base) when the archive holds the log from there.
func (s *Store) startFor(ctx context.Context, hist []Segment, target Target) (page.LSN, *Base, error) {
	var oldest *Base
	for i := len(hist) - 1; i >= 0; i-- {
		bases, err := s.Bases(ctx, hist[i].Timeline)
		if err != nil {
			return 0, nil, err
		}
		for j := len(bases) - 1; j >= 0; j-- {
			b := bases[j]
			if b.LSN < hist[i].Start || b.LSN > hist[i].End {
				continue
			}
			// A base is as of its position, taken after every commit below it: one taken by
			// the moment holds no commit after it.
			if (target.LSN != 0 && b.LSN <= target.LSN) || (target.LSN == 0 && !b.Created.After(target.At)) {
				return b.LSN, &b, nil
			}
			oldest = &b
		}
	}
	first := hist[0]
	if first.Timeline == 0 && first.Start == redo.StartLSN {
		chunks, err := s.LogChunks(ctx, 0)
		if err != nil {
			return 0, nil, err
		}
		if len(chunks) > 0 && chunks[0].Start == redo.StartLSN {
			return redo.StartLSN, nil, nil
		}
	}
	if oldest != nil {
		return 0, nil, fmt.Errorf("%w: %s is older than the archive's oldest base (at log position %d, taken %s)",
			ErrNotArchived, target, oldest.LSN, oldest.Created.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	return 0, nil, fmt.Errorf("%w: %s: the archive holds no base and not the log's beginning", ErrNotArchived, target)
}

// historyFrom returns the part of hist from position lsn on.
func historyFrom(hist []Segment, lsn page.LSN) []Segment {
	var out []Segment
	for _, s := range hist {
		if s.End <= lsn || s.End <= s.Start { // before lsn, or empty (a timeline with no log archived yet)
			continue
		}
		s.Start = max(s.Start, lsn)
		out = append(out, s)
	}
	return out
}

// historyTo returns the part of hist below position lsn.
func historyTo(hist []Segment, lsn page.LSN) []Segment {
	var out []Segment
	for _, s := range hist {
		if s.Start >= lsn {
			break
		}
		s.End = min(s.End, lsn)
		out = append(out, s)
	}
	return out
}
