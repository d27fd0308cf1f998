package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"strata/internal/page"
	"strata/internal/redo"
)

// Timelines in the archive. The main database is a timeline (timeline 0 at first; a
// point-in-time restore makes a branch of it the main database, docs/history.md), and its
// history runs through the timelines it was made from: timeline 0 from the first log position
// to the branch point of the next, and so on. The main database's writer records, before it
// archives a timeline's log, the timeline ("timelines/<n>": its base and branch point) and
// that it is the main database's ("main"); a rebuild follows the chain from "main".

// Timeline is a timeline as the archive records it.
type Timeline struct {
	Timeline uint64   `json:"timeline"`
	Base     uint64   `json:"base"`  // the timeline it was made from (itself for timeline 0)
	Start    page.LSN `json:"start"` // where its log starts: its branch point
}

const mainKey = "main"

func timelineKey(tl uint64) string { return "timelines/" + strconv.FormatUint(tl, 10) }

// RecordTimeline records timeline t (its base and branch point).
func (s *Store) RecordTimeline(ctx context.Context, t Timeline) error {
	_, err := s.recordTimeline(ctx, t)
	return err
}

func (s *Store) recordTimeline(ctx context.Context, t Timeline) ([]byte, error) {
	if t.Timeline == 0 {
		t.Base, t.Start = 0, redo.StartLSN
	}
	b, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	return b, s.Put(ctx, timelineKey(t.Timeline), bytes.NewReader(b), int64(len(b)))
}

// RecordMain records timeline t, and that it is the main database's.
func (s *Store) RecordMain(ctx context.Context, t Timeline) error {
	b, err := s.recordTimeline(ctx, t)
	if err != nil {
		return err
	}
	return s.Put(ctx, mainKey, bytes.NewReader(b), int64(len(b)))
}

// Segment is the part of one timeline's log in a database's history: [Start, End).
type Segment struct {
	Timeline   uint64
	Start, End page.LSN
}

// MainHistory returns the main database's history in the archive: for each timeline from
// timeline 0 to the main one, the part of its log that is the main database's, up to the end
// of the archived log. ErrNotFound when the archive holds no main database.
func (s *Store) MainHistory(ctx context.Context) ([]Segment, error) {
	return s.history(ctx, mainKey)
}

// HistoryOf returns the history of timeline tl in the archive, as MainHistory does the main
// database's: each timeline's part, from timeline 0 to tl, up to the end of tl's archived log.
func (s *Store) HistoryOf(ctx context.Context, tl uint64) ([]Segment, error) {
	return s.history(ctx, timelineKey(tl))
}

// history returns the history of the timeline recorded under key.
func (s *Store) history(ctx context.Context, key string) ([]Segment, error) {
	var t Timeline
	b, err := s.GetAll(ctx, key, 4096)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("archive: malformed %s: %w", key, err)
	}
	chain := []Timeline{t}
	for t.Timeline != 0 {
		if len(chain) > 1000 {
			return nil, errors.New("archive: the timelines loop")
		}
		b, err := s.GetAll(ctx, timelineKey(t.Base), 4096)
		if err != nil {
			return nil, fmt.Errorf("archive: timeline %d's base: %w", t.Timeline, err)
		}
		var base Timeline
		if err := json.Unmarshal(b, &base); err != nil {
			return nil, fmt.Errorf("archive: malformed %s: %w", timelineKey(t.Base), err)
		}
		chain = append(chain, base)
		t = base
	}
	var out []Segment
	for i := len(chain) - 1; i >= 0; i-- {
		chunks, err := s.LogChunks(ctx, chain[i].Timeline)
		if err != nil {
			return nil, err
		}
		seg := Segment{Timeline: chain[i].Timeline, Start: chain[i].Start, End: chain[i].Start}
		if n := len(chunks); n > 0 {
			seg.End = chunks[n-1].End
		}
		if i > 0 { // the next timeline was made at its start
			next := chain[i-1].Start
			if seg.End < next {
				return nil, fmt.Errorf("archive: timeline %d's log ends at %d, below the point %d timeline %d was made at: %w",
					seg.Timeline, seg.End, next, chain[i-1].Timeline, ErrNotFound)
			}
			seg.End = next
		}
		out = append(out, seg)
	}
	return out, nil
}
