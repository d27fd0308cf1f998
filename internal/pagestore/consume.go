package pagestore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/storage"
)

// consume reads the log from the persisted position and persists its records until ctx ends
// or the log holds bytes that are not a valid record.
func (s *Store) consume(ctx context.Context) {
	pos := s.Consumed()
	var buf []byte // log bytes from pos on that do not yet make a complete record
	backoff := 10 * time.Millisecond
	for ctx.Err() == nil {
		b, err := s.opts.Log.Read(ctx, pos+page.LSN(len(buf)), readSize)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Error("pagestore: reading the log", "lsn", pos+page.LSN(len(buf)), "err", err)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		if len(b) == 0 { // a reader that does not block: do not spin
			if !sleep(ctx, time.Millisecond) {
				return
			}
			continue
		}
		buf = append(buf, b...)
		n, err := s.persistRecords(ctx, pos, buf)
		pos += page.LSN(n)
		buf = append(buf[:0], buf[n:]...)
		switch {
		case err == nil:
			backoff = 10 * time.Millisecond
		case errors.Is(err, redo.ErrCorrupt):
			s.log.Error("pagestore: corrupt log, consuming stopped", "lsn", pos, "err", err)
			s.mu.Lock()
			s.consumed = err
			s.mu.Unlock()
			return
		case errors.Is(err, storage.ErrClosed) || ctx.Err() != nil:
			return
		default:
			s.log.Error("pagestore: persisting records", "lsn", pos, "err", err)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// touch is what one batch did to a page.
type touch struct {
	count int
	last  page.LSN
}

// persistRecords persists the complete records at the start of buf, which starts at log
// position pos, in one synced batch with the new consume position, and returns how many bytes
// they take. It returns a redo.ErrCorrupt error (after persisting the records before it) for
// bytes that are not a record.
func (s *Store) persistRecords(ctx context.Context, pos page.LSN, buf []byte) (int, error) {
	s.dbmu.RLock()
	defer s.dbmu.RUnlock()
	if s.closed {
		return 0, storage.ErrClosed
	}
	b := s.db.NewBatch()
	defer b.Close()
	touched := make(map[page.ID]touch)
	var records uint64
	var corrupt error
	key := make([]byte, 0, versionKeyLen)
	off := 0
	// The batch is built with the ownership of now, and committed only if it is still the
	// store's ownership then (see SetOwnership); else it is built again.
	own := s.own.Load()
retry:
	for off < len(buf) {
		r, n, err := redo.Decode(buf[off:])
		if errors.Is(err, redo.ErrShort) {
			break
		}
		lsn := pos + page.LSN(off)
		if err != nil {
			corrupt = fmt.Errorf("pagestore: log at lsn %d: %w", lsn, err)
			break
		}
		if !r.Type.PageLess() && own.keeps(r.Page) {
			key = appendVersionKey(key[:0], kindDelta, r.Page, lsn)
			if err := b.Set(key, buf[off:off+n], nil); err != nil {
				return 0, err
			}
			t := touched[r.Page]
			t.count++
			t.last = lsn
			touched[r.Page] = t
			records++
		}
		off += n
	}
	if off == 0 {
		return 0, corrupt
	}
	end := pos + page.LSN(off)
	if err := b.Set(persistedKey, encodeLSN(end), nil); err != nil {
		return 0, err
	}
	s.writeMu.Lock()
	if err := ctx.Err(); err != nil { // stopped: TruncateAfter may be about to run
		s.writeMu.Unlock()
		return 0, err
	}
	if now := s.own.Load(); now != own {
		s.writeMu.Unlock()
		b.Reset()
		clear(touched)
		records, corrupt, off, own = 0, nil, 0, now
		goto retry
	}
	// No sync: the log is this store's WAL (see Open); syncLoop flushes.
	if err := b.Commit(pebble.NoSync); err != nil {
		s.writeMu.Unlock()
		return 0, fmt.Errorf("pagestore: commit records [%d, %d): %w", pos, end, err)
	}
	s.stats.records.Add(records)
	wake := false
	s.mu.Lock()
	for id, t := range touched {
		st := s.pages[id]
		st.pending += t.count
		st.last = t.last
		s.pages[id] = st
		if st.pending >= s.opts.ImageEvery {
			s.hot[id] = struct{}{}
			wake = true
		}
	}
	s.consumedTo.Store(uint64(end))
	close(s.advanced)
	s.advanced = make(chan struct{})
	s.mu.Unlock()
	s.writeMu.Unlock()
	if wake {
		s.wakeMaterialiser()
	}
	return off, corrupt
}

func (s *Store) wakeMaterialiser() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// waitPersisted waits until every record below lsn is consumed (in pebble, served).
func (s *Store) waitPersisted(ctx context.Context, lsn page.LSN) error {
	for {
		if s.Consumed() >= lsn {
			return nil
		}
		s.mu.Lock()
		ch, stopped := s.advanced, s.consumed
		s.mu.Unlock()
		if s.Consumed() >= lsn {
			return nil
		}
		select {
		case <-ch:
		case <-s.closedCh:
			return storage.ErrClosed
		case <-ctx.Done():
			if stopped != nil {
				return fmt.Errorf("pagestore: waiting for lsn %d (persisted %d; consuming stopped: %v): %w",
					lsn, s.Consumed(), stopped, ctx.Err())
			}
			return fmt.Errorf("pagestore: waiting for lsn %d (persisted %d): %w", lsn, s.Consumed(), ctx.Err())
		}
	}
}
