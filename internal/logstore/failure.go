package logstore

import (
	"fmt"

	"strata/internal/page"
)

// A store's failure: a write, sync or state change that failed makes the store refuse every
// call until it is opened again, in a new process.

// fail makes the store refuse everything from now on. s.mu must be held.
//
// A failed store does not try again: after a failed write or sync (a full disk, an I/O error)
// what the file holds beyond the durable end is unknown, and so is, after a failed sync, what
// the kernel will still write of it. The process that runs the store is meant to stop (see
// Failed) and be started again: Open recovers the log from what the files hold, and the writer
// refills what this store lacks from its peers.
func (s *Store) fail(err error) {
	if s.err == nil {
		s.err = fmt.Errorf("%w, durable up to LSN %d: %w", ErrFailed, s.c.durable, err)
		s.logger.Error("logstore: store failed; it refuses every call until it is opened again", "dir", s.dir,
			"durable", uint64(s.c.durable), "err", err)
		close(s.failed)
	}
	s.cond.Broadcast()
	s.notify()
}

// Failed returns a channel closed when the store fails: a write, sync or state change failed
// and the store refuses every call from then on. The caller should close the store and open it
// again, in a new process (cmd/strata's logstore exits), once the cause is gone.
func (s *Store) Failed() <-chan struct{} { return s.failed }

// Err returns the store's failure, nil while it works (or once it is closed without one).
func (s *Store) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// dropUnsynced cuts the segment being written back to durable, the end of what its last
// successful sync covered, after a batch failed. The bytes after it were never synced, and
// after a failed sync the kernel may keep them cached as if written (a later sync then reports
// success without writing them): cut, they cannot be read back as part of the log when the store
// is opened again. Cutting needs no space, and it also frees the preallocated zeros. It is best
// effort: where the file cannot be cut here, recovery at the next open cuts what it finds
// invalid. s.ioMu must be held.
func (s *Store) dropUnsynced(durable page.LSN) {
	w := &s.w
	if w.f == nil || durable < w.seg.start {
		return
	}
	t, ok := w.f.(interface{ Truncate(int64) error })
	if !ok {
		return
	}
	keep := int64(durable - w.seg.start)
	err := t.Truncate(keep)
	if err == nil {
		err = w.f.Sync()
	}
	if err != nil {
		s.logger.Warn("logstore: cannot cut the unsynced bytes off the segment after a failed write; the next open recovers it",
			"file", w.seg.path, "at", keep, "err", err)
		return
	}
	w.off, w.alloc = keep, keep
}
