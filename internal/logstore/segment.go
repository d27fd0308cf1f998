package logstore

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/segfile"
)

// segmentSuffix ends the name of a segment file; the name before it is its start LSN in 20
// decimal digits. A segment holds the bytes [start, next segment's start), whole records only.
const segmentSuffix = ".seg"

// indexStep is the spacing of the sparse record index: a read decodes at most this many bytes
// before the LSN it starts at to find a record boundary.
const indexStep = 4 << 10

// segment is one file of the log.
type segment struct {
	start page.LSN
	path  string

	h       segfile.ReadHandle // opened on first read
	mu      sync.Mutex         // guards index and indexed
	index   []page.LSN         // record starts at least indexStep apart, ascending; the first is start
	indexed bool               // index covers the whole segment (built, or maintained by the writer)
}

func segmentName(start page.LSN) string { return segfile.Name(start, segmentSuffix) }

func parseSegmentName(name string) (page.LSN, bool) { return segfile.ParseName(name, segmentSuffix) }

// addStarts adds record starts (ascending) to the index, keeping it sparse.
func (s *segment) addStarts(starts []page.LSN) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range starts {
		if n := len(s.index); n == 0 || st >= s.index[n-1]+indexStep {
			s.index = append(s.index, st)
		}
	}
}

// addBoundary adds the record start lsn to the index wherever it falls, so that a read after a
// damaged range starts there instead of decoding through the damage.
func (s *segment) addBoundary(lsn page.LSN) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sort.Search(len(s.index), func(i int) bool { return s.index[i] >= lsn })
	if k < len(s.index) && s.index[k] == lsn {
		return
	}
	s.index = slices.Insert(s.index, k, lsn)
}

// cutIndex drops index entries at or above at.
func (s *segment) cutIndex(at page.LSN) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sort.Search(len(s.index), func(i int) bool { return s.index[i] >= at })
	s.index = s.index[:k]
	if len(s.index) == 0 {
		s.index = []page.LSN{s.start}
	}
}

// floor returns the indexed record start at or below lsn.
func (s *segment) floor(lsn page.LSN) page.LSN {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sort.Search(len(s.index), func(i int) bool { return s.index[i] > lsn })
	if k == 0 {
		return s.start
	}
	return s.index[k-1]
}

// readAt fills p from the segment file at offset off.
func (s *segment) readAt(fs vfs.FS, p []byte, off int64) error {
	if err := s.h.ReadAt(fs, s.path, p, off); err != nil {
		return fmt.Errorf("logstore: %w", err)
	}
	return nil
}

func (s *segment) closeReader() error { return s.h.Close() }

// retireReader closes the read handle for good before the segment's file is removed: a reader
// that found the segment before it was dropped gets segfile.ErrRetired, not a reopened file.
func (s *segment) retireReader() error { return s.h.Retire() }

// damageError is a record of a segment that failed its check. It wraps ErrCorrupt.
type damageError struct {
	path string
	off  int64    // the record's offset in the file
	lsn  page.LSN // the record's LSN
	end  page.LSN // end of the range to repair: the segment's end, or 0 for the store's durable end
	err  error
}

func (e *damageError) Error() string {
	return fmt.Sprintf("%v: %s at offset %d (LSN %d): %v", ErrCorrupt, e.path, e.off, uint64(e.lsn), e.err)
}

func (e *damageError) Unwrap() []error { return []error{ErrCorrupt, e.err} }

// resetIndex forgets the index, so that the next buildIndex scans the segment again.
func (s *segment) resetIndex() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.index, s.indexed = []page.LSN{s.start}, false
}

// buildIndex scans the segment's size bytes, checking every record, and builds its index. It
// returns a *damageError for damage.
func (s *segment) buildIndex(fs vfs.FS, size int64) error {
	s.mu.Lock()
	done := s.indexed
	s.mu.Unlock()
	if done {
		return nil
	}
	if size > math.MaxInt32*4 {
		return fmt.Errorf("logstore: segment %s: size %d too large", s.path, size)
	}
	data := make([]byte, size)
	if err := s.readAt(fs, data, 0); err != nil {
		return err
	}
	starts, _, n, err := scanRecords(data)
	abs := make([]page.LSN, len(starts))
	for i, o := range starts {
		abs[i] = s.start + page.LSN(o)
	}
	s.mu.Lock()
	s.index = nil
	s.mu.Unlock()
	s.addStarts(append([]page.LSN{s.start}, abs...))
	if err == nil && n != len(data) {
		err = fmt.Errorf("%w: the segment ends inside a record", redo.ErrCorrupt)
	}
	if err != nil {
		return &damageError{path: s.path, off: int64(n), lsn: s.start + page.LSN(n), end: s.start + page.LSN(size), err: err}
	}
	s.mu.Lock()
	s.indexed = true
	s.mu.Unlock()
	return nil
}

// scanRecords decodes the whole records at the start of b, checking their CRCs. It returns the
// offsets of the records, the offset after the last group end (-1 if none), the offset after
// the last whole record and the error that stopped the scan: nil at the end of b or inside a
// last incomplete record, redo.ErrCorrupt (wrapped) for damage.
func scanRecords(b []byte) (starts []int, groupEnd, n int, err error) {
	groupEnd = -1
	for n < len(b) {
		r, size, err := redo.Decode(b[n:])
		if err != nil {
			if errors.Is(err, redo.ErrShort) {
				return starts, groupEnd, n, nil
			}
			return starts, groupEnd, n, err
		}
		starts = append(starts, n)
		n += size
		if r.GroupEnd() {
			groupEnd = n
		}
	}
	return starts, groupEnd, n, nil
}

// writer is the flusher's handle on the segment being written.
type writer struct {
	f   vfs.File
	seg *segment
	off int64
	// alloc is the file's size: the bytes [off, alloc) are zeros, preallocated so that the
	// sync after an append does not also have to write the file's new size (and, for an
	// append of new blocks, their allocation) to the file system's journal.
	alloc int64
	dirty bool
	// noPrealloc: preallocation failed in this segment (the disk is full, most likely); the
	// segment grows with its appends only.
	noPrealloc bool
}

// preallocStep is how far ahead of the log's end a segment file is preallocated, at most.
const preallocStep = 1 << 20

// zeros returns what preallocation writes, allocated on first use (the package is also linked
// into processes that never write a segment).
var zeros = sync.OnceValue(func() []byte { return make([]byte, preallocStep) })

// preallocate makes the file at least need bytes long, writing zeros up to the next multiple of
// step (not past limit unless need is), so that the following appends and their syncs change no
// file metadata. The bytes after the log's end in the segment being written are zeros, which
// recovery recognises as its end (recoverLast). Zeros are written rather than allocated with
// fallocate(2): writing into allocated but unwritten blocks still makes each sync update the
// file system's extent tree (measured on ext4: no faster than appending for 64 KiB appends).
//
// Preallocation only saves work: when it fails (a full disk: it asks up to a whole step more
// than the appends), the error is returned for the caller to log and the writer stops
// preallocating this segment; the appends go on without it. Whatever zeros it wrote stay, as
// the clean end of the log.
func (w *writer) preallocate(need, step, limit int64) error {
	if need <= w.alloc || w.noPrealloc {
		return nil
	}
	target := (need + step - 1) / step * step
	if target > limit {
		target = max(limit, need)
	}
	// The batch about to be written covers [off, need): zeros only from there on.
	for off := max(w.alloc, need); off < target; {
		z := zeros()
		n, err := w.f.WriteAt(z[:min(int64(len(z)), target-off)], off)
		off += int64(n)
		if err != nil {
			w.noPrealloc = true
			if off > need {
				w.alloc = max(w.alloc, off)
				w.dirty = true
			}
			return fmt.Errorf("logstore: preallocate %s to %d bytes: %w", w.seg.path, target, err)
		}
	}
	w.alloc = target
	w.dirty = true
	return nil
}

// trim cuts the preallocated zeros off the file, durably, so that the file's size is the end
// of its last record: a closed segment's size says where the next one starts (segfile.List).
func (w *writer) trim(fs vfs.FS, dir string) error {
	if w.alloc <= w.off {
		return nil
	}
	if t, ok := w.f.(interface{ Truncate(int64) error }); ok {
		err := t.Truncate(w.off)
		if err == nil {
			err = w.f.Sync()
		}
		if err != nil {
			return fmt.Errorf("logstore: cut %s at %d: %w", w.seg.path, w.off, err)
		}
		w.alloc = w.off
		return nil
	}
	if err := w.close(); err != nil {
		return fmt.Errorf("logstore: close %s: %w", w.seg.path, err)
	}
	if err := cutFile(fs, dir, w.seg.path, w.off); err != nil {
		return err
	}
	w.alloc = w.off
	return nil
}

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
		return fmt.Errorf("logstore: write %s at offset %d: %w", w.seg.path, w.off, err)
	}
	return nil
}

func (w *writer) sync() error {
	if !w.dirty {
		return nil
	}
	if err := w.f.SyncData(); err != nil {
		return fmt.Errorf("logstore: sync %s: %w", w.seg.path, err)
	}
	w.dirty = false
	return nil
}

func (w *writer) close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// createSegment creates the empty segment file starting at start, durably.
func createSegment(fs vfs.FS, dir string, start page.LSN) (*segment, vfs.File, error) {
	s := &segment{start: start, path: fs.PathJoin(dir, segmentName(start)), index: []page.LSN{start}, indexed: true}
	f, err := fs.Create(s.path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, nil, fmt.Errorf("logstore: create segment: %w", err)
	}
	if err := syncDir(fs, dir); err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return s, f, nil
}

// cutFile makes the file at path hold exactly its first size bytes, durably: by truncating it
// where the file supports that, otherwise by copying the prefix to a temporary file renamed
// over it.
func cutFile(fs vfs.FS, dir, path string, size int64) error {
	f, err := fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("logstore: open %s to cut it: %w", path, err)
	}
	if t, ok := f.(interface{ Truncate(int64) error }); ok {
		err := t.Truncate(size)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("logstore: cut %s at %d: %w", path, size, err)
		}
		return nil
	}
	keep := make([]byte, size)
	n, err := f.ReadAt(keep, 0)
	if cerr := f.Close(); err == nil || (errors.Is(err, io.EOF) && int64(n) == size) {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("logstore: read %s to cut it: %w", path, err)
	}
	tmp := path + ".tmp"
	t, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("logstore: cut %s: %w", path, err)
	}
	_, err = t.Write(keep)
	if err == nil {
		err = t.Sync()
	}
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, path)
	}
	if err != nil {
		_ = fs.Remove(tmp)
		return fmt.Errorf("logstore: cut %s at %d: %w", path, size, err)
	}
	return syncDir(fs, dir)
}
