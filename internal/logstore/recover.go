package logstore

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/redo"
)

// recover reads the state file, lists the segments, checks that they are contiguous, cuts the
// last one after its last whole valid record and opens it for writing. With no segments it
// creates the first one at redo.StartLSN.
func (s *Store) recover() error {
	st, err := readState(s.fs, s.dir)
	if err != nil {
		return err
	}
	s.c = core{promised: st.Promised, history: st.History, committed: st.Committed, start: redo.StartLSN}
	names, err := s.fs.List(s.dir)
	if err != nil {
		return fmt.Errorf("logstore: list %s: %w", s.dir, err)
	}
	type found struct {
		seg  *segment
		size int64
	}
	var segs []found
	for _, name := range names {
		path := s.fs.PathJoin(s.dir, name)
		if strings.HasSuffix(name, ".tmp") {
			if err := s.fs.Remove(path); err != nil {
				return fmt.Errorf("logstore: remove leftover %s: %w", path, err)
			}
			continue
		}
		start, ok := parseSegmentName(name)
		if !ok {
			continue
		}
		fi, err := s.fs.Stat(path)
		if err != nil {
			return fmt.Errorf("logstore: stat segment: %w", err)
		}
		if fi.IsDir() {
			return fmt.Errorf("logstore: segment %s is a directory", path)
		}
		segs = append(segs, found{&segment{start: start, path: path, index: []page.LSN{start}}, fi.Size()})
	}
	slices.SortFunc(segs, func(a, b found) int { return cmp.Compare(a.seg.start, b.seg.start) })
	if len(segs) == 0 {
		seg, f, err := createSegment(s.fs, s.dir, redo.StartLSN)
		if err != nil {
			return err
		}
		s.segs = []*segment{seg}
		s.w = writer{f: f, seg: seg}
		s.c.first, s.c.end, s.c.durable = redo.StartLSN, redo.StartLSN, redo.StartLSN
		s.c.completeEnd, s.c.syncedGroup = redo.StartLSN, redo.StartLSN
		return nil
	}
	for i, f := range segs {
		if f.seg.start < redo.StartLSN || uint64(f.size) > math.MaxUint64-uint64(f.seg.start) {
			return fmt.Errorf("logstore: segment %s: bad start or size %d", f.seg.path, f.size)
		}
		if i > 0 {
			prev := segs[i-1]
			if want := prev.seg.start + page.LSN(prev.size); f.seg.start != want {
				return fmt.Errorf("logstore: segment %s does not follow %s (%d bytes): want a segment starting at LSN %d",
					f.seg.path, prev.seg.path, prev.size, uint64(want))
			}
		}
		s.segs = append(s.segs, f.seg)
	}
	last := segs[len(segs)-1]
	keep, err := s.recoverLast(last.seg, last.size)
	if err != nil {
		return err
	}
	f, err := s.fs.OpenReadWrite(last.seg.path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("logstore: open segment for writing: %w", err)
	}
	// The bytes may have reached the file but not the disk before a crash of the process:
	// sync them before calling them durable.
	s.w = writer{f: f, seg: last.seg, off: keep, dirty: true}
	if err := s.w.sync(); err != nil {
		return err
	}
	end := last.seg.start + page.LSN(keep)
	s.c.first, s.c.end, s.c.durable = segs[0].seg.start, end, end
	ge, err := s.lastGroupEnd(end)
	if err != nil {
		s.logger.Warn("logstore: looking for the last complete group", "dir", s.dir, "err", err)
		ge = s.c.first
	}
	s.c.completeEnd, s.c.syncedGroup = ge, ge
	return nil
}

// recoverLast scans the last segment, checking every record, and cuts it after its last whole
// valid record, returning the size kept. Damage is logged with the file and offset and cut like
// a torn tail: the writer refills the store from its peers.
func (s *Store) recoverLast(seg *segment, size int64) (int64, error) {
	if size > math.MaxInt32*4 {
		return 0, fmt.Errorf("logstore: segment %s: size %d too large", seg.path, size)
	}
	data := make([]byte, size)
	if size > 0 {
		if err := seg.readAt(s.fs, data, 0); err != nil {
			_ = seg.closeReader()
			return 0, err
		}
	}
	if err := seg.closeReader(); err != nil {
		return 0, fmt.Errorf("logstore: close %s: %w", seg.path, err)
	}
	starts, _, n, err := scanRecords(data)
	for _, o := range starts {
		seg.addStarts([]page.LSN{seg.start + page.LSN(o)})
	}
	seg.indexed = true
	if err != nil {
		s.logger.Error("logstore: corrupt record in the last segment; cutting the log before it (peers will refill it)",
			"file", seg.path, "offset", n, "lsn", uint64(seg.start)+uint64(n), "err", err)
	} else if int64(n) < size {
		s.logger.Info("logstore: cutting an incomplete record off the last segment", "file", seg.path, "size", size, "cut", n)
	}
	if int64(n) == size {
		return size, nil
	}
	if err := cutFile(s.fs, s.dir, seg.path, int64(n)); err != nil {
		return 0, err
	}
	return int64(n), nil
}
