package logstore

import (
	"context"
	"errors"
	"fmt"

	"strata/internal/logapi"
	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/segfile"
)

// Read returns synced bytes starting at from, at most max of them, blocking until at least one
// is readable or ctx ends. With limit 0 only bytes below the committed LSN (what the writer
// knows is on a quorum) are readable: Page Stores and read-only nodes read that way. A writer
// reading its own log passes its durable LSN as limit. Every record the returned bytes touch
// is checked (length and CRC); the bytes may end inside a record.
func (s *Store) Read(ctx context.Context, from page.LSN, max int, limit page.LSN) ([]byte, error) {
	if max <= 0 {
		return nil, fmt.Errorf("%w: read of %d bytes", ErrInvalid, max)
	}
	for {
		s.mu.Lock()
		if err := s.usable(); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		if from < s.c.first {
			first := s.c.first
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: read from %d, first is %d", ErrTruncated, from, first)
		}
		if r := s.c.readable(limit); r > from {
			r, bad := s.c.servable(from, r)
			s.mu.Unlock()
			if bad != nil {
				return nil, s.damagedErr(*bad)
			}
			b, err := s.readRange(from, r, max)
			var de *damageError
			if errors.As(err, &de) {
				s.reportDamage(de)
			}
			return b, err
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// readRange reads from [from, upTo), at most max bytes and not past the segment holding from,
// checking each record.
func (s *Store) readRange(from, upTo page.LSN, max int) ([]byte, error) {
	s.segMu.RLock()
	i := len(s.segs) - 1
	for i >= 0 && s.segs[i].start > from {
		i--
	}
	if i < 0 {
		s.segMu.RUnlock()
		return nil, fmt.Errorf("%w: read from %d", ErrTruncated, from)
	}
	seg, last := s.segs[i], i == len(s.segs)-1
	segEnd := upTo
	if !last {
		segEnd = s.segs[i+1].start
	}
	s.segMu.RUnlock()
	if !last {
		if err := seg.buildIndex(s.fs, int64(segEnd-seg.start)); err != nil {
			var de *damageError
			if !errors.As(err, &de) {
				return nil, err
			}
			// The index covers the records before the damage; a read that reaches it fails below.
			s.reportDamage(de)
		}
	}
	end := segEnd // where a damaged range of this segment ends (0: the store's durable end)
	if last {
		end = 0
	}
	hi := min(upTo, segEnd)
	rs := seg.floor(from)
	lim := min(hi, from+page.LSN(max))
	readEnd := min(hi, lim+redo.MaxRecord)
	buf := make([]byte, readEnd-rs)
	if err := seg.readAt(s.fs, buf, int64(rs-seg.start)); err != nil {
		if errors.Is(err, segfile.ErrRetired) {
			// Truncated (or cut, or restarted) since the segment was looked up.
			return nil, fmt.Errorf("%w: read from %d: %w", ErrTruncated, from, err)
		}
		return nil, err
	}
	off := 0
	for rs+page.LSN(off) < lim {
		_, n, err := redo.Decode(buf[off:])
		if errors.Is(err, redo.ErrShort) {
			break
		}
		if err != nil {
			fileOff := int64(rs-seg.start) + int64(off)
			lsn := rs + page.LSN(off)
			de := &damageError{path: seg.path, off: fileOff, lsn: lsn, end: end, err: err}
			if lsn > from {
				s.reportDamage(de)
				break // serve the good bytes before it; the next read refuses the rest
			}
			return nil, de
		}
		off += n
	}
	good := rs + page.LSN(off)
	if good <= from && readEnd == upTo && upTo < segEnd {
		return nil, fmt.Errorf("%w: read limit %d is inside the record at %d", ErrInvalid, uint64(upTo), uint64(good))
	}
	if good <= from {
		return nil, &damageError{path: seg.path, off: int64(good - seg.start), lsn: good, end: end,
			err: fmt.Errorf("%w: no whole record at LSN %d below %d", redo.ErrCorrupt, uint64(from), uint64(readEnd))}
	}
	return buf[from-rs : min(lim, good)-rs], nil
}

// reportDamage logs a damaged record and records the range from it to the end of its segment
// (or to the durable end, in the segment being written) as damaged: reads refuse it and the
// repair goroutine copies it back from a peer.
func (s *Store) reportDamage(de *damageError) {
	s.mu.Lock()
	end := de.end
	if end == 0 {
		end = s.c.durable
	}
	added := s.c.markDamaged(logapi.Span{Lo: de.lsn, Hi: end})
	s.mu.Unlock()
	if !added {
		return
	}
	if seg, _ := s.segmentAt(end); seg != nil && seg.start < end {
		seg.addBoundary(end) // end is a record start: reads after the damage begin there
	}
	s.logger.Error("logstore: corrupt record; refusing to serve it until it is repaired from a peer",
		"file", de.path, "offset", de.off, "lsn", uint64(de.lsn), "range_end", uint64(end), "err", de.err)
	s.wakeRepair()
}

// damagedErr is the error for a read of the damaged span sp: it names the file and offset.
func (s *Store) damagedErr(sp logapi.Span) error {
	seg, _ := s.segmentAt(sp.Lo)
	if seg == nil {
		return fmt.Errorf("%w: LSN %d (range %v, being repaired)", ErrCorrupt, uint64(sp.Lo), sp)
	}
	return fmt.Errorf("%w: %s at offset %d (LSN %d; range %v refused until repaired from a peer)",
		ErrCorrupt, seg.path, int64(sp.Lo-seg.start), uint64(sp.Lo), sp)
}

// segmentAt returns the segment holding lsn and where it ends (0 for the segment being written).
func (s *Store) segmentAt(lsn page.LSN) (*segment, page.LSN) {
	s.segMu.RLock()
	defer s.segMu.RUnlock()
	for i := len(s.segs) - 1; i >= 0; i-- {
		if s.segs[i].start <= lsn {
			if i+1 < len(s.segs) {
				return s.segs[i], s.segs[i+1].start
			}
			return s.segs[i], 0
		}
	}
	return nil, 0
}
