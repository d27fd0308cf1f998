package logstore

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/logapi"
	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/segfile"
)

// recover reads the state file, lists the segments, checks that they are contiguous, cuts the
// last one after its last whole valid record and opens it for writing. With no segments it
// creates the first one at the log's start: redo.StartLSN, or where StartAt restarted the log.
// Segments below that start are what an interrupted StartAt had not removed yet: they go now.
func (s *Store) recover() error {
	st, err := readState(s.fs, s.dir)
	if err != nil {
		return err
	}
	start := redo.StartLSN
	if st.Start > start {
		start = st.Start
	}
	s.c = core{promised: st.Promised, history: st.History, committed: st.Committed, start: start, fillTo: st.FillTo}
	segs, err := segfile.List(s.fs, s.dir, segmentSuffix, ".tmp")
	if err != nil {
		return fmt.Errorf("logstore: %w", err)
	}
	if segs, err = s.removeBelow(segs, start); err != nil {
		return err
	}
	if len(segs) == 0 {
		seg, f, err := createSegment(s.fs, s.dir, start)
		if err != nil {
			return err
		}
		s.segs = []*segment{seg}
		s.w = writer{f: f, seg: seg}
		s.c.first, s.c.end, s.c.durable = start, start, start
		s.c.completeEnd, s.c.syncedGroup = start, start
		return nil
	}
	for _, f := range segs {
		if f.Start < start {
			return fmt.Errorf("logstore: segment %s starts at %d, before the log's start %d", f.Path, f.Start, start)
		}
		s.segs = append(s.segs, &segment{start: f.Start, path: f.Path, index: []page.LSN{f.Start}})
	}
	last := s.segs[len(s.segs)-1]
	keep, alloc, bad, err := s.recoverLast(last, segs[len(segs)-1].Size, st.Synced)
	if err != nil {
		return err
	}
	f, err := s.fs.OpenReadWrite(last.path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("logstore: open segment for writing: %w", err)
	}
	// The bytes may have reached the file but not the disk before a crash of the process:
	// sync them before calling them durable.
	s.w = writer{f: f, seg: last, off: keep, alloc: alloc, dirty: true}
	if err := s.w.sync(); err != nil {
		return err
	}
	end := last.start + page.LSN(keep)
	s.c.first, s.c.end, s.c.durable = segs[0].Start, end, end
	rewrite := st.Synced != end
	if s.c.fillTo != 0 && end >= s.c.fillTo {
		s.c.fillTo, st.FillTo, rewrite = 0, 0, true // filled before the restart
	}
	ge, err := s.lastGroupEnd(end)
	if err != nil {
		// Damage hides the last group end: recovery must not rely on this store's complete end
		// until the damage is repaired (see core.groupUnsure).
		s.logger.Warn("logstore: looking for the last complete group", "dir", s.dir, "err", err)
		ge, s.c.groupUnsure = s.c.first, true
	}
	s.c.completeEnd, s.c.syncedGroup = ge, ge
	if bad < end {
		s.c.markDamaged(logapi.Span{Lo: bad, Hi: end})
		last.addBoundary(end) // appends and reads go on from the end, past the damage
	}
	if rewrite {
		// Everything up to end is synced now (the sync above): later damage below it is rot.
		st.Synced = end
		if err := writeState(s.fs, s.dir, st); err != nil {
			return err
		}
	}
	return nil
}

// removeBelow removes the segments that start before start, left by a StartAt that a crash
// interrupted after it wrote the state file: the log they held lay wholly below start (StartAt
// refuses otherwise). It returns the other segments.
func (s *Store) removeBelow(segs []segfile.Found, start page.LSN) ([]segfile.Found, error) {
	k := 0
	for k < len(segs) && segs[k].Start < start {
		k++
	}
	if k == 0 {
		return segs, nil
	}
	for _, f := range segs[:k] {
		if err := s.fs.Remove(f.Path); err != nil {
			return nil, fmt.Errorf("logstore: remove segment %s below the log's start %d: %w", f.Path, uint64(start), err)
		}
	}
	if err := syncDir(s.fs, s.dir); err != nil {
		return nil, err
	}
	s.logger.Info("logstore: removed the segments below the log's start, left by an interrupted restart of the log",
		"dir", s.dir, "start", uint64(start), "segments", k)
	return segs[k:], nil
}

// recoverLast scans the last segment, checking every record, and returns the size to keep, the
// file's size afterwards and the LSN of the first damaged record kept (the end of the kept bytes
// if none). The segment being written is preallocated: zeros from the last whole valid record to
// the end of the file are its clean end, and they stay. Whatever else follows the last whole
// valid record is a torn tail if it lies beyond synced, what the state file says was synced: it
// is cut (so that no stale record can follow the bytes written next), and the writer refills the
// store from its peers. A damaged record below
// synced cannot be a torn write: it is bit rot in bytes this store may have acknowledged, so the
// segment is kept up to synced (the records after the damage cannot be found without the
// damaged one's length, so nothing beyond synced is kept) and the damaged range is repaired from
// a peer. Damage is logged with the file and offset either way.
func (s *Store) recoverLast(seg *segment, size int64, synced page.LSN) (keep, alloc int64, bad page.LSN, err error) {
	if size > math.MaxInt32*4 {
		return 0, 0, 0, fmt.Errorf("logstore: segment %s: size %d too large", seg.path, size)
	}
	data := make([]byte, size)
	if size > 0 {
		if err := seg.readAt(s.fs, data, 0); err != nil {
			_ = seg.closeReader()
			return 0, 0, 0, err
		}
	}
	if err := seg.closeReader(); err != nil {
		return 0, 0, 0, fmt.Errorf("logstore: close %s: %w", seg.path, err)
	}
	starts, _, n, err := scanRecords(data)
	for _, o := range starts {
		seg.addStarts([]page.LSN{seg.start + page.LSN(o)})
	}
	seg.indexed = true
	if err != nil && allZero(data[n:]) {
		err = nil // the preallocated zeros after the last record
	}
	keep = int64(n)
	bad = seg.start + page.LSN(n)
	rot := synced > bad && synced <= seg.start+page.LSN(size)
	switch {
	case rot:
		keep = int64(synced - seg.start)
		s.logger.Error("logstore: corrupt record in synced bytes of the last segment; refusing it until repaired from a peer",
			"file", seg.path, "offset", n, "lsn", uint64(bad), "synced", uint64(synced), "err", err)
	case err != nil:
		s.logger.Error("logstore: corrupt record in the unsynced tail of the last segment; cutting the log before it (the writer refills it)",
			"file", seg.path, "offset", n, "lsn", uint64(bad), "synced", uint64(synced), "err", err)
	case !allZero(data[n:]):
		s.logger.Info("logstore: cutting an incomplete record off the last segment", "file", seg.path, "size", size, "cut", n)
	}
	if allZero(data[keep:]) {
		return keep, size, bad, nil
	}
	if err := cutFile(s.fs, s.dir, seg.path, keep); err != nil {
		return 0, 0, 0, err
	}
	return keep, keep, bad, nil
}

// allZero reports whether b holds only zero bytes.
func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
