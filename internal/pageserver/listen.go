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

	"strata/internal/pageserver/pageserverpb"
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

// window is the HTTP/2 flow-control window per stream and connection. A page (16 KiB) is
// larger than a quarter of the default 64 KiB window, so with it every few answers cost a
// WINDOW_UPDATE round; a fixed large window also turns off gRPC's bandwidth probing pings.
const window = 1 << 20

// transportOptions are the server's HTTP/2 settings for page-sized answers.
func transportOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.InitialWindowSize(window), grpc.InitialConnWindowSize(window),
		grpc.WriteBufferSize(64 << 10), grpc.ReadBufferSize(64 << 10)}
}

// DialOptions are the client's HTTP/2 settings matching the server's.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithInitialWindowSize(window), grpc.WithInitialConnWindowSize(window),
		grpc.WithWriteBufferSize(64 << 10), grpc.WithReadBufferSize(64 << 10)}
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
	codec := NewCodec()
	g := grpc.NewServer(append(append(auth, codec.ServerOption()), append(transportOptions(), opts.ServerOptions...)...)...)
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
