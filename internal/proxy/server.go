package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"strata/internal/proxy/route"
	"strata/internal/retry"
)

// Options describe a proxy server.
type Options struct {
	// Discovery finds the compute nodes (required).
	Discovery Discovery
	// Secret is the cluster secret the compute nodes check the proxy's logins with (required).
	Secret string
	// Consistency is the sessions' default read consistency level.
	Consistency route.Consistency
	// PollInterval is how often Discovery is asked (default 250 ms).
	PollInterval time.Duration
	// ConnectTimeout bounds one connection attempt to a node (default 2 s).
	ConnectTimeout time.Duration
	// BackendWait bounds how long a statement (or a login) waits for a read-write node to
	// be known and reachable before the client gets error 2003 (default 5 s).
	BackendWait time.Duration
	// LSNWait bounds how long a read waits for an RO to apply the LSN it needs before it
	// goes to the RW instead (default 100 ms).
	LSNWait time.Duration
	// MaxIdle is the number of idle backend connections kept per pool key (default 16);
	// IdleTimeout closes those idle longer (default 60 s).
	MaxIdle     int
	IdleTimeout time.Duration
	// MaxPacket bounds a client's command (default 64 MiB, error 1153 beyond).
	MaxPacket int
	// ConnectTimeoutClient bounds a client's handshake (default 10 s).
	ClientHandshakeTimeout time.Duration
	Logger                 *slog.Logger
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.PollInterval, 250*time.Millisecond)
	def(&o.ConnectTimeout, 2*time.Second)
	def(&o.BackendWait, 5*time.Second)
	def(&o.LSNWait, 100*time.Millisecond)
	def(&o.IdleTimeout, 60*time.Second)
	def(&o.ClientHandshakeTimeout, 10*time.Second)
	if o.MaxIdle <= 0 {
		o.MaxIdle = 16
	}
	if o.MaxPacket <= 0 {
		o.MaxPacket = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Server is a running proxy.
type Server struct {
	opts  Options
	cfg   *route.Config
	lg    *slog.Logger
	l     net.Listener
	pool  *pool
	stats Stats
	// roTurn gives each new session its turn in the order of the ROs (pickRO).
	roTurn atomic.Uint64
	// version is the server version of the nodes (string), from the last login.
	version atomic.Value

	mu sync.Mutex
	// refreshing is held by whoever asks Discovery outside the poll (awaitRWChange).
	refreshing sync.Mutex
	topo       Topology
	changed    chan struct{} // closed when topo changes
	known      bool          // Discovery answered at least once
	load       map[string]*roState
	clients    map[*session]struct{}
	nextID     uint32

	stop chan struct{}
	wg   sync.WaitGroup
}

// roState is what the proxy learned about one RO.
type roState struct {
	applied  atomic.Uint64 // the highest applied LSN it reported
	inFlight atomic.Int64
}

// Stats counts what the proxy did; every field is safe to read concurrently.
type Stats struct {
	Clients    atomic.Int64 // connected clients
	Logins     atomic.Int64 // successful logins
	LoginFails atomic.Int64
	ToRW       atomic.Int64 // statements sent to the RW
	ToRO       atomic.Int64 // statements sent to an RO
	ToProxy    atomic.Int64 // statements the proxy answered
	ROFallback atomic.Int64 // reads meant for an RO that went to the RW (none caught up, or an RO failed)
	LSNWaits   atomic.Int64 // waits for an RO to reach an LSN
	Dials      atomic.Int64 // backend connections opened
	NoBackend  atomic.Int64 // statements or logins answered 2003: no node reachable in time
	Drained    atomic.Int64 // statements a draining RW refused unexecuted (a switchover), sent again or answered
}

// Listen starts a proxy on l: it serves clients until Close.
func Listen(ctx context.Context, l net.Listener, opts Options) (*Server, error) {
	if opts.Discovery == nil {
		return nil, errors.New("proxy: a discovery source is required")
	}
	if opts.Secret == "" {
		return nil, errors.New("proxy: the cluster secret is required")
	}
	opts.defaults()
	s := &Server{opts: opts, cfg: route.NewConfig(opts.Consistency), lg: opts.Logger, l: l,
		pool: newPool(opts.MaxIdle, opts.IdleTimeout), changed: make(chan struct{}),
		load: map[string]*roState{}, clients: map[*session]struct{}{}, stop: make(chan struct{})}
	s.refresh(ctx)
	s.wg.Add(2)
	go s.poll()
	go s.accept()
	return s, nil
}

// Addr is the address clients connect to.
func (s *Server) Addr() net.Addr { return s.l.Addr() }

// Stats is the proxy's counters.
func (s *Server) Stats() *Stats { return &s.stats }

// IdleBackends is the number of idle pooled backend connections.
func (s *Server) IdleBackends() int { return s.pool.idleCount() }

// Topology is the nodes the proxy currently routes to.
func (s *Server) Topology() Topology {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.topo.clone()
}

// Close stops accepting, disconnects every client and closes the pooled connections.
func (s *Server) Close() error {
	select {
	case <-s.stop:
		return nil
	default:
	}
	close(s.stop)
	err := s.l.Close()
	s.mu.Lock()
	for c := range s.clients {
		c.abort()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.pool.close()
	return err
}

// accept serves every client connection in its own goroutine.
func (s *Server) accept() {
	defer s.wg.Done()
	backoff := retry.NewBackoff(5*time.Millisecond, time.Second)
	for {
		nc, err := s.l.Accept()
		if err != nil {
			select {
			case <-s.stop:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) || !errors.Is(err, net.ErrClosed) {
				s.lg.Warn("proxy: accept", "err", err)
				time.Sleep(backoff.Next()) // out of descriptors: bounded backoff
				continue
			}
			return
		}
		backoff.Reset()
		c := s.newSession(nc)
		if c == nil {
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
		}()
	}
}

// newSession registers a client connection (nil when the server is stopping).
func (s *Server) newSession(nc net.Conn) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stop:
		nc.Close()
		return nil
	default:
	}
	s.nextID++
	c := newSession(s, nc, s.nextID)
	s.clients[c] = struct{}{}
	return c
}

func (s *Server) forget(c *session) {
	s.mu.Lock()
	delete(s.clients, c)
	s.mu.Unlock()
}

// poll asks Discovery for the nodes every PollInterval and prunes idle connections.
func (s *Server) poll() {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	lastPrune := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.refresh(ctx)
		if now := time.Now(); now.Sub(lastPrune) > time.Second {
			lastPrune = now
			s.pool.prune(now, s.isNode)
		}
	}
}

// refresh reads the topology once.
func (s *Server) refresh(ctx context.Context) {
	qctx, cancel := context.WithTimeout(ctx, max(s.opts.PollInterval*4, time.Second))
	t, err := s.opts.Discovery.Topology(qctx)
	cancel()
	if err != nil {
		s.lg.Debug("proxy: discovery", "err", err)
		return
	}
	s.setTopology(t)
}

func (s *Server) setTopology(t Topology) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ro := range t.ROs {
		st := s.load[ro.ID]
		if st == nil {
			st = &roState{}
			s.load[ro.ID] = st
		}
		raise(&st.applied, ro.Applied)
	}
	if !s.known || !t.sameNodes(s.topo) {
		if s.known {
			s.lg.Info("proxy: the compute nodes changed", "rw", describeRW(t.RW), "ros", len(t.ROs))
		}
		close(s.changed)
		s.changed = make(chan struct{})
	}
	s.topo, s.known = t, true
}

func describeRW(n *Node) string {
	if n == nil {
		return "none"
	}
	return fmt.Sprintf("%s@%s", n.ID, n.Addr)
}

// isNode reports whether addr is a node of the current topology.
func (s *Server) isNode(addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.topo.RW != nil && s.topo.RW.Addr == addr {
		return true
	}
	for _, ro := range s.topo.ROs {
		if ro.Addr == addr {
			return true
		}
	}
	return false
}

// rw returns the current RW, waiting up to BackendWait (or ctx) for one to be known.
func (s *Server) rw(ctx context.Context, deadline time.Time) (Node, bool) {
	for {
		s.mu.Lock()
		rw, ch := s.topo.RW, s.changed
		s.mu.Unlock()
		if rw != nil {
			return *rw, true
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return Node{}, false
		}
		t := time.NewTimer(wait)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Node{}, false
		case <-s.stop:
			t.Stop()
			return Node{}, false
		}
		t.Stop()
	}
}

// awaitRWChange waits until the RW the proxy knows is not node (a nodeIdentity), or deadline.
// It asks Discovery itself every 50 ms meanwhile: a switchover's new writer should not wait
// for the next poll.
func (s *Server) awaitRWChange(node string, deadline time.Time) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for {
		if id := s.rwIdentity(); id != "" && id != node {
			return
		}
		s.refreshNow(ctx)
		if id := s.rwIdentity(); id != "" && id != node {
			return
		}
		if !sleepUntil(ctx, s.stop, 50*time.Millisecond) {
			return
		}
	}
}

// refreshNow asks Discovery now, unless another session is doing so.
func (s *Server) refreshNow(ctx context.Context) {
	if s.refreshing.TryLock() {
		s.refresh(ctx)
		s.refreshing.Unlock()
	}
}

// roLoad returns the state the proxy keeps for RO id.
func (s *Server) roLoad(id string) *roState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.load[id]
	if st == nil {
		st = &roState{}
		s.load[id] = st
	}
	return st
}

// raise sets a to v if v is higher.
func raise(a *atomic.Uint64, v uint64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// nodeIdentity names a node incarnation: a new epoch or address is another RW.
func nodeIdentity(n Node) string {
	return fmt.Sprintf("%s@%s#%d", n.ID, n.Addr, n.Epoch)
}

// rwIdentity is the current RW's nodeIdentity ("" for none).
func (s *Server) rwIdentity() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.topo.RW == nil {
		return ""
	}
	return nodeIdentity(*s.topo.RW)
}

// currentRW is the RW, if one is known now.
func (s *Server) currentRW() (Node, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.topo.RW == nil {
		return Node{}, false
	}
	return *s.topo.RW, true
}
