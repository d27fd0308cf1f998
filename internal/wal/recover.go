package wal

import (
	"errors"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/segfile"
)

// recover lists the segments, checks that they are contiguous, cuts the last one after its
// last complete group and opens it for writing. With no segments it creates the first one at
// redo.StartLSN.
func (l *Log) recover() error {
	segs, err := segfile.List(l.fs, l.dir, segmentSuffix, segmentSuffix+tmpSuffix)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	if len(segs) == 0 {
		s, f, err := createSegment(l.fs, l.dir, redo.StartLSN)
		if err != nil {
			return err
		}
		l.fsyncs.Add(1)
		l.segs = []*segment{s}
		l.w = writer{f: f, seg: s}
		l.setRecovered(redo.StartLSN, redo.StartLSN)
		return nil
	}
	for _, f := range segs {
		l.segs = append(l.segs, &segment{start: f.Start, path: f.Path})
	}
	last := l.segs[len(l.segs)-1]
	keep, err := l.recoverLast(last, segs[len(segs)-1].Size)
	if err != nil {
		return err
	}
	f, err := l.fs.OpenReadWrite(last.path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("wal: open segment for writing: %w", err)
	}
	l.w = writer{f: f, seg: last, off: keep, dirty: true}
	// The bytes may have reached the file but not the disk before a crash of the process: make
	// them durable before calling them so.
	if err := l.sync(); err != nil {
		return err
	}
	end := last.start + page.LSN(keep)
	l.setRecovered(end, last.start)
	if keep >= l.segSize {
		l.rolls = []page.LSN{end}
		l.segStart = end
	}
	return nil
}

// setRecovered sets the log's positions after recovery.
func (l *Log) setRecovered(end, segStart page.LSN) {
	l.recovered = end
	l.end.Store(uint64(end))
	l.durable.Store(uint64(end))
	l.flushed = end
	l.segStart = segStart
	l.first.Store(uint64(l.segs[0].start))
}

// recoverLast scans the last segment and cuts it after its last complete group, returning the
// size kept. A corrupt record is logged as a warning and cut like an incomplete tail.
func (l *Log) recoverLast(s *segment, size int64) (int64, error) {
	if size == 0 {
		return 0, nil
	}
	if size > math.MaxInt {
		return 0, fmt.Errorf("wal: segment %s: size %d too large", s.path, size)
	}
	data := make([]byte, size)
	if err := s.readAt(l.fs, data, 0); err != nil {
		_ = s.closeReader()
		return 0, err
	}
	if err := s.closeReader(); err != nil {
		return 0, fmt.Errorf("wal: close %s: %w", s.path, err)
	}
	next := 0 // offset just past the last decoded record
	keep, err := redo.Scan(data, func(off int, r redo.Record) error {
		next = off + r.Size()
		return nil
	})
	if err != nil {
		if !errors.Is(err, redo.ErrCorrupt) {
			return 0, fmt.Errorf("wal: scan %s: %w", s.path, err)
		}
		// Unsynced writes can reach the disk out of order, so after a crash a hole of lost
		// bytes may be followed by valid records that were never durable (never acknowledged):
		// that looks exactly like damage in the middle of the log. A single local log cannot
		// tell the two apart, so it keeps the prefix, as every single-copy log does, and says
		// loudly what follows. The replicated Log Store repairs such damage from its peers.
		var after []any
		if at, ok := validRecordAfter(data, next+1); ok {
			after = []any{"valid_records_from_offset", at}
		}
		l.logger.Warn("wal: corrupt record in the last segment; cutting the log at the last complete group before it",
			append([]any{"file", s.path, "offset", next, "lsn", uint64(s.start) + uint64(next), "cut", keep, "err", err}, after...)...)
	}
	if keep == len(data) {
		return size, nil
	}
	if err == nil {
		l.logger.Info("wal: cutting an incomplete tail off the last segment",
			"file", s.path, "size", size, "cut", keep)
	}
	if err := l.cut(s.path, data[:keep]); err != nil {
		return 0, err
	}
	return int64(keep), nil
}

// cut makes the file at path hold exactly keep, its prefix, durably: by truncating it where the
// file supports that, otherwise by writing keep to a temporary file renamed over it.
func (l *Log) cut(path string, keep []byte) error {
	f, err := l.fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("wal: open %s to cut it: %w", path, err)
	}
	if t, ok := f.(interface{ Truncate(int64) error }); ok {
		err := t.Truncate(int64(len(keep)))
		if err == nil {
			err = f.Sync()
			l.fsyncs.Add(1)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("wal: cut %s at %d: %w", path, len(keep), err)
		}
		return nil
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("wal: close %s: %w", path, err)
	}

	tmp := path + tmpSuffix
	t, err := l.fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("wal: cut %s: %w", path, err)
	}
	if len(keep) > 0 {
		var n int
		n, err = t.WriteAt(keep, 0)
		if err == nil && n < len(keep) {
			err = fmt.Errorf("short write of %d bytes of %d", n, len(keep))
		}
	}
	if err == nil {
		err = t.Sync()
		l.fsyncs.Add(1)
	}
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = l.fs.Rename(tmp, path)
	}
	if err != nil {
		_ = l.fs.Remove(tmp)
		return fmt.Errorf("wal: cut %s at %d: %w", path, len(keep), err)
	}
	l.fsyncs.Add(1)
	return syncDir(l.fs, l.dir)
}

// validRecordAfter reports whether a record with a valid length and CRC starts anywhere in
// data at or after from.
func validRecordAfter(data []byte, from int) (int, bool) {
	for off := from; off+redo.HeaderSize <= len(data); off++ {
		if _, _, err := redo.Decode(data[off:]); err == nil {
			return off, true
		}
	}
	return 0, false
}
