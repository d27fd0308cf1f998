package logstore

import (
	"context"
	"errors"
	"fmt"

	"strata/internal/page"
	"strata/internal/redo"
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
			s.mu.Unlock()
			return s.readRange(from, r, max)
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
			// The index covers the records before the damage; a read that reaches it fails below.
			s.logger.Error("logstore: corrupt segment", "file", seg.path, "err", err)
		}
	}
	hi := min(upTo, segEnd)
	rs := seg.floor(from)
	lim := min(hi, from+page.LSN(max))
	readEnd := min(hi, lim+redo.MaxRecord)
	buf := make([]byte, readEnd-rs)
	if err := seg.readAt(s.fs, buf, int64(rs-seg.start)); err != nil {
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
			s.logger.Error("logstore: corrupt record; refusing to serve it", "file", seg.path, "offset", fileOff, "lsn", uint64(lsn), "err", err)
			if lsn > from {
				break // serve the good bytes before it; the next read reports it
			}
			return nil, fmt.Errorf("%w: %s at offset %d (LSN %d): %w", ErrCorrupt, seg.path, fileOff, uint64(lsn), err)
		}
		off += n
	}
	good := rs + page.LSN(off)
	if good <= from && readEnd == upTo && upTo < segEnd {
		return nil, fmt.Errorf("%w: read limit %d is inside the record at %d", ErrInvalid, uint64(upTo), uint64(good))
	}
	if good <= from {
		return nil, fmt.Errorf("%w: %s: no whole record at LSN %d below %d", ErrCorrupt, seg.path, uint64(from), uint64(readEnd))
	}
	return buf[from-rs : min(lim, good)-rs], nil
}
