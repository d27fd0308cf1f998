// Package memstore provides an in-memory redo log and page source for tests: the log is
// durable as soon as it is appended (unless held back), and the page source rebuilds pages by
// replaying the log's records with redo.Apply, the same function every node uses.
package memstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/storage"
)

// Log is an in-memory storage.Log.
type Log struct {
	mu      sync.Mutex
	buf     []byte // bytes from redo.StartLSN
	durable page.LSN
	ends    []page.LSN // ends of complete groups, ascending
	hold    bool       // when set, appends are not durable until Release
	changed chan struct{}
	closed  bool
}

var _ storage.Log = (*Log)(nil)

// NewLog returns an empty log.
func NewLog() *Log {
	return &Log{durable: redo.StartLSN, changed: make(chan struct{})}
}

// FromBytes returns a log holding b from redo.StartLSN, all durable.
func FromBytes(b []byte) *Log {
	l := NewLog()
	l.buf = append([]byte(nil), b...)
	l.durable = redo.StartLSN + page.LSN(len(b))
	if end, _ := redo.Scan(b, nil); end > 0 {
		l.ends = append(l.ends, redo.StartLSN+page.LSN(end))
	}
	return l
}

func (l *Log) notify() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// Append implements storage.Log.
func (l *Log) Append(b []byte, complete bool) (page.LSN, page.LSN, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, 0, storage.ErrClosed
	}
	start := l.end()
	l.buf = append(l.buf, b...)
	if complete {
		l.ends = append(l.ends, l.end())
	}
	if !l.hold {
		l.durable = l.end()
		l.notify()
	}
	return start, l.end(), nil
}

func (l *Log) end() page.LSN { return redo.StartLSN + page.LSN(len(l.buf)) }

// End implements storage.Log.
func (l *Log) End() page.LSN {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.end()
}

// GroupEnd returns the end of the last complete group below the durable LSN (redo.StartLSN
// when there is none).
func (l *Log) GroupEnd() page.LSN {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := sort.Search(len(l.ends), func(i int) bool { return l.ends[i] > l.durable })
	if i == 0 {
		return redo.StartLSN
	}
	return l.ends[i-1]
}

// Durable implements storage.LogReader.
func (l *Log) Durable() page.LSN {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.durable
}

// Hold makes later appends non-durable until Release.
func (l *Log) Hold() {
	l.mu.Lock()
	l.hold = true
	l.mu.Unlock()
}

// Release makes everything appended durable and ends Hold.
func (l *Log) Release() {
	l.mu.Lock()
	l.hold = false
	l.durable = l.end()
	l.notify()
	l.mu.Unlock()
}

// WaitDurable implements storage.Log.
func (l *Log) WaitDurable(ctx context.Context, lsn page.LSN) error {
	for {
		l.mu.Lock()
		d, ch, closed := l.durable, l.changed, l.closed
		l.mu.Unlock()
		if d >= lsn {
			return nil
		}
		if closed {
			return storage.ErrClosed
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// Read implements storage.LogReader.
func (l *Log) Read(ctx context.Context, from page.LSN, max int) ([]byte, error) {
	for {
		l.mu.Lock()
		d, ch, closed := l.durable, l.changed, l.closed
		if from < redo.StartLSN || from > l.end() {
			l.mu.Unlock()
			return nil, fmt.Errorf("memstore: read at %d outside the log", from)
		}
		if d > from {
			b := l.buf[from-redo.StartLSN : d-redo.StartLSN]
			if len(b) > max {
				b = b[:max]
			}
			out := append([]byte(nil), b...)
			l.mu.Unlock()
			return out, nil
		}
		l.mu.Unlock()
		if closed {
			return nil, storage.ErrClosed
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

// Truncate implements storage.Log; the in-memory log keeps everything.
func (l *Log) Truncate(before page.LSN) error { return nil }

// Close implements storage.Log.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		l.notify()
	}
	return nil
}

// Crash returns what a crash would leave: the durable bytes cut at the last complete group.
func (l *Log) Crash() *Log { return l.crash(false) }

// CrashAll returns what a crash would leave if every appended byte, durable or not, had
// reached the disk: all of it, cut at the last complete group.
func (l *Log) CrashAll() *Log { return l.crash(true) }

func (l *Log) crash(all bool) *Log {
	l.mu.Lock()
	n := l.durable - redo.StartLSN
	if all {
		n = page.LSN(len(l.buf))
	}
	b := append([]byte(nil), l.buf[:n]...)
	l.mu.Unlock()
	end, _ := redo.Scan(b, nil)
	return FromBytes(b[:end])
}

// Bytes returns a copy of the whole log from redo.StartLSN.
func (l *Log) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.buf...)
}

// Pages is a page source that replays a log.
type Pages struct {
	log *Log

	mu       sync.Mutex
	consumed page.LSN
	recs     map[page.ID][]rec
}

type rec struct {
	lsn page.LSN
	b   []byte
}

var _ storage.PageSource = (*Pages)(nil)

// NewPages returns a page source over log.
func NewPages(log *Log) *Pages {
	return &Pages{log: log, consumed: redo.StartLSN, recs: map[page.ID][]rec{}}
}

// catchUp consumes the log's durable complete records up to at least lsn.
func (s *Pages) catchUp(ctx context.Context, lsn page.LSN) error {
	for s.consumed < lsn {
		if err := s.log.WaitDurable(ctx, lsn); err != nil {
			return err
		}
		b, err := s.log.Read(ctx, s.consumed, 1<<30)
		if err != nil {
			return err
		}
		off := 0
		for off < len(b) {
			r, n, err := redo.Decode(b[off:])
			if errors.Is(err, redo.ErrShort) {
				break
			}
			if err != nil {
				return fmt.Errorf("memstore: log at %d: %w", s.consumed+page.LSN(off), err)
			}
			if r.Page != page.Invalid {
				s.recs[r.Page] = append(s.recs[r.Page], rec{s.consumed + page.LSN(off), append([]byte(nil), b[off:off+n]...)})
			}
			off += n
		}
		if off == 0 {
			return fmt.Errorf("memstore: no complete record at %d", s.consumed)
		}
		s.consumed += page.LSN(off)
	}
	return nil
}

// GetPage implements storage.PageSource.
func (s *Pages) GetPage(ctx context.Context, id page.ID, lsn page.LSN, dst *page.Page) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.catchUp(ctx, lsn); err != nil {
		return err
	}
	rs := s.recs[id]
	n := sort.Search(len(rs), func(i int) bool { return rs[i].lsn >= lsn })
	if n == 0 {
		return fmt.Errorf("page %d at %d: %w", id, lsn, storage.ErrPageNotFound)
	}
	clear(dst[:])
	for _, r := range rs[:n] {
		d, _, err := redo.Decode(r.b)
		if err != nil {
			return err
		}
		if err := redo.Apply(dst, r.lsn, d); err != nil {
			return err
		}
	}
	dst.Seal()
	return nil
}
