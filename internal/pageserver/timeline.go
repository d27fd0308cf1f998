package pageserver

import (
	"fmt"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Timelines. A Page Store process serves the main database (timeline 0, the store the service
// was made with) and the branches it holds (timeline N > 0, each a pagestore.Store over the
// main one: pagestore.Options.Base). Every request names its timeline; 0 is what an older
// client sends.

// MaxTimeline is the largest timeline number (as the Log Stores').
const MaxTimeline = 1<<32 - 1

// timelines are the branch stores a service serves.
type timelines struct {
	mu     sync.RWMutex
	stores map[uint64]Store
}

// AddTimeline serves store as timeline tl (> 0), replacing any store it served as tl.
func (s *Service) AddTimeline(tl uint64, store Store) error {
	if tl == 0 || tl > MaxTimeline {
		return fmt.Errorf("pageserver: timeline %d is not in [1, %d]", tl, uint64(MaxTimeline))
	}
	s.tl.mu.Lock()
	defer s.tl.mu.Unlock()
	if s.tl.stores == nil {
		s.tl.stores = map[uint64]Store{}
	}
	s.tl.stores[tl] = store
	return nil
}

// RemoveTimeline stops serving timeline tl (its calls then fail with FailedPrecondition). The caller
// closes the store.
func (s *Service) RemoveTimeline(tl uint64) {
	s.tl.mu.Lock()
	defer s.tl.mu.Unlock()
	delete(s.tl.stores, tl)
}

// storeOf returns the store of timeline tl: FailedPrecondition for a timeline the process does not
// serve (as for a segment it does not own: a client asks another replica; not NotFound, which
// says a page does not exist), InvalidArgument for a number that cannot be one.
func (s *Service) storeOf(tl uint64) (Store, error) {
	if tl == 0 {
		return s.store, nil
	}
	if tl > MaxTimeline {
		return nil, status.Errorf(codes.InvalidArgument, "pageserver: timeline %d is not in [0, %d]", tl, uint64(MaxTimeline))
	}
	s.tl.mu.RLock()
	defer s.tl.mu.RUnlock()
	st, ok := s.tl.stores[tl]
	if !ok {
		return nil, status.Errorf(codes.FailedPrecondition, "pageserver: this Page Store serves no timeline %d", tl)
	}
	return st, nil
}

// AddTimeline serves store as timeline tl (see Service.AddTimeline).
func (s *Server) AddTimeline(tl uint64, store Store) error { return s.svc.AddTimeline(tl, store) }

// RemoveTimeline stops serving timeline tl (see Service.RemoveTimeline).
func (s *Server) RemoveTimeline(tl uint64) { s.svc.RemoveTimeline(tl) }
