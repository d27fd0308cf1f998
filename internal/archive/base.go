package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"strata/internal/page"
	"strata/internal/storage"
)

// Page images in the archive. A base is every page of a timeline as of a log position L (a
// group end), one object per segment under "base/<timeline>/<L>/seg-<segment>" (the segment's
// pages, 16 KiB each, in page order), and a manifest "base/<timeline>/<L>/manifest" written
// last: a base without its manifest is incomplete and ignored. A rebuild starts from the
// newest base on the main database's history and replays only the log after it; the log
// before the oldest base kept may go.

// Base is a complete base: its manifest.
type Base struct {
	Timeline     uint64        `json:"timeline"`
	LSN          page.LSN      `json:"lsn"`
	SegmentPages uint64        `json:"segment_pages"` // pages a segment spans (0: one segment)
	Segments     []BaseSegment `json:"segments"`
	Created      time.Time     `json:"created"`
}

// Pages returns how many pages the base holds.
func (b Base) Pages() int {
	n := 0
	for _, s := range b.Segments {
		n += s.Pages
	}
	return n
}

// BaseSegment is one segment of a base.
type BaseSegment struct {
	Segment uint64 `json:"segment"`
	Pages   int    `json:"pages"`
}

func baseDir(tl uint64, lsn page.LSN) string { return fmt.Sprintf("base/%d/%016x/", tl, uint64(lsn)) }

func baseSegmentKey(tl uint64, lsn page.LSN, seg uint64) string {
	return baseDir(tl, lsn) + fmt.Sprintf("seg-%016x", seg)
}

// PutBaseSegment stores the pages of segment seg of the base of timeline tl at lsn.
func (s *Store) PutBaseSegment(ctx context.Context, tl uint64, lsn page.LSN, seg uint64, pages []byte) error {
	if len(pages)%page.Size != 0 {
		return fmt.Errorf("archive: base segment %d of %d bytes is not whole pages", seg, len(pages))
	}
	return s.Put(ctx, baseSegmentKey(tl, lsn, seg), bytes.NewReader(pages), int64(len(pages)))
}

// PutBase completes base b: its manifest. Its segments must be stored before.
func (s *Store) PutBase(ctx context.Context, b Base) error {
	v, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return s.Put(ctx, baseDir(b.Timeline, b.LSN)+"manifest", bytes.NewReader(v), int64(len(v)))
}

// Bases returns timeline tl's complete bases, oldest first.
func (s *Store) Bases(ctx context.Context, tl uint64) ([]Base, error) {
	var keys []string
	err := s.List(ctx, fmt.Sprintf("base/%d/", tl), func(info Info) error {
		if strings.HasSuffix(info.Key, "/manifest") {
			keys = append(keys, info.Key)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []Base
	for _, k := range keys {
		v, err := s.GetAll(ctx, k, 1<<20)
		if err != nil {
			return nil, err
		}
		var b Base
		if err := json.Unmarshal(v, &b); err != nil {
			return nil, fmt.Errorf("archive: malformed %s: %w", k, err)
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LSN < out[j].LSN })
	return out, nil
}

// DeleteBase deletes base b, its manifest first (so that it is never taken as complete
// without all its segments).
func (s *Store) DeleteBase(ctx context.Context, b Base) error {
	dir := baseDir(b.Timeline, b.LSN)
	if err := s.Delete(ctx, dir+"manifest"); err != nil {
		return err
	}
	var keys []string
	if err := s.List(ctx, dir, func(info Info) error { keys = append(keys, info.Key); return nil }); err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// DeleteLogBelow deletes timeline tl's log chunks that end at or below lsn.
func (s *Store) DeleteLogBelow(ctx context.Context, tl uint64, lsn page.LSN) (int, error) {
	chunks, err := s.LogChunks(ctx, tl)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range chunks {
		if c.End > lsn {
			break
		}
		if err := s.Delete(ctx, c.Key); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// BaseSource is a segment source (pagestore.SegmentSource) over a base: a Page Store being
// rebuilt from the archive copies its segments as of the base's position from it.
type BaseSource struct {
	Store *Store
	Base  Base
}

// CopySegment sends every page of segment seg as of lsn, which must be the base's position
// (any other is storage.ErrCompacted: the archive holds no other).
func (b BaseSource) CopySegment(ctx context.Context, seg uint64, lsn page.LSN, pages func(n int), emit func(*page.Page) error) error {
	if lsn != b.Base.LSN {
		return fmt.Errorf("archive: its base is at %d, not %d: %w", b.Base.LSN, lsn, storage.ErrCompacted)
	}
	n := -1
	for _, s := range b.Base.Segments {
		if s.Segment == seg {
			n = s.Pages
		}
	}
	if n < 0 {
		pages(0) // a segment the base has no page of
		return nil
	}
	pages(n)
	v, err := b.Store.GetAll(ctx, baseSegmentKey(b.Base.Timeline, b.Base.LSN, seg), int64(n)*page.Size)
	if err != nil {
		return err
	}
	if len(v) != n*page.Size {
		return fmt.Errorf("archive: base segment %d holds %d bytes, not %d pages: %w", seg, len(v), n, ErrDamaged)
	}
	for off := 0; off < len(v); off += page.Size {
		p := (*page.Page)(v[off : off+page.Size])
		if err := p.Verify(); err != nil {
			return fmt.Errorf("archive: base segment %d, page at %d: %w", seg, off/page.Size, err)
		}
		if err := emit(p); err != nil {
			return err
		}
	}
	return nil
}

// UsedSegments lists the base's segments.
func (b BaseSource) UsedSegments(context.Context) ([]uint64, error) {
	out := make([]uint64, 0, len(b.Base.Segments))
	for _, s := range b.Base.Segments {
		out = append(out, s.Segment)
	}
	return out, nil
}

// Plan is how to rebuild the main database from the archive: from Base, when there is one
// (its pages, then the log after it), else from the whole log; History is the log to replay,
// each timeline's part, from Base's position on.
type Plan struct {
	Base    *Base
	History []Segment
}

// Start is where the rebuilt log starts.
func (p Plan) Start() page.LSN {
	if p.Base != nil {
		return p.Base.LSN
	}
	if len(p.History) > 0 {
		return p.History[0].Start
	}
	return 0
}

// End is where the rebuilt log ends: the last archived commit.
func (p Plan) End() page.LSN {
	if n := len(p.History); n > 0 {
		return p.History[n-1].End
	}
	return p.Start()
}

// RebuildPlan decides how to rebuild the main database: from the newest complete base on its
// history (a base of one of its timelines, within that timeline's part of the history), else
// from the log alone.
func (s *Store) RebuildPlan(ctx context.Context) (Plan, error) {
	hist, err := s.MainHistory(ctx)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{History: hist}
	for i := len(hist) - 1; i >= 0 && p.Base == nil; i-- {
		bases, err := s.Bases(ctx, hist[i].Timeline)
		if err != nil {
			return Plan{}, err
		}
		for j := len(bases) - 1; j >= 0; j-- {
			if b := bases[j]; b.LSN >= hist[i].Start && b.LSN <= hist[i].End {
				p.Base = &b
				p.History = append([]Segment{{Timeline: hist[i].Timeline, Start: b.LSN, End: hist[i].End}}, hist[i+1:]...)
				break
			}
		}
	}
	return p, nil
}
