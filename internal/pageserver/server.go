// Package pageserver serves a Page Store (internal/pagestore) over gRPC: GetPage(page, lsn)
// returns the sealed 16 KiB page as of lsn, waiting within the caller's deadline until the
// store has consumed the log that far; Status reports the store's positions and owned
// segments; SetHorizon lets compaction fold history no reader needs; LSNAt maps a commit time
// to a log position. Every call must carry the cluster secret (internal/rpcauth). Errors map
// to status codes the client turns back into storage errors: NotFound for
// storage.ErrPageNotFound, OutOfRange for storage.ErrCompacted, FailedPrecondition for a page
// of a segment the store does not own.
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
	"strata/internal/pageapi"
	"strata/internal/pageapi/pageserverpb"
	"strata/internal/pagestore"
	"strata/internal/placement"
	"strata/internal/storage"
)

// Store is what the service needs of a Page Store; *pagestore.Store implements it.
type Store interface {
	storage.PageSource
	storage.CommitIndex
	Consumed() page.LSN
	Persisted() page.LSN
	Floor() page.LSN
	Segments() (pagesPerSegment uint64, owned []uint64)
	Owns(id page.ID) bool
	SetHorizon(lsn page.LSN)
	SetRetain(lsns []page.LSN)
	Ownership() placement.Ownership
	Copying() []placement.CopyProgress
	CopyingRest() bool
	UsedSegments() ([]uint64, error)
	ScanSegment(ctx context.Context, seg uint64, lsn page.LSN, pages func(n int), emit func(p *page.Page) error) error
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
	codec   *pageapi.Codec // where answers' pages come from (see pageapi.Codec)

	ctx    context.Context // cancelled by Close: waiting calls end with Unavailable
	cancel context.CancelFunc
	tl     timelines // the branches served beside store (timeline.go)
}

// NewService returns the service over store. maxWait <= 0 means DefaultMaxWait; a nil
// logger means slog.Default(). Answers' pages are taken from codec's pool: serve with
// codec.ServerOption() so that they go back to it (with another codec they are garbage).
func NewService(store Store, log *slog.Logger, maxWait time.Duration, codec *pageapi.Codec) *Service {
	if log == nil {
		log = slog.Default()
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	ctx, cancel := context.WithCancel(context.Background())
	if codec == nil {
		codec = pageapi.NewCodec()
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
	store, err := s.storeOf(req.GetTimeline())
	if err != nil {
		return nil, err
	}
	if !store.Owns(id) {
		n, owned := store.Segments()
		return nil, status.Errorf(codes.FailedPrecondition,
			"pageserver: page %d is in segment %d, not owned by this page store (owned: %v)", id, placement.SegmentOf(id, n), owned)
	}
	ctx, cancel := context.WithTimeout(ctx, s.maxWait)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	p := s.codec.Page()
	if err := store.GetPage(ctx, id, lsn, p); err != nil {
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
func (s *Service) Status(ctx context.Context, req *pageserverpb.StatusRequest) (*pageserverpb.StatusResponse, error) {
	store, err := s.storeOf(req.GetTimeline())
	if err != nil {
		return nil, err
	}
	n, owned := store.Segments()
	o := store.Ownership()
	resp := &pageserverpb.StatusResponse{
		Consumed:     uint64(store.Consumed()),
		Persisted:    uint64(store.Persisted()),
		Floor:        uint64(store.Floor()),
		SegmentPages: n,
		Segments:     owned,
		Rest:         o.Rest,
		Excluded:     o.Excluded(),
		CopyingRest:  store.CopyingRest(),
	}
	for _, c := range store.Copying() {
		resp.Copying = append(resp.Copying, &pageserverpb.SegmentCopy{Segment: c.Segment, From: uint64(c.From),
			Copied: uint64(c.Copied), Total: uint64(c.Total)})
	}
	if req.GetUsedSegments() {
		used, err := store.UsedSegments()
		if err != nil {
			return nil, s.statusOf(ctx, "Status", err)
		}
		resp.UsedSegments = used
	}
	return resp, nil
}

// copyChunkPages is how many pages a CopySegment message carries.
const copyChunkPages = 16

// CopySegment implements pageserverpb.PageStoreServer.
func (s *Service) CopySegment(req *pageserverpb.CopySegmentRequest, stream pageserverpb.PageStore_CopySegmentServer) error {
	seg, lsn := req.GetSegment(), page.LSN(req.GetLsn())
	what := fmt.Sprintf("CopySegment(segment %d, lsn %d)", seg, lsn)
	if lsn == 0 {
		return status.Errorf(codes.InvalidArgument, "pageserver: %s: lsn must be positive", what)
	}
	store, err := s.storeOf(req.GetTimeline())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	chunk := &pageserverpb.CopySegmentChunk{}
	send := func() error {
		err := stream.Send(chunk)
		chunk.Total, chunk.Pages = 0, chunk.Pages[:0]
		return err
	}
	err = store.ScanSegment(ctx, seg, lsn, func(n int) { chunk.Total = uint64(n) }, func(p *page.Page) error {
		chunk.Pages = append(chunk.Pages, append([]byte(nil), p[:]...))
		if len(chunk.Pages) < copyChunkPages {
			return nil
		}
		return send()
	})
	if err == nil && (len(chunk.Pages) > 0 || chunk.Total > 0) {
		err = send()
	}
	if err != nil {
		if _, ok := status.FromError(err); ok && status.Code(err) != codes.Unknown {
			return err
		}
		return s.statusOf(ctx, what, err)
	}
	return nil
}

// SetHorizon implements pageserverpb.PageStoreServer.
func (s *Service) SetHorizon(_ context.Context, req *pageserverpb.SetHorizonRequest) (*pageserverpb.SetHorizonResponse, error) {
	if req.GetLsn() == 0 {
		return nil, status.Error(codes.InvalidArgument, "pageserver: SetHorizon: lsn must be positive")
	}
	if s.ctx.Err() != nil {
		return nil, status.Error(codes.Unavailable, "pageserver: closing")
	}
	store, err := s.storeOf(req.GetTimeline())
	if err != nil {
		return nil, err
	}
	retain := make([]page.LSN, 0, len(req.GetRetain()))
	for _, r := range req.GetRetain() {
		retain = append(retain, page.LSN(r))
	}
	store.SetRetain(retain) // before the horizon: a pass that starts in between keeps them
	store.SetHorizon(page.LSN(req.GetLsn()))
	return &pageserverpb.SetHorizonResponse{}, nil
}
