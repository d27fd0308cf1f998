package wal

import (
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/segfile"
)

// segmentSuffix ends the name of every segment file; the name before it is the segment's start
// LSN in 20 decimal digits.
const segmentSuffix = ".log"

// tmpSuffix ends the name of a file being rewritten by recovery; such files are removed at open.
const tmpSuffix = ".tmp"

// segment is one file of the log. It holds the bytes [start, next segment's start), or up to
// Durable for the last segment.
type segment struct {
	start page.LSN
	path  string
	h     segfile.ReadHandle // opened on first read
}

// segmentName returns the file name of the segment starting at start.
func segmentName(start page.LSN) string { return segfile.Name(start, segmentSuffix) }

// parseSegmentName returns the start LSN of a segment file name, or false if name does not name
// a segment.
func parseSegmentName(name string) (page.LSN, bool) { return segfile.ParseName(name, segmentSuffix) }

// readAt fills p from the segment at offset off within the file.
func (s *segment) readAt(fs vfs.FS, p []byte, off int64) error {
	if err := s.h.ReadAt(fs, s.path, p, off); err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	return nil
}

// closeReader closes the cached read handle, if any.
func (s *segment) closeReader() error { return s.h.Close() }

// writer is the flusher's handle on the segment being written.
type writer struct {
	f     vfs.File
	seg   *segment
	off   int64 // bytes in the file
	dirty bool  // bytes written since the last sync
}

// write appends p to the segment file.
func (w *writer) write(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	w.dirty = true
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("wal: write %s at offset %d: %w", w.seg.path, w.off, err)
	}
	return nil
}

// sync makes the written bytes durable. It reports whether it issued an fsync.
func (w *writer) sync() (bool, error) {
	if !w.dirty {
		return false, nil
	}
	if err := w.f.SyncData(); err != nil {
		return true, fmt.Errorf("wal: sync %s: %w", w.seg.path, err)
	}
	w.dirty = false
	return true, nil
}

// close closes the writer's file.
func (w *writer) close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// syncDir makes the creation, renaming or removal of files in dir durable.
func syncDir(fs vfs.FS, dir string) error {
	if err := segfile.SyncDir(fs, dir); err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	return nil
}

// createSegment creates the empty segment file starting at start and makes its creation
// durable. It returns the segment and a handle for writing it.
func createSegment(fs vfs.FS, dir string, start page.LSN) (*segment, vfs.File, error) {
	s := &segment{start: start, path: fs.PathJoin(dir, segmentName(start))}
	f, err := fs.Create(s.path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, nil, fmt.Errorf("wal: create segment: %w", err)
	}
	if err := syncDir(fs, dir); err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return s, f, nil
}
