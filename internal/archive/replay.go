package archive

import (
	"context"
	"fmt"

	"strata/internal/page"
	"strata/internal/redo"
)

// LogWriter is a log that archived log is copied into: a writer's log on the Log Stores
// (logclient.Log).
type LogWriter interface {
	End() page.LSN
	Append(b []byte, complete bool) (start, end page.LSN, err error)
	WaitDurable(ctx context.Context, lsn page.LSN) error
}

// copyPiece is how much log CopyLog appends at a time (whole groups).
const copyPiece = 4 << 20

// CopyLog appends the archived log of hist (each timeline's part, in order, as MainHistory
// returns it) to w from w's end on, whole groups at a time: the part of hist below w's end is
// in w already (a copy that stopped goes on where it stopped). Each chunk is durable on w
// before the next is read. progress, when set, is told of every byte appended; commit of the
// time of every commit record met.
func (s *Store) CopyLog(ctx context.Context, hist []Segment, w LogWriter, progress func(n int64), commit func(micros int64)) error {
	for _, seg := range hist {
		from := w.End()
		if seg.End <= from {
			continue
		}
		if seg.Start > from {
			return fmt.Errorf("archive: timeline %d's log from %d does not follow the log copied to %d", seg.Timeline, seg.Start, from)
		}
		err := s.ScanLog(ctx, seg.Timeline, from, seg.End, func(at page.LSN, b []byte) error {
			if w.End() != at {
				return fmt.Errorf("archive: timeline %d's log at %d does not follow the log copied to %d", seg.Timeline, at, w.End())
			}
			for len(b) > 0 {
				n, err := redo.Scan(b[:min(len(b), copyPiece)], func(_ int, r redo.Record) error {
					if r.Type == redo.TCommit && commit != nil {
						if t, ok, err := redo.CommitTime(r); err == nil && ok {
							commit(t)
						}
					}
					return nil
				})
				if err == nil && n == 0 { // one group larger than a piece
					n, err = redo.Scan(b, nil)
				}
				if err != nil {
					return fmt.Errorf("archive: timeline %d's log at %d: %w", seg.Timeline, at, err)
				}
				if n == 0 {
					return fmt.Errorf("archive: timeline %d's log at %d ends inside a group", seg.Timeline, at)
				}
				if _, _, err := w.Append(b[:n], true); err != nil {
					return err
				}
				b, at = b[n:], at+page.LSN(n)
				if progress != nil {
					progress(int64(n))
				}
			}
			return w.WaitDurable(ctx, w.End())
		})
		if err != nil {
			return err
		}
	}
	return nil
}
