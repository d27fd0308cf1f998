// Package segfile provides what Strata's append-only logs (the local wal and the Log Store)
// share about their files on a vfs.FS: segment names that carry the start LSN, a cached read
// handle, and durable directory changes.
package segfile

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
)

// nameDigits is the width of the start LSN in a segment's file name.
const nameDigits = 20

// Name returns the file name of the segment starting at start: the LSN in 20 decimal digits,
// then suffix, so that names sort in LSN order.
func Name(start page.LSN, suffix string) string {
	return fmt.Sprintf("%0*d%s", nameDigits, uint64(start), suffix)
}

// ParseName returns the start LSN of a segment file name made by Name with suffix, or false if
// name is not one.
func ParseName(name, suffix string) (page.LSN, bool) {
	digits, ok := strings.CutSuffix(name, suffix)
	if !ok || len(digits) != nameDigits {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return page.LSN(n), true
}

// ErrRetired is a read of a file whose handle was retired: the file is being removed.
var ErrRetired = errors.New("the file was removed")

// ReadHandle is a file's read handle, opened on first use and kept until Close. It is safe
// for concurrent use: reads share it, and Close waits for the reads in flight.
type ReadHandle struct {
	mu      sync.RWMutex // held shared for a read, exclusively to open or close
	f       vfs.File
	retired bool
}

// ReadAt fills p from the file at path, at offset off; a short file is io.ErrUnexpectedEOF.
func (h *ReadHandle) ReadAt(fs vfs.FS, path string, p []byte, off int64) error {
	for {
		h.mu.RLock()
		if f := h.f; f != nil {
			n, err := f.ReadAt(p, off)
			h.mu.RUnlock()
			if n == len(p) {
				return nil
			}
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read %s at offset %d: %w", path, off, err)
		}
		h.mu.RUnlock()
		h.mu.Lock()
		if h.retired {
			h.mu.Unlock()
			return fmt.Errorf("read %s: %w", path, ErrRetired)
		}
		if h.f == nil {
			f, err := fs.Open(path)
			if err != nil {
				h.mu.Unlock()
				return fmt.Errorf("open %s for reading: %w", path, err)
			}
			h.f = f
		}
		h.mu.Unlock()
	}
}

// Close closes the handle if it is open, once the reads in flight are done; a later ReadAt
// opens it again.
func (h *ReadHandle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closeLocked()
}

// Retire closes the handle for good, before its file is removed: a later ReadAt fails with
// ErrRetired instead of opening the file again (which would keep a removed file's blocks
// allocated until the process exits).
func (h *ReadHandle) Retire() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.retired = true
	return h.closeLocked()
}

func (h *ReadHandle) closeLocked() error {
	if h.f == nil {
		return nil
	}
	err := h.f.Close()
	h.f = nil
	return err
}

// SyncDir makes the creation, renaming or removal of files in dir durable.
func SyncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// Found is a segment file found by List.
type Found struct {
	Start page.LSN
	Path  string
	Size  int64
}

// List returns the segment files in dir named by Name with suffix, in LSN order, checking
// that each starts where the one before it ends. It first removes leftover files whose name
// ends in tmpSuffix (a rewrite a crash interrupted). Other files are ignored.
func List(fs vfs.FS, dir, suffix, tmpSuffix string) ([]Found, error) {
	names, err := fs.List(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var segs []Found
	for _, name := range names {
		path := fs.PathJoin(dir, name)
		if strings.HasSuffix(name, tmpSuffix) {
			if err := fs.Remove(path); err != nil {
				return nil, fmt.Errorf("remove leftover %s: %w", path, err)
			}
			continue
		}
		start, ok := ParseName(name, suffix)
		if !ok {
			continue
		}
		fi, err := fs.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("stat segment: %w", err)
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("segment %s is a directory", path)
		}
		segs = append(segs, Found{Start: start, Path: path, Size: fi.Size()})
	}
	slices.SortFunc(segs, func(a, b Found) int { return cmp.Compare(a.Start, b.Start) })
	for i, f := range segs {
		if uint64(f.Size) > math.MaxUint64-uint64(f.Start) {
			return nil, fmt.Errorf("segment %s: size %d overflows the LSN space", f.Path, f.Size)
		}
		if i > 0 {
			prev := segs[i-1]
			if want := prev.Start + page.LSN(prev.Size); f.Start != want {
				return nil, fmt.Errorf("segment %s does not follow %s (%d bytes): want a segment starting at LSN %d",
					f.Path, prev.Path, prev.Size, uint64(want))
			}
		}
	}
	return segs, nil
}
