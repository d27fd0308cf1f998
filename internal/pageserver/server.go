// Package pageserver serves a Page Store (internal/pagestore) over gRPC: GetPage(page, lsn)
// returns the sealed 16 KiB page as of lsn, waiting within the caller's deadline until the
// store has consumed the log that far; Status reports the store's positions and owned
// segments; SetHorizon lets compaction fold history no reader needs. Every call must carry
// the cluster secret (internal/rpcauth). Errors map to status codes the client turns back
// into storage errors: NotFound for storage.ErrPageNotFound, OutOfRange for
// storage.ErrCompacted, FailedPrecondition for a page of a segment the store does not own.
package pageserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"strata/internal/page"
	"strata/internal/pageserver/pageserverpb"
	"strata/internal/pagestore"
	"strata/internal/storage"
)

// Store is what the service needs of a Page Store; *pagestore.Store implements it.
type Store interface {
	storage.PageSource
	Consumed() page.LSN
	Persisted() page.LSN
	Floor() page.LSN
	Segments() (pagesPerSegment uint64, owned []uint64)
	Owns(id page.ID) bool
	SetHorizon(lsn page.LSN)
}

var _ Store = (*pagestore.Store)(nil)

// DefaultMaxWait bounds how long GetPage waits for the store to reach the asked position when
// the caller set no earlier deadline.
const DefaultMaxWait = 30 * time.Second

// Service implements pageserverpb.PageStoreServer over a Store.
type Service struct {
	pageserverpb.UnimplementedPageStoreServer

	store   Store
	log     *slog.Logger
	maxWait time.Duration
	codec   *Codec // where answers' pages come from (see Codec)

	ctx    context.Context // cancelled by Close: waiting calls end with Unavailable
	cancel context.CancelFunc
}

// NewService returns the service over store. maxWait <= 0 means DefaultMaxWait; a nil
// logger means slog.Default(). Answers' pages are taken from codec's pool: serve with
// codec.ServerOption() so that they go back to it (with another codec they are garbage).
func NewService(store Store, log *slog.Logger, maxWait time.Duration, codec *Codec) *Service {
	if log == nil {
		log = slog.Default()
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	ctx, cancel := context.WithCancel(context.Background())
	if codec == nil {
		codec = NewCodec()
	}
	return &Service{store: store, log: log, maxWait: maxWait, codec: codec, ctx: ctx, cancel: cancel}
}

// Close makes calls in progress and later calls end with codes.Unavailable.
func (s *Service) Close() { s.cancel() }

// GetPage implements pageserverpb.PageStoreServer.
func (s *Service) GetPage(ctx context.Context, req *pageserverpb.GetPageRequest) (*pageserverpb.GetPageResponse, error) {
	id, lsn := page.ID(req.GetPage()), page.LSN(req.GetLsn())
	if id == page.Invalid || lsn == 0 {
		return nil, status.Errorf(codes.InvalidArgument, "pageserver: GetPage(page %d, lsn %d): page and lsn must be positive", id, lsn)
	}
	if s.ctx.Err() != nil {
		return nil, status.Error(codes.Unavailable, "pageserver: closing")
	}
	if !s.store.Owns(id) {
		n, owned := s.store.Segments()
		return nil, status.Errorf(codes.FailedPrecondition,
			"pageserver: page %d is in segment %d, not owned by this page store (owned: %v)", id, pagestore.SegmentOf(id, n), owned)
	}
	ctx, cancel := context.WithTimeout(ctx, s.maxWait)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	p := s.codec.Page()
	if err := s.store.GetPage(ctx, id, lsn, p); err != nil {
		s.codec.Release(p)
		return nil, s.statusOf(ctx, fmt.Sprintf("GetPage(page %d, lsn %d)", id, lsn), err)
	}
	return &pageserverpb.GetPageResponse{Page: p[:]}, nil
}

// statusOf turns a store error into a status error with a clear code.
func (s *Service) statusOf(ctx context.Context, what string, err error) error {
	msg := "pageserver: " + what + ": " + err.Error()
	switch {
	case errors.Is(err, storage.ErrPageNotFound):
		return status.Error(codes.NotFound, msg)
	case errors.Is(err, storage.ErrCompacted):
		return status.Error(codes.OutOfRange, msg)
	case errors.Is(err, pagestore.ErrNotOwned):
		return status.Error(codes.FailedPrecondition, msg)
	case errors.Is(err, pagestore.ErrDamaged):
		// The store logged the damaged file and is rebuilding; the client reads another replica.
		return status.Error(codes.DataLoss, msg)
	case errors.Is(err, storage.ErrClosed) || s.ctx.Err() != nil:
		return status.Error(codes.Unavailable, msg)
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, msg)
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return status.Error(codes.Canceled, msg)
	}
	s.log.Error("pageserver: "+what, "err", err)
	return status.Error(codes.Internal, msg)
}

// Status implements pageserverpb.PageStoreServer.
func (s *Service) Status(context.Context, *pageserverpb.StatusRequest) (*pageserverpb.StatusResponse, error) {
	n, owned := s.store.Segments()
	return &pageserverpb.StatusResponse{
		Consumed:     uint64(s.store.Consumed()),
		Persisted:    uint64(s.store.Persisted()),
		Floor:        uint64(s.store.Floor()),
		SegmentPages: n,
		Segments:     owned,
	}, nil
}

// SetHorizon implements pageserverpb.PageStoreServer.
func (s *Service) SetHorizon(_ context.Context, req *pageserverpb.SetHorizonRequest) (*pageserverpb.SetHorizonResponse, error) {
	if req.GetLsn() == 0 {
		return nil, status.Error(codes.InvalidArgument, "pageserver: SetHorizon: lsn must be positive")
	}
	if s.ctx.Err() != nil {
		return nil, status.Error(codes.Unavailable, "pageserver: closing")
	}
	s.store.SetHorizon(page.LSN(req.GetLsn()))
	return &pageserverpb.SetHorizonResponse{}, nil
}
