package pagestore

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// A full disk (or another write error) makes pebble's flushes and compactions fail. Pebble
// keeps its state consistent and retries them, so the store heals by itself once space is back:
// the records consumed meanwhile stay in memtables, Persisted stops advancing, and the log is
// retained above it. But pebble retries a failed flush at once, without a pause (its flush
// loop has a TODO for a backoff), which burns a core and logs thousands of errors a second.
// The store paces the retries, logs them at most every logEvery, and reports itself failing
// (DiskErr) until a flush or compaction succeeds again.

// diskHealth is what the store knows about pebble's background writes.
type diskHealth struct {
	mu      sync.Mutex
	err     error     // the last background error since the last successful flush or compaction
	fails   int       // consecutive background errors
	logged  time.Time // when an error was last logged
	skipped int       // errors not logged since

	otherLogged  time.Time // when another background error was last logged
	otherSkipped int       // other background errors not logged since
}

// Pacing of pebble's retries after consecutive background errors, and of their logging.
const (
	retryFirst = 10 * time.Millisecond
	retryMax   = 250 * time.Millisecond
	logEvery   = 10 * time.Second
)

// listenDisk installs the store's background error and success listeners in opts.
func (s *Store) listenDisk(l *pebble.EventListener) {
	l.BackgroundError = s.backgroundError
	l.FlushEnd = func(info pebble.FlushInfo) {
		if info.Err == nil {
			s.diskWritten()
		}
	}
	l.CompactionEnd = func(info pebble.CompactionInfo) {
		if info.Err == nil {
			s.diskWritten()
		}
	}
}

// backgroundError is pebble's BackgroundError listener. An error of the system (ENOSPC, EIO:
// a flush or compaction could not write) makes the store failing; pebble calls the listener
// (with its own mutex held) before it retries, and the pause made here, doubling from
// retryFirst to retryMax, paces the retries. Writes into pebble wait as long, which they would
// anyway once the memtables are full. Other errors (a damaged file found while collecting table
// statistics: see the DataCorruption listener) are only logged, at the same pace.
func (s *Store) backgroundError(err error) {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		s.logLimited(err)
		return
	}
	h := &s.health
	h.mu.Lock()
	h.err = err
	h.fails++
	fails, skipped := h.fails, h.skipped
	logNow := fails == 1 || time.Since(h.logged) >= logEvery
	if logNow {
		h.logged, h.skipped = time.Now(), 0
	} else {
		h.skipped++
	}
	h.mu.Unlock()
	if logNow {
		s.log.Error("pagestore: pebble cannot write; retrying, and reporting the store failing until it can",
			"err", err, "consecutive", fails, "not_logged", skipped)
	}
	time.Sleep(min(retryFirst<<min(fails-1, 10), retryMax))
}

// logLimited logs a background error that is not a failed write, at most every logEvery.
func (s *Store) logLimited(err error) {
	h := &s.health
	h.mu.Lock()
	logNow := time.Since(h.otherLogged) >= logEvery
	skipped := h.otherSkipped
	if logNow {
		h.otherLogged, h.otherSkipped = time.Now(), 0
	} else {
		h.otherSkipped++
	}
	h.mu.Unlock()
	if logNow {
		s.log.Error("pagestore: pebble background error", "err", err, "not_logged", skipped)
	}
}

// diskWritten records a successful flush or compaction.
func (s *Store) diskWritten() {
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		s.log.Info("pagestore: pebble writes again", "after_errors", h.fails)
	}
	h.err, h.fails, h.skipped = nil, 0, 0
}

// DiskErr returns why pebble cannot write, nil when its last background write succeeded. While
// it is set the store still serves what it consumed, but Persisted does not advance.
func (s *Store) DiskErr() error {
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		return nil
	}
	return fmt.Errorf("pagestore: pebble cannot write (%d attempts): %w", h.fails, h.err)
}

// flushWait flushes pebble's memtables and waits until they are flushed; but once Close has
// begun it gives up while pebble cannot write, so that a store on a full disk can stop (what it
// had not flushed is consumed again from the log at the next open, from Persisted). s.dbmu
// must be held for reading, with the store not closed.
func (s *Store) flushWait() error {
	done, err := s.db.AsyncFlush()
	if err != nil {
		return err
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-t.C:
			if s.closing.Load() {
				if err := s.DiskErr(); err != nil {
					return fmt.Errorf("pagestore: not flushed, closing: %w", err)
				}
			}
		}
	}
}
