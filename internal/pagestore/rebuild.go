package pagestore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"strata/internal/segfile"
)

// Damage. Pebble checks a checksum on every block it reads, so a damaged file makes a read fail
// (never return other bytes); pebble reports the file to the DataCorruption listener. The store
// then refuses every GetPage with ErrDamaged (the client reads another replica), and rebuilds:
// it wipes its pebble store and consumes the log again from Options.Start, which is possible
// while the Log Stores retain the log from there (checked first; otherwise the store stays
// refused, reported and retried). Replicas are deterministic functions of the log, so the
// rebuilt store holds what it held before.

// ErrDamaged is returned (wrapped) by GetPage while the store's files are damaged and it has
// not finished rebuilding.
var ErrDamaged = errors.New("pagestore: the store's files are damaged; refusing reads until it is rebuilt from the log")

// rebuildSuffix names the damaged pebble directory while it is being removed.
const rebuildSuffix = ".rebuild"

// rebuildRetry is the wait before trying again a rebuild that could not start.
const rebuildRetry = 5 * time.Second

// noteCorruption records damage found in file: reads are refused and the rebuild goroutine
// starts.
func (s *Store) noteCorruption(file string, err error) {
	s.mu.Lock()
	first := s.damage == nil
	if first {
		s.damage = fmt.Errorf("%w: %s: %v", ErrDamaged, file, err)
	}
	s.mu.Unlock()
	if !first {
		return
	}
	s.log.Error("pagestore: damaged file; refusing reads and rebuilding from the log", "file", file, "err", err)
	select {
	case s.rebuildKick <- struct{}{}:
	default:
	}
}

// damaged returns the reason reads are refused, or nil.
func (s *Store) damaged() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.damage
}

// Damaged returns why the store refuses reads (wrapping ErrDamaged) until its rebuild is done,
// or nil.
func (s *Store) Damaged() error { return s.damaged() }

// Rebuilds returns the number of rebuilds completed since Open.
func (s *Store) Rebuilds() uint64 { return s.rebuilds.Load() }

// readErr turns a read error caused by damage into ErrDamaged, noting the damage.
func (s *Store) readErr(err error) error {
	if err == nil || !pebble.IsCorruptionError(err) {
		return err
	}
	file := "unknown file"
	if info := pebble.ExtractDataCorruptionInfo(err); info != nil {
		file = info.Path
	}
	s.noteCorruption(file, err)
	if d := s.damaged(); d != nil {
		return fmt.Errorf("%w (while reading: %v)", d, err)
	}
	return fmt.Errorf("%w: %v", ErrDamaged, err)
}

// rebuildLoop rebuilds the store each time damage is noted, until Close.
func (s *Store) rebuildLoop() {
	for {
		select {
		case <-s.closedCh:
			return
		case <-s.rebuildKick:
		}
		for s.damaged() != nil {
			err := s.rebuild()
			if err == nil {
				break
			}
			if s.isClosed() {
				return
			}
			s.log.Error("pagestore: cannot rebuild the damaged store; still refusing reads", "retry_in", rebuildRetry, "err", err)
			select {
			case <-s.closedCh:
				return
			case <-time.After(rebuildRetry):
			}
		}
	}
}

// rebuild replaces the damaged pebble store by an empty one and consumes the log again from
// Options.Start.
func (s *Store) rebuild() error {
	s.ownMu.Lock()
	defer s.ownMu.Unlock()
	s.runMu.Lock()
	defer s.runMu.Unlock()
	wasRunning := s.running
	s.stopLocked()
	defer func() {
		if wasRunning && !s.isClosed() {
			s.startLocked()
		}
	}()
	// The log must still hold everything from Start, or peers must be there to copy from:
	// wiping the store otherwise loses it for good.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.opts.Log.Read(ctx, s.opts.Start, 1)
	if _, ok := s.opts.Log.(durableLog); err != nil && (!ok || s.opts.Source == nil) {
		return fmt.Errorf("pagestore: the log cannot be read from %d again and no peer can be copied from: %w", s.opts.Start, err)
	}
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	s.dbmu.Lock()
	defer s.dbmu.Unlock()
	if s.closed {
		return nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.db.Close(); err != nil {
		s.log.Warn("pagestore: closing the damaged store", "err", err)
	}
	fs, dir := s.opts.FS, s.opts.Dir
	err = fs.Rename(dir, dir+rebuildSuffix)
	if err == nil {
		err = segfile.SyncDir(s.opts.FS, fs.PathDir(dir))
	}
	if err == nil {
		err = fs.RemoveAll(dir + rebuildSuffix)
	}
	var db *pebble.DB
	if err == nil {
		db, err = pebble.Open(dir, s.popts)
	}
	if err != nil {
		// Without a database the store cannot serve: it is closed.
		s.closed = true
		close(s.closedCh)
		s.log.Error("pagestore: rebuild failed; the store is closed", "err", err)
		return fmt.Errorf("pagestore: rebuild: %w", err)
	}
	s.db = db
	s.cache.reset()
	s.needFullCompaction()
	s.floor.Store(0)
	s.lastTime.Store(0) // the new database has no time index
	want := s.own.Load().Ownership
	pos, err := s.startEmpty(ctx, want)
	if err != nil {
		s.closed = true
		close(s.closedCh)
		s.log.Error("pagestore: rebuild failed; the store is closed", "err", err)
		return fmt.Errorf("pagestore: rebuild: %w", err)
	}
	s.consumedTo.Store(uint64(pos))
	s.synced.Store(uint64(pos))
	s.mu.Lock()
	s.stateBase = pos
	clear(s.progress)
	clear(s.pages)
	clear(s.hot)
	s.consumed = nil
	s.damage = nil
	s.mu.Unlock()
	s.rebuilds.Add(1)
	if st := s.own.Load(); len(st.Incoming) > 0 || st.RestIncoming != 0 {
		s.log.Warn("pagestore: damaged store wiped; copying its segments from peers", "from", pos)
		s.kickCopy()
	} else {
		s.log.Warn("pagestore: damaged store wiped; consuming the log again", "from", pos)
	}
	return nil
}
