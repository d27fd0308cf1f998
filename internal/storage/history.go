package storage

import (
	"context"
	"errors"

	"strata/internal/page"
)

// ErrBeforeHistory is wrapped by a TimeIndex error for a time older than the history the
// source keeps (or any time, when it has indexed no commit yet). The TimePoint returned with
// it still names the window the source holds.
var ErrBeforeHistory = errors.New("storage: time before the history window")

// TimePoint is where a time falls in the log. Times are microseconds since the Unix epoch, as
// commit records carry them (redo.CommitTime).
type TimePoint struct {
	// LSN is the log position as of the time asked: the end of the last group whose commit
	// time is at or before it (or the compaction floor, when that group ended below the floor
	// and no commit lies between the two: the committed state is the same there). It is a
	// group end; 0 with ErrBeforeHistory.
	LSN page.LSN
	// Oldest and Newest bound the times the source can answer for: the commit time of the
	// oldest commit still readable (pages at its position are kept) and of the newest commit
	// indexed. Both are 0 when nothing is indexed.
	Oldest, Newest int64
}

// TimeIndex maps commit times to log positions: the Page Stores keep the time of every
// commit they consume, for as long as they keep the page versions it needs (the history
// window).
type TimeIndex interface {
	// LSNAt returns where time at falls in the log, once the source has consumed the log up
	// to atLeast (it waits within ctx's deadline, as GetPage does): every commit whose time
	// is at or before at, and that ends at or below atLeast, is below the returned LSN.
	LSNAt(ctx context.Context, at int64, atLeast page.LSN) (TimePoint, error)
}

// CommitIndex is a TimeIndex that also finds commits by position.
type CommitIndex interface {
	TimeIndex
	// CommitAtOrBefore returns the end of the last commit that ends at or below lsn (its
	// LSN) and the window, or an error wrapping ErrBeforeHistory when that commit is not
	// kept (or none is indexed). It waits for the source to consume up to lsn.
	CommitAtOrBefore(ctx context.Context, lsn page.LSN) (TimePoint, error)
}
