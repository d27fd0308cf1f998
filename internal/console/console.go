// Package console is Strata's web console: an HTTP server that shows a running cluster's
// topology (every node with its role, state, epoch and address), each store's log positions
// and its lag behind the durable LSN, the Page Store segments, and live charts of throughput
// and latency derived from the nodes' Prometheus metrics.
//
// The page is rendered on the server (html/template) and kept current by a small embedded
// script that polls /api/cluster, the same view as JSON; charts are inline SVG. Nothing is
// built or fetched from elsewhere. The cluster's state comes from a Source (the control
// plane: MetaSource); every Interval the console scrapes the compute and Page Store nodes'
// /metrics and keeps the last few minutes of derived series.
//
// The console binds loopback unless told otherwise, and there answers only requests
// addressed to a loopback host (no DNS rebinding). Beyond loopback it refuses to start
// without the cluster secret or a password, and then requires one of them, as the password
// of HTTP basic authentication (any user name) or as a bearer token.
package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"strata/internal/metrics"
)

// Options configure a Server.
type Options struct {
	// Addr is the host:port to listen on; port 0 picks a free one.
	Addr   string
	Source Source
	// Secret is the cluster secret. Scrapes of metrics beyond loopback carry it as a bearer
	// token; a console beyond loopback accepts it as its password.
	Secret string
	// Password is another password a console beyond loopback accepts.
	Password string
	// Interval is how often the console scrapes the nodes' metrics (default 2 s).
	Interval time.Duration
	Logger   *slog.Logger // slog.Default() when nil
}

// ErrNoSecret is a console address beyond loopback with neither the cluster secret nor a
// password to protect it.
var ErrNoSecret = errors.New("console: an address beyond loopback needs the cluster secret or a password")

// Server serves the console until Close.
type Server struct {
	opts     Options
	loopback bool
	ln       net.Listener
	srv      *http.Server
	client   *http.Client
	page     *pageTemplate
	cancel   context.CancelFunc
	done     chan struct{}

	snapMu  sync.Mutex // held while the control plane is read, so that requests share a read
	snap    Cluster
	snapAt  time.Time // when snap was read
	snapErr error     // the last read's error, nil once one succeeds

	mu      sync.Mutex
	last    map[string]sample // the previous scrape, by node
	points  []Point
	scrapeE map[string]string
}

// snapshotMaxAge is how long a read of the control plane serves requests before the next one
// reads it again.
const snapshotMaxAge = 500 * time.Millisecond

// Listen binds opts.Addr (a port in use is an error that names it), serves the console on it
// and scrapes the nodes' metrics until Close or the end of ctx.
func Listen(ctx context.Context, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.Source == nil {
		return nil, errors.New("console: no source of cluster state")
	}
	if _, _, err := net.SplitHostPort(opts.Addr); err != nil {
		return nil, fmt.Errorf("console address %q: %w", opts.Addr, err)
	}
	loopback := metrics.Loopback(opts.Addr)
	if !loopback && opts.Secret == "" && opts.Password == "" {
		return nil, fmt.Errorf("console address %q: %w", opts.Addr, ErrNoSecret)
	}
	page, err := parsePage()
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("console: listen on %s: %w", opts.Addr, err)
	}
	s := &Server{opts: opts, loopback: loopback, ln: ln, page: page, done: make(chan struct{}),
		client: &http.Client{Timeout: opts.Interval}}
	s.srv = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn)}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			opts.Logger.Error("console: serve", "addr", ln.Addr(), "err", err)
		}
	}()
	lctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	go s.collect(lctx)
	return s, nil
}

// Addr is the address the console listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the console's page.
func (s *Server) URL() string { return "http://" + s.Addr() + "/" }

// Close stops scraping and serving, waiting up to a few seconds for requests in flight.
func (s *Server) Close() error {
	s.cancel()
	<-s.done
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// snapshot returns the cluster's state read at most snapshotMaxAge ago, the time it was
// read, and the error of the last read (the state is then the last one read).
func (s *Server) snapshot(ctx context.Context) (Cluster, time.Time, error) {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if !s.snapAt.IsZero() && time.Since(s.snapAt) < snapshotMaxAge {
		return s.snap, s.snapAt, s.snapErr
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := s.opts.Source.Snapshot(ctx)
	if err != nil {
		s.snapErr = fmt.Errorf("console: read the control plane: %w", err)
		return s.snap, s.snapAt, s.snapErr
	}
	s.snap, s.snapAt, s.snapErr = c, time.Now(), nil
	return c, s.snapAt, nil
}

// view is what the page and /api/cluster show now.
func (s *Server) view(ctx context.Context) View {
	c, at, err := s.snapshot(ctx)
	if at.IsZero() {
		at = time.Now()
	}
	v := buildView(c, at)
	if err != nil {
		v.Error = err.Error()
	}
	s.mu.Lock()
	v.Series = Series{Interval: s.opts.Interval.Seconds(), Points: append([]Point(nil), s.points...)}
	if len(s.scrapeE) > 0 {
		v.ScrapeErrors = make(map[string]string, len(s.scrapeE))
		for k, e := range s.scrapeE {
			v.ScrapeErrors[k] = e
		}
	}
	s.mu.Unlock()
	return v
}

// collect scrapes the nodes every Interval until ctx ends.
func (s *Server) collect(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		s.scrapeOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scrapeOnce scrapes every node that exports what the console reads, at once, and adds the
// point derived from this scrape and the previous one.
func (s *Server) scrapeOnce(ctx context.Context) {
	c, at, _ := s.snapshot(ctx)
	type result struct {
		key string
		s   sample
		err error
	}
	var wg sync.WaitGroup
	results := make(chan result, len(c.Nodes))
	for _, n := range c.Nodes {
		if !scraped(n.Role) || n.Metrics == "" || n.IsDown(at) {
			continue
		}
		key, addr := n.Role+"/"+n.ID, n.Metrics
		wg.Add(1)
		go func() {
			defer wg.Done()
			sm, err := scrape(ctx, s.client, addr, s.opts.Secret)
			results <- result{key, sm, err}
		}()
	}
	wg.Wait()
	close(results)
	cur, errs := map[string]sample{}, map[string]string{}
	for r := range results {
		if r.err != nil {
			errs[r.key] = r.err.Error()
			s.opts.Logger.Debug("console: scrape", "node", r.key, "err", r.err)
			continue
		}
		cur[r.key] = r.s
	}
	if ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last != nil {
		s.points = append(s.points, derive(s.last, cur, time.Now()))
		if len(s.points) > maxPoints {
			s.points = append(s.points[:0], s.points[len(s.points)-maxPoints:]...)
		}
	}
	s.last, s.scrapeE = cur, errs
}

// authorized says whether r carries the cluster secret or the password: as the password of
// basic authentication, or as a bearer token.
func (s *Server) authorized(r *http.Request) bool {
	given := ""
	if _, pass, ok := r.BasicAuth(); ok {
		given = pass
	} else if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		given = tok
	} else {
		return false
	}
	ok := false
	for _, want := range []string{s.opts.Secret, s.opts.Password} {
		if want != "" && subtle.ConstantTimeCompare([]byte(given), []byte(want)) == 1 {
			ok = true
		}
	}
	return ok
}

// loopbackHost says whether a request's Host names a loopback host.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return metrics.Loopback(net.JoinHostPort(host, "0"))
}
