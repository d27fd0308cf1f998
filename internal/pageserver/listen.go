package pageserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"

	"strata/internal/pageapi"
	"strata/internal/pageapi/pageserverpb"
	"strata/internal/rpcauth"
)

// Options configure Listen.
type Options struct {
	Addr    string        // host:port to listen on; port 0 picks a free one
	Secret  string        // the cluster secret every call must carry
	MaxWait time.Duration // longest GetPage wait for the log when the caller allows more (DefaultMaxWait)
	Logger  *slog.Logger
	// ServerOptions are added after the authentication interceptors (tests add interceptors
	// that delay or damage answers).
	ServerOptions []grpc.ServerOption
}

// stopTimeout bounds how long Stop waits for calls in progress.
const stopTimeout = 5 * time.Second

// Server is a running Page Store service.
type Server struct {
	svc  *Service
	grpc *grpc.Server
	lis  net.Listener
	done chan error // Serve's result
	log  *slog.Logger

	stopOnce sync.Once
	stopErr  error
}

// Listen starts serving store on opts.Addr. Stop it with Stop; the store stays open.
func Listen(ctx context.Context, store Store, opts Options) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	auth, err := rpcauth.ServerOptions(opts.Secret)
	if err != nil {
		return nil, fmt.Errorf("pageserver: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("pageserver: listen: %w", err)
	}
	log = log.With("component", "pageserver", "addr", lis.Addr().String())
	codec := pageapi.NewCodec()
	g := grpc.NewServer(append(append(auth, codec.ServerOption()), append(pageapi.ServerOptions(), opts.ServerOptions...)...)...)
	svc := NewService(store, log, opts.MaxWait, codec)
	pageserverpb.RegisterPageStoreServer(g, svc)
	s := &Server{svc: svc, grpc: g, lis: lis, done: make(chan error, 1), log: log}
	go func() { s.done <- g.Serve(lis) }()
	log.Info("pageserver: serving")
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Stop ends waiting calls with Unavailable, lets calls in progress finish for a bounded time
// and closes the listener and connections. Later calls return the first call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	s.svc.Close()
	stopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(stopTimeout):
		s.log.Warn("pageserver: calls did not finish in time; closing", "waited", stopTimeout)
		s.grpc.Stop()
		<-stopped
	}
	err := <-s.done
	if err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("pageserver: serve: %w", err)
	}
	s.log.Info("pageserver: stopped")
	return nil
}
