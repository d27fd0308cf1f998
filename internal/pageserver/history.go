package pageserver

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"strata/internal/page"
	"strata/internal/pageapi/pageserverpb"
	"strata/internal/storage"
)

// LSNAt implements pageserverpb.PageStoreServer. A time before the store's history window is
// an answer (found = false, with the window), not an error; waiting for at_least is bounded
// like GetPage's wait.
func (s *Service) LSNAt(ctx context.Context, req *pageserverpb.LSNAtRequest) (*pageserverpb.LSNAtResponse, error) {
	at, atLeast := req.GetTimeMicros(), page.LSN(req.GetAtLeast())
	if s.ctx.Err() != nil {
		return nil, status.Error(codes.Unavailable, "pageserver: closing")
	}
	ctx, cancel := context.WithTimeout(ctx, s.maxWait)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	store, err := s.storeOf(req.GetTimeline())
	if err != nil {
		return nil, err
	}
	var tp storage.TimePoint
	if by := page.LSN(req.GetByLsn()); by != 0 {
		tp, err = store.CommitAtOrBefore(ctx, by)
	} else {
		tp, err = store.LSNAt(ctx, at, atLeast)
	}
	resp := &pageserverpb.LSNAtResponse{Lsn: uint64(tp.LSN), OldestMicros: tp.Oldest, NewestMicros: tp.Newest}
	switch {
	case err == nil:
		resp.Found = true
	case errors.Is(err, storage.ErrBeforeHistory):
		resp.Lsn = 0
	default:
		return nil, s.statusOf(ctx, fmt.Sprintf("LSNAt(time %d µs, at least lsn %d)", at, atLeast), err)
	}
	return resp, nil
}
