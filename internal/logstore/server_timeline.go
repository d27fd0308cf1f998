package logstore

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"strata/internal/logapi"
)

// DefaultMaxTimelines bounds the timelines N > 0 a server holds (see Server.SetMaxTimelines).
const DefaultMaxTimelines = 1024

// timelines are the stores of the timelines N > 0 a Server routes to; timeline 0's is the
// Server's store. A timeline's store is opened once, under mu: at NewServer for every timeline
// found on disk, and on a writer's first call for a new one.
type timelines struct {
	base *Store // timeline 0's

	mu      sync.Mutex
	stores  map[uint64]*tlEntry
	max     int
	stopped bool

	stop     chan struct{} // closed by close: the failure watchers end
	failed   chan struct{} // closed when the store of any timeline fails
	failOnce sync.Once
}

// tlEntry is one timeline: its store, or why it could not be opened at start.
type tlEntry struct {
	store *Store
	err   error
}

func newTimelines(base *Store) *timelines {
	t := &timelines{base: base, stores: make(map[uint64]*tlEntry), max: DefaultMaxTimelines,
		stop: make(chan struct{}), failed: make(chan struct{})}
	t.watch(base)
	return t
}

// reopen opens the stores of the timelines found below the base store's directory. One that
// fails to open is logged and refuses its calls (Unavailable) until a writer's call opens it;
// the other timelines are served.
func (t *timelines) reopen() error {
	ns, err := t.base.listTimelines()
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range ns {
		st, err := t.base.openTimeline(n)
		if err != nil {
			t.base.logger.Error("logstore: cannot open a timeline's store; refusing its calls", "timeline", n, "err", err)
			t.stores[n] = &tlEntry{err: err}
			continue
		}
		t.stores[n] = &tlEntry{store: st}
		t.watch(st)
	}
	if len(ns) > 0 {
		t.base.logger.Info("logstore: timelines opened", "count", len(ns))
	}
	return nil
}

// watch closes t.failed when st fails.
func (t *timelines) watch(st *Store) {
	go func() {
		select {
		case <-st.Failed():
			t.failOnce.Do(func() { close(t.failed) })
		case <-t.stop:
		}
	}()
}

// checkNumber refuses a timeline number no log can have.
func checkNumber(n uint64) error {
	if err := logapi.CheckTimeline(n); err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return nil
}

// get returns the store of timeline n: NotFound when the server holds no such timeline.
func (t *timelines) get(n uint64) (*Store, error) {
	if n == 0 {
		return t.base, nil
	}
	if err := checkNumber(n); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return nil, status.Error(codes.Unavailable, "logstore: server stopped")
	}
	e, ok := t.stores[n]
	switch {
	case !ok:
		return nil, status.Errorf(codes.NotFound, "logstore: timeline %d does not exist on this store (a writer creates it)", n)
	case e.err != nil:
		return nil, status.Errorf(codes.Unavailable, "logstore: timeline %d could not be opened: %v", n, e.err)
	}
	return e.store, nil
}

// create returns the store of timeline n for a writer's call, creating it (empty, at
// redo.StartLSN) if the server holds no such timeline, or opening it again if it could not be
// opened at start.
func (t *timelines) create(n uint64) (*Store, error) {
	if n == 0 {
		return t.base, nil
	}
	if err := checkNumber(n); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return nil, status.Error(codes.Unavailable, "logstore: server stopped")
	}
	e, ok := t.stores[n]
	if ok && e.err == nil {
		return e.store, nil
	}
	if !ok && len(t.stores) >= t.max {
		return nil, status.Errorf(codes.ResourceExhausted, "logstore: timeline %d: this store holds %d timelines already (at most %d)", n, len(t.stores), t.max)
	}
	st, err := t.base.openTimeline(n)
	if err != nil {
		if ok {
			e.err = err
		}
		return nil, status.Errorf(codes.Unavailable, "logstore: open timeline %d: %v", n, err)
	}
	t.stores[n] = &tlEntry{store: st}
	t.watch(st)
	if !ok {
		t.base.logger.Info("logstore: timeline created", "timeline", n, "dir", st.Dir())
	}
	return st, nil
}

// count returns the number of timelines N > 0 held.
func (t *timelines) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.stores)
}

// err returns the failure of the store of the lowest failed timeline, nil if none failed.
func (t *timelines) err() error {
	if err := t.base.Err(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var first uint64
	var out error
	for n, e := range t.stores {
		if e.store == nil {
			continue
		}
		if err := e.store.Err(); err != nil && (out == nil || n < first) {
			first, out = n, fmt.Errorf("timeline %d: %w", n, err)
		}
	}
	return out
}

// close closes the stores of the timelines N > 0; calls for them are refused from now on.
func (t *timelines) close() error {
	t.mu.Lock()
	if t.stopped {
		t.mu.Unlock()
		return nil
	}
	t.stopped = true
	close(t.stop)
	stores := t.stores
	t.stores = nil
	t.mu.Unlock()
	var errs []error
	for n, e := range stores {
		if e.store == nil {
			continue
		}
		if err := e.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("logstore: close timeline %d: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// numbers returns the timelines N > 0 held, ascending.
func (t *timelines) numbers() []uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]uint64, 0, len(t.stores))
	for n := range t.stores {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// drop closes the store of timeline n and removes its directory: the database it was the log
// of is gone. A later writer's call for n finds no such timeline (or creates it anew).
func (t *timelines) drop(n uint64) error {
	if n == 0 {
		return fmt.Errorf("%w: timeline 0 is the store's own", ErrInvalid)
	}
	t.mu.Lock()
	e, ok := t.stores[n]
	delete(t.stores, n)
	t.mu.Unlock()
	if !ok {
		return nil
	}
	var err error
	if e.store != nil {
		err = e.store.Close()
	}
	dir := TimelineDir(t.base.fs, t.base.dir, n)
	if rerr := t.base.fs.RemoveAll(dir); rerr != nil {
		err = errors.Join(err, fmt.Errorf("logstore: remove %s: %w", dir, rerr))
	}
	t.base.logger.Info("logstore: timeline dropped", "timeline", n, "dir", dir, "err", err)
	return err
}
