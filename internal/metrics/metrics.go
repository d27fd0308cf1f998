// Package metrics serves a node's Prometheus metrics over HTTP: a registry that holds the Go
// runtime and process collectors beside the node's own, and a server for /metrics that binds
// loopback unless told otherwise and, beyond loopback, asks for the cluster secret.
package metrics

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric a Strata node exports.
const Namespace = "strata"

// NewRegistry returns a registry with the Go runtime and process collectors registered.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Options configure a Server.
type Options struct {
	// Addr is the host:port to listen on; port 0 picks a free one.
	Addr string
	// Gatherer is what /metrics serves (a registry from NewRegistry).
	Gatherer prometheus.Gatherer
	// Secret is the cluster secret. A server on an address other than loopback requires it
	// as a bearer token (Prometheus's `authorization: {credentials: ...}`); it refuses to
	// start on such an address without one.
	Secret string
	Logger *slog.Logger // slog.Default() when nil
}

// Server serves /metrics.
type Server struct {
	ln  net.Listener
	srv *http.Server
	lg  *slog.Logger
}

// ErrNoSecret is a metrics address beyond loopback with no secret to protect it.
var ErrNoSecret = errors.New("metrics: an address beyond loopback needs the cluster secret")

// Listen binds opts.Addr (a port in use is an error that names it) and serves /metrics on it
// until Close.
func Listen(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("metrics address %q: %w", opts.Addr, err)
	}
	loopback := isLoopback(host)
	if !loopback && opts.Secret == "" {
		return nil, fmt.Errorf("metrics address %q: %w", opts.Addr, ErrNoSecret)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", opts.Addr, err)
	}
	var h http.Handler = promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
	if !loopback {
		h = requireBearer(opts.Secret, h)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	s := &Server{ln: ln, lg: opts.Logger,
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.lg.Error("metrics: serve", "addr", ln.Addr(), "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, waiting up to a few seconds for scrapes in flight.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// Loopback says whether addr (host:port) is a loopback address, where a metrics server asks
// for no secret; a scrape of any other address carries the cluster secret.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && isLoopback(host)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// requireBearer answers 401 unless the request carries "Authorization: Bearer <secret>".
func requireBearer(secret string, h http.Handler) http.Handler {
	want := []byte("Bearer " + secret)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="strata metrics"`)
			http.Error(w, "the cluster secret is required as a bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
