package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"strata/internal/meta"
	"strata/internal/page"
	"strata/internal/storage"
)

// TestBranchPoint: where a branch starts, for each way of naming it, and when it is void or
// must wait.
func TestBranchPoint(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	index := map[int64]page.LSN{now.Add(-time.Minute).UnixMicro(): 5000, now.Add(-time.Hour).UnixMicro(): 900}
	lsnAt := func(at int64) (storage.TimePoint, error) {
		if l, ok := index[at]; ok {
			return storage.TimePoint{LSN: l}, nil
		}
		if at == now.Add(-2*time.Minute).UnixMicro() {
			return storage.TimePoint{}, errors.New("no Page Store answered")
		}
		return storage.TimePoint{}, fmt.Errorf("before: %w", storage.ErrBeforeHistory)
	}
	commitAt := func(l page.LSN) (storage.TimePoint, error) {
		if l < 1000 {
			return storage.TimePoint{}, storage.ErrBeforeHistory
		}
		return storage.TimePoint{LSN: l - l%100}, nil // the last commit at or below l
	}
	snaps := []meta.Snapshot{{Name: "ready", LSN: 4200}, {Name: "old", LSN: 500}, {Name: "pending"}, {Name: "void", Error: "gone"}}
	for _, c := range []struct {
		name       string
		b          meta.Branch
		lsn        page.LSN
		void, wait string
	}{
		{"a moment", meta.Branch{At: now.Add(-time.Minute)}, 5000, "", ""},
		{"a moment below the horizon", meta.Branch{At: now.Add(-time.Hour)}, 0, "below the Page Stores' horizon", ""},
		{"a moment before the window", meta.Branch{At: now.Add(-24 * time.Hour)}, 0, "outside the history kept", ""},
		{"a moment to come", meta.Branch{At: now.Add(time.Second)}, 0, "", "not reached yet"},
		{"an index that does not answer", meta.Branch{At: now.Add(-2 * time.Minute)}, 0, "", "no Page Store answered"},
		{"a log position", meta.Branch{AtLSN: 4321}, 4300, "", ""},
		{"a log position beyond what is committed", meta.Branch{AtLSN: 9000}, 0, "beyond what is committed", ""},
		{"a log position before the window", meta.Branch{AtLSN: 500}, 0, "outside the history kept", ""},
		{"a snapshot", meta.Branch{Snapshot: "ready"}, 4200, "", ""},
		{"a snapshot below the horizon (retained)", meta.Branch{Snapshot: "old"}, 500, "", ""},
		{"a snapshot not fixed yet", meta.Branch{Snapshot: "pending"}, 0, "", "not fixed yet"},
		{"a void snapshot", meta.Branch{Snapshot: "void"}, 0, "is void: gone", ""},
		{"no such snapshot", meta.Branch{Snapshot: "nosuch"}, 0, "no snapshot nosuch", ""},
	} {
		lsn, void, wait := branchPoint(c.b, snaps, 8000, 1000, now, lsnAt, commitAt)
		if lsn != c.lsn || !matches(void, c.void) || !matches(wait, c.wait) {
			t.Errorf("%s: %d, void %v, wait %v; want %d, %q, %q", c.name, lsn, void, wait, c.lsn, c.void, c.wait)
		}
	}
}

func matches(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}

// retainedPositions: a timeline keeps its own snapshots and the branch points of the
// timelines made from it below its horizon, not those of other timelines.
func TestRetainedPositions(t *testing.T) {
	snaps := []meta.Snapshot{{Name: "old", LSN: 300, Timeline: 0}, {Name: "new", LSN: 5000, Timeline: 2}, {Name: "pending"}}
	timelines := []meta.Branch{
		{Name: "before", Timeline: 0, LSN: 64},         // the first main database, kept after a restore
		{Name: "", Timeline: 2, Base: 0, LSN: 1000},    // the main database, restored to 1000 of timeline 0
		{Name: "dev", Timeline: 3, Base: 2, LSN: 4000}, // a branch of it
		{Name: "gone", Timeline: 4, Base: 0, Retired: true, LSN: 2000},
	}
	for _, c := range []struct {
		tl   uint64
		h    page.LSN
		want []page.LSN
	}{
		{0, 9000, []page.LSN{300, 1000, 2000}},
		{0, 1500, []page.LSN{300, 1000}},
		{2, 9000, []page.LSN{4000, 5000}},
		{2, 3000, nil},
		{3, 9000, nil}, // nothing is made from dev
	} {
		if got := retainedPositions(c.h, c.tl, snaps, timelines); !slices.Equal(got, c.want) {
			t.Errorf("timeline %d, horizon %d: %v, want %v", c.tl, c.h, got, c.want)
		}
	}
	vis := visibleSnapshots([]meta.Snapshot{{Name: "a", LSN: 900, Timeline: 0}, {Name: "b", LSN: 1100, Timeline: 0}}, 2, timelines)
	if vis[0].LSN != 900 || vis[1].LSN != 0 || vis[1].Error == "" {
		t.Errorf("snapshots as the restored main database sees them: %+v", vis)
	}
}
