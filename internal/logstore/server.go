package logstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"strata/internal/logapi"
	"strata/internal/logapi/logstorepb"
	"strata/internal/page"
	"strata/internal/rpcauth"
	"strata/internal/storage"
)

// defaultReadChunk is the read chunk when a request names none; maxReadChunk bounds it.
const (
	defaultReadChunk = 256 << 10
	maxReadChunk     = 4 << 20
)

// Server serves a Store over gRPC, and the stores of the other timelines beside it: each call
// goes to the store of the timeline it names (0: store).
type Server struct {
	logstorepb.UnimplementedLogStoreServer
	store  *Store
	tl     *timelines
	logger *slog.Logger
	grpc   *grpc.Server
}

// NewServer returns a gRPC server for store, timeline 0's, that refuses calls without secret.
// It opens the stores of the timelines N > 0 found below store's directory (TimelineDir) and
// creates new ones as writers ask; Stop closes them. store must hold timeline 0.
func NewServer(store *Store, secret string, logger *slog.Logger) (*Server, error) {
	if store.Timeline() != 0 {
		return nil, fmt.Errorf("%w: a server's store holds timeline 0, not %d", ErrInvalid, store.Timeline())
	}
	opts, err := rpcauth.ServerOptions(secret)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	opts = append(opts, logapi.ServerOptions()...)
	s := &Server{store: store, tl: newTimelines(store), logger: logger, grpc: grpc.NewServer(opts...)}
	if err := s.tl.reopen(); err != nil {
		return nil, errors.Join(err, s.tl.close())
	}
	logstorepb.RegisterLogStoreServer(s.grpc, s)
	return s, nil
}

// Serve serves on l until Stop.
func (s *Server) Serve(l net.Listener) error { return s.grpc.Serve(l) }

// Stop closes the listeners and every connection at once, then the stores of the timelines
// N > 0. Timeline 0's store is the caller's to close, after Stop.
func (s *Server) Stop() error {
	s.grpc.Stop()
	return s.tl.close()
}

// SetMaxTimelines sets the bound on the timelines N > 0 the server holds (DefaultMaxTimelines
// unless set): a writer's call that would create one more is refused (ResourceExhausted).
// Timelines found on disk at NewServer are opened whatever their number.
func (s *Server) SetMaxTimelines(n int) {
	s.tl.mu.Lock()
	defer s.tl.mu.Unlock()
	s.tl.max = n
}

// Timelines returns the number of timelines N > 0 the server holds.
func (s *Server) Timelines() int { return s.tl.count() }

// TimelineNumbers returns the timelines N > 0 the server holds, ascending.
func (s *Server) TimelineNumbers() []uint64 { return s.tl.numbers() }

// DropTimeline closes the store of timeline n > 0 and removes its directory (its branch was
// deleted).
func (s *Server) DropTimeline(n uint64) error { return s.tl.drop(n) }

// Timeline returns the store of timeline n, or an error (a gRPC status: NotFound when the
// server holds no such timeline).
func (s *Server) Timeline(n uint64) (*Store, error) { return s.tl.get(n) }

// Failed returns a channel closed when the store of any timeline fails (see Store.Failed): the
// process should stop and be started again.
func (s *Server) Failed() <-chan struct{} { return s.tl.failed }

// Err returns the failure of a failed timeline's store (timeline 0's first), nil if none failed.
func (s *Server) Err() error { return s.tl.err() }

// toStatus maps a store error to a gRPC status.
func toStatus(err error) error {
	var r *RefusedError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrFailed):
		return status.Error(codes.Unavailable, err.Error())
	case errors.As(err, &r):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrTruncated):
		return status.Error(codes.OutOfRange, err.Error())
	case errors.Is(err, ErrCorrupt):
		return status.Error(codes.DataLoss, err.Error())
	case errors.Is(err, storage.ErrClosed):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

func refusalPB(r *RefusedError) *logstorepb.AppendResponse {
	code := logstorepb.Refusal_REFUSAL_GAP
	switch {
	case errors.Is(r, ErrStaleEpoch):
		code = logstorepb.Refusal_REFUSAL_STALE_EPOCH
	case errors.Is(r, ErrNotAdopted):
		code = logstorepb.Refusal_REFUSAL_NOT_ADOPTED
	}
	return &logstorepb.AppendResponse{Refusal: code, End: uint64(r.End), Promised: r.Promised, Detail: r.Error()}
}

// Append receives the writer's appends in order and acknowledges the store's durable end as it
// grows, for as long as the writer's epoch is the store's. After a refusal it ends the stream.
func (s *Server) Append(stream logstorepb.LogStore_AppendServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	var sendMu sync.Mutex
	send := func(r *logstorepb.AppendResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(r)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var epoch, timeline uint64
	var store *Store
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if req.GetEpoch() == 0 {
			return status.Error(codes.InvalidArgument, "logstore: append with epoch 0")
		}
		if epoch == 0 {
			// The stream's first request names its timeline, which must exist: the writer's
			// Seal or StartAt created it.
			epoch, timeline = req.GetEpoch(), req.GetTimeline()
			if store, err = s.tl.get(timeline); err != nil {
				return err
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.ack(ctx, cancel, store, epoch, send)
			}()
		} else if req.GetEpoch() != epoch {
			return status.Errorf(codes.InvalidArgument, "logstore: epoch %d on a stream of epoch %d", req.GetEpoch(), epoch)
		} else if req.GetTimeline() != timeline {
			return status.Errorf(codes.InvalidArgument, "logstore: timeline %d on a stream of timeline %d", req.GetTimeline(), timeline)
		}
		_, err = store.Append(epoch, page.LSN(req.GetStart()), req.GetData(), req.GetComplete(), page.LSN(req.GetCommitted()))
		var r *RefusedError
		if errors.As(err, &r) {
			if err := send(refusalPB(r)); err != nil {
				return err
			}
			return nil
		}
		if err != nil {
			return toStatus(err)
		}
	}
}

// ack sends store's durable end for epoch each time it grows; a refusal once the store follows
// another epoch.
func (s *Server) ack(ctx context.Context, cancel context.CancelFunc, store *Store, epoch uint64, send func(*logstorepb.AppendResponse) error) {
	var last page.LSN
	for {
		ch := store.Changed()
		d, err := store.DurableFor(epoch)
		var r *RefusedError
		switch {
		case errors.As(err, &r):
			if !errors.Is(err, ErrNotAdopted) {
				_ = send(refusalPB(r))
				cancel()
				return
			}
			// Not adopted (yet): send nothing; an append is refused with the reason.
		case err != nil:
			cancel()
			return
		case d > last:
			if send(&logstorepb.AppendResponse{Durable: uint64(d)}) != nil {
				cancel()
				return
			}
			last = d
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// Read streams synced bytes.
func (s *Server) Read(req *logstorepb.ReadRequest, stream logstorepb.LogStore_ReadServer) error {
	max := int(req.GetMax())
	if max == 0 {
		max = defaultReadChunk
	}
	if max > maxReadChunk {
		return status.Errorf(codes.InvalidArgument, "logstore: read chunk of %d bytes (at most %d)", max, maxReadChunk)
	}
	store, err := s.tl.get(req.GetTimeline())
	if err != nil {
		return err
	}
	from := page.LSN(req.GetFrom())
	for {
		b, err := store.Read(stream.Context(), from, max, page.LSN(req.GetLimit()))
		if err != nil {
			return toStatus(err)
		}
		if err := stream.Send(&logstorepb.ReadResponse{Start: uint64(from), Data: b}); err != nil {
			return err
		}
		from += page.LSN(len(b))
		if !req.GetFollow() {
			return nil
		}
	}
}

// Seal promises an epoch. A stale epoch (with new_epoch, an equal one too) is refused with
// FailedPrecondition. It creates a timeline the store does not hold yet (an empty log): a new
// writer's recovery must have its promise durably even where no log was ever written.
func (s *Server) Seal(_ context.Context, req *logstorepb.SealRequest) (*logstorepb.Status, error) {
	if req.GetEpoch() == 0 {
		return nil, status.Error(codes.InvalidArgument, "logstore: seal with epoch 0")
	}
	store, err := s.tl.create(req.GetTimeline())
	if err != nil {
		return nil, err
	}
	st, err := store.Seal(req.GetEpoch(), req.GetNewEpoch())
	if err != nil {
		return nil, toStatus(err)
	}
	return logapi.StatusToPB(st), nil
}

// Adopt cuts the log for a new writer (creating the timeline if the store does not hold it).
func (s *Server) Adopt(_ context.Context, req *logstorepb.AdoptRequest) (*logstorepb.Status, error) {
	if len(req.GetHistory()) > 1<<16 {
		return nil, status.Error(codes.InvalidArgument, "logstore: history too long")
	}
	if req.GetEpoch() == 0 {
		return nil, status.Error(codes.InvalidArgument, "logstore: adopt with epoch 0")
	}
	store, err := s.tl.create(req.GetTimeline())
	if err != nil {
		return nil, err
	}
	st, err := store.Adopt(req.GetEpoch(), page.LSN(req.GetAt()), logapi.TermsFromPB(req.GetHistory()), page.LSN(req.GetCommitted()))
	if err != nil {
		return nil, toStatus(err)
	}
	return logapi.StatusToPB(st), nil
}

// StartAt restarts a log wholly below an LSN at that LSN for the writer. On a timeline the
// store does not hold yet it creates it: a branch's writer starts its log at the branch point.
func (s *Server) StartAt(_ context.Context, req *logstorepb.StartAtRequest) (*logstorepb.Status, error) {
	if len(req.GetHistory()) > 1<<16 {
		return nil, status.Error(codes.InvalidArgument, "logstore: history too long")
	}
	if req.GetEpoch() == 0 {
		return nil, status.Error(codes.InvalidArgument, "logstore: start with epoch 0")
	}
	store, err := s.tl.create(req.GetTimeline())
	if err != nil {
		return nil, err
	}
	st, err := store.StartAt(req.GetEpoch(), page.LSN(req.GetAt()), logapi.TermsFromPB(req.GetHistory()), page.LSN(req.GetCommitted()))
	if err != nil {
		return nil, toStatus(err)
	}
	return logapi.StatusToPB(st), nil
}

// GetStatus returns the state of the timeline's store; a failed store answers unavailable.
func (s *Server) GetStatus(_ context.Context, req *logstorepb.StatusRequest) (*logstorepb.Status, error) {
	store, err := s.tl.get(req.GetTimeline())
	if err != nil {
		return nil, err
	}
	if err := store.Err(); err != nil {
		return nil, toStatus(err)
	}
	return logapi.StatusToPB(store.Status()), nil
}

// Truncate discards segments below an LSN.
func (s *Server) Truncate(_ context.Context, req *logstorepb.TruncateRequest) (*logstorepb.Status, error) {
	store, err := s.tl.get(req.GetTimeline())
	if err != nil {
		return nil, err
	}
	if err := store.Truncate(page.LSN(req.GetBefore())); err != nil {
		return nil, toStatus(fmt.Errorf("logstore: truncate: %w", err))
	}
	return logapi.StatusToPB(store.Status()), nil
}
