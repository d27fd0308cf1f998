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

// Server serves a Store over gRPC.
type Server struct {
	logstorepb.UnimplementedLogStoreServer
	store  *Store
	logger *slog.Logger
	grpc   *grpc.Server
}

// NewServer returns a gRPC server for store that refuses calls without secret.
func NewServer(store *Store, secret string, logger *slog.Logger) (*Server, error) {
	opts, err := rpcauth.ServerOptions(secret)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	opts = append(opts, logapi.ServerOptions()...)
	s := &Server{store: store, logger: logger, grpc: grpc.NewServer(opts...)}
	logstorepb.RegisterLogStoreServer(s.grpc, s)
	return s, nil
}

// Serve serves on l until Stop.
func (s *Server) Serve(l net.Listener) error { return s.grpc.Serve(l) }

// Stop closes the listeners and every connection at once.
func (s *Server) Stop() { s.grpc.Stop() }

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
	var epoch uint64
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
			epoch = req.GetEpoch()
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.ack(ctx, cancel, epoch, send)
			}()
		} else if req.GetEpoch() != epoch {
			return status.Errorf(codes.InvalidArgument, "logstore: epoch %d on a stream of epoch %d", req.GetEpoch(), epoch)
		}
		_, err = s.store.Append(epoch, page.LSN(req.GetStart()), req.GetData(), req.GetComplete(), page.LSN(req.GetCommitted()))
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

// ack sends the store's durable end for epoch each time it grows; a refusal once the store
// follows another epoch.
func (s *Server) ack(ctx context.Context, cancel context.CancelFunc, epoch uint64, send func(*logstorepb.AppendResponse) error) {
	var last page.LSN
	for {
		ch := s.store.Changed()
		d, err := s.store.DurableFor(epoch)
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
	from := page.LSN(req.GetFrom())
	for {
		b, err := s.store.Read(stream.Context(), from, max, page.LSN(req.GetLimit()))
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
// FailedPrecondition.
func (s *Server) Seal(_ context.Context, req *logstorepb.SealRequest) (*logstorepb.Status, error) {
	if req.GetEpoch() == 0 {
		return nil, status.Error(codes.InvalidArgument, "logstore: seal with epoch 0")
	}
	st, err := s.store.Seal(req.GetEpoch(), req.GetNewEpoch())
	if err != nil {
		return nil, toStatus(err)
	}
	return logapi.StatusToPB(st), nil
}

// Adopt cuts the log for a new writer.
func (s *Server) Adopt(_ context.Context, req *logstorepb.AdoptRequest) (*logstorepb.Status, error) {
	if len(req.GetHistory()) > 1<<16 {
		return nil, status.Error(codes.InvalidArgument, "logstore: history too long")
	}
	st, err := s.store.Adopt(req.GetEpoch(), page.LSN(req.GetAt()), logapi.TermsFromPB(req.GetHistory()), page.LSN(req.GetCommitted()))
	if err != nil {
		return nil, toStatus(err)
	}
	return logapi.StatusToPB(st), nil
}

// StartAt restarts a log wholly below an LSN at that LSN for the writer.
func (s *Server) StartAt(_ context.Context, req *logstorepb.StartAtRequest) (*logstorepb.Status, error) {
	if len(req.GetHistory()) > 1<<16 {
		return nil, status.Error(codes.InvalidArgument, "logstore: history too long")
	}
	st, err := s.store.StartAt(req.GetEpoch(), page.LSN(req.GetAt()), logapi.TermsFromPB(req.GetHistory()), page.LSN(req.GetCommitted()))
	if err != nil {
		return nil, toStatus(err)
	}
	return logapi.StatusToPB(st), nil
}

// GetStatus returns the store's state; a failed store answers unavailable.
func (s *Server) GetStatus(context.Context, *logstorepb.StatusRequest) (*logstorepb.Status, error) {
	if err := s.store.Err(); err != nil {
		return nil, toStatus(err)
	}
	return logapi.StatusToPB(s.store.Status()), nil
}

// Truncate discards segments below an LSN.
func (s *Server) Truncate(_ context.Context, req *logstorepb.TruncateRequest) (*logstorepb.Status, error) {
	if err := s.store.Truncate(page.LSN(req.GetBefore())); err != nil {
		return nil, toStatus(fmt.Errorf("logstore: truncate: %w", err))
	}
	return logapi.StatusToPB(s.store.Status()), nil
}
