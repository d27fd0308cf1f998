package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"strata/internal/engine"
	"strata/internal/logclient"
	"strata/internal/meta"
	"strata/internal/page"
	"strata/internal/pageclient"
	"strata/internal/retry"
)

// ReadOnlyOptions configure a read-only node.
type ReadOnlyOptions struct {
	Meta    *meta.Client // the control plane (required)
	ID      string       // this node's ID in the control plane (default "ro")
	Addr    string       // the MySQL address it serves, published in its status
	Metrics string       // the address of its metrics server, published in its status
	Secret  string       // the cluster secret (required)

	PoolFrames int // buffer pool size in 16 KiB pages
	// MaintainInterval is how often the node publishes its status and follows the placement
	// (default 1 s).
	MaintainInterval time.Duration
	Logger           *slog.Logger
}

// ReadOnly is a running read-only node: an engine that follows the log from the Log Stores
// and reads pages from the Page Stores at its view, and reports its oldest read view to the
// writer through the control plane.
type ReadOnly struct {
	*engine.DB
	Log   *logclient.Reader
	Pages *pageclient.Client

	opts   ReadOnlyOptions
	addr   atomic.Value // string
	health atomic.Pointer[func() error]
	reg    *meta.Registration
	ready  chan struct{} // closed once the writer honours the horizon and the view passed its ack
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
	// timeline is the main database's timeline it follows; moved is closed when the main
	// database moved to another (Moved).
	timeline uint64
	moved    chan struct{}

	// The acknowledgement (see awaitAck and maintain): gen is the node's reader generation,
	// serving says that the writer honours the horizon of this generation and reads are
	// served, acking that an awaitAck runs, lastPublish when the status last reached the
	// control plane (unix nanos).
	gen         atomic.Uint64
	serving     atomic.Bool
	acking      atomic.Bool
	readyOnce   sync.Once
	lastPublish atomic.Int64
}

// lostAfter is how long a serving read-only node may fail to publish its status before it
// refuses reads: the writer takes a node silent for meta.HeartbeatTimeout as gone and stops
// honouring its horizon, and a status may be up to one maintain interval old when it lands.
func (r *ReadOnly) lostAfter() time.Duration {
	return max(meta.HeartbeatTimeout-r.opts.MaintainInterval, r.opts.MaintainInterval)
}

// OpenReadOnly starts a read-only node at the log's latest group end. It copies nothing: its
// buffer pool starts empty and pages are read from the Page Stores as readers need them. It
// registers at once, with its first view as its horizon; Ready says when it may serve.
func OpenReadOnly(ctx context.Context, opts ReadOnlyOptions) (*ReadOnly, error) {
	if opts.Meta == nil {
		return nil, errors.New("cluster: ReadOnlyOptions.Meta is required")
	}
	if opts.ID == "" {
		opts.ID = "ro"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaintainInterval <= 0 {
		opts.MaintainInterval = time.Second
	}
	lg := opts.Logger.With("component", "readonly")
	logAddrs, pagePlacement, segPages, err := Topology(ctx, opts.Meta)
	if err != nil {
		return nil, err
	}
	main, err := opts.Meta.Main(ctx) // another timeline after a point-in-time restore
	if err != nil {
		return nil, err
	}
	start := time.Now()
	rd, err := logclient.NewReader(ctx, logclient.ReaderOptions{Addrs: logAddrs, Secret: opts.Secret, Logger: opts.Logger,
		Timeline: main.Timeline})
	if err != nil {
		return nil, err
	}
	view, err := firstView(ctx, rd)
	if err != nil {
		_ = rd.Close()
		return nil, err
	}
	pages, err := pageclient.New(pageclient.Options{Placement: pagePlacement, SegmentPages: segPages,
		Secret: opts.Secret, Logger: opts.Logger, Timeline: main.Timeline})
	if err != nil {
		_ = rd.Close()
		return nil, err
	}
	eng, err := engine.OpenReadOnly(ctx, engine.ReadOnlyOptions{Pages: pages, Times: pages, View: view, Follow: rd,
		PoolFrames: opts.PoolFrames, Logger: opts.Logger, RemotePages: true})
	if err != nil {
		_ = pages.Close()
		_ = rd.Close()
		return nil, fmt.Errorf("cluster: open the read-only engine at %d: %w", view, err)
	}
	r := &ReadOnly{DB: eng, Log: rd, Pages: pages, opts: opts, ready: make(chan struct{}), stop: make(chan struct{}),
		timeline: main.Timeline, moved: make(chan struct{})}
	lg.Info("readonly: open", "view", uint64(view), "took", time.Since(start))
	if r.reg, err = opts.Meta.Register(ctx, r.status(), 5*time.Second); err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("cluster: register the read-only node: %w", err)
	}
	r.lastPublish.Store(time.Now().UnixNano())
	r.acking.Store(true)
	r.wg.Add(3)
	go r.maintain(segPages)
	go r.awaitAck()
	go func() {
		defer r.wg.Done()
		watchMain(opts.Meta, r.timeline, r.stop, r.moved, lg)
	}()
	return r, nil
}

// Timeline is the timeline the node follows.
func (r *ReadOnly) Timeline() uint64 { return r.timeline }

// Moved is closed once the main database is another timeline than the one this node follows
// (a point-in-time restore): the node must stop and start again, on the new timeline.
func (r *ReadOnly) Moved() <-chan struct{} { return r.moved }

// firstView waits for the log to name a group end to start at.
func firstView(ctx context.Context, rd *logclient.Reader) (page.LSN, error) {
	b := retry.NewBackoff(5*time.Millisecond, 100*time.Millisecond)
	for {
		if v := rd.GroupEnd(); v > 0 {
			return v, nil
		}
		if !b.Wait(ctx) {
			return 0, fmt.Errorf("cluster: no log store named a group end to start at: %w", ctx.Err())
		}
	}
}

// Ready is closed once the node may serve: the writer honours its horizon from some LSN on,
// and the node's view has passed it, so no reader here can need a version the writer's purge
// removed before it knew of this node.
func (r *ReadOnly) Ready() <-chan struct{} { return r.ready }

// SetAddr sets the MySQL address the node publishes in its status.
func (r *ReadOnly) SetAddr(addr string) { r.addr.Store(addr) }

// SetHealth sets how the node checks that it serves clients (see Compute.SetHealth).
func (r *ReadOnly) SetHealth(f func() error) { r.health.Store(&f) }

func (r *ReadOnly) status() meta.Node {
	addr, _ := r.addr.Load().(string)
	if addr == "" {
		addr = r.opts.Addr
	}
	state := meta.StateUp
	if f := r.health.Load(); f != nil && (*f)() != nil {
		state = meta.StateUnhealthy
	}
	if !r.serving.Load() {
		state = meta.StateStarting
	}
	n := meta.Node{Role: meta.RoleRO, ID: r.opts.ID, Addr: addr, Metrics: r.opts.Metrics, PID: os.Getpid(), State: state,
		Applied: uint64(r.VisibleLSN()), Horizon: uint64(r.Horizon()), Pinned: uint64(r.Pinned()), Gen: r.gen.Load(),
		Timeline: r.timeline}
	if st, ok := r.ReplayStats(); ok {
		n.Durable = uint64(st.Durable)
		n.LagMs = float64(st.Behind.Microseconds()) / 1000
	}
	return n
}

// awaitAck waits for the writer to acknowledge this node's horizon (for its current
// generation), then for the view to pass the acknowledged LSN; then the engine serves reads
// at snapshots from that LSN on, and ready is closed the first time.
func (r *ReadOnly) awaitAck() {
	defer r.wg.Done()
	defer r.acking.Store(false)
	lg := r.opts.Logger.With("component", "readonly")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-r.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	key := meta.Node{ID: r.opts.ID, PID: os.Getpid(), Gen: r.gen.Load()}.ReaderKey()
	b := retry.NewBackoff(20*time.Millisecond, 200*time.Millisecond)
	for {
		at, ok := r.ackFrom(ctx, key)
		if ok {
			if _, err := r.WaitVisible(ctx, page.LSN(at)); err != nil {
				return
			}
			r.DB.Serve(page.LSN(at))
			r.serving.Store(true)
			r.readyOnce.Do(func() { close(r.ready) })
			lg.Info("readonly: serving", "acknowledged_at", at, "view", uint64(r.VisibleLSN()), "reader", key)
			// Publish at once: the proxy routes by the state.
			_ = r.publish(ctx)
			return
		}
		if !b.Wait(ctx) {
			return
		}
	}
}

// publish puts the node's status in the control plane.
func (r *ReadOnly) publish(ctx context.Context) error {
	uctx, cancel := context.WithTimeout(ctx, r.opts.MaintainInterval)
	defer cancel()
	err := r.reg.Update(uctx, r.status())
	if err == nil {
		r.lastPublish.Store(time.Now().UnixNano())
	}
	return err
}

// ackFrom returns the LSN from which the writer honours the horizon of reader key.
func (r *ReadOnly) ackFrom(ctx context.Context, key string) (uint64, bool) {
	nodes, err := r.opts.Meta.Nodes(ctx)
	if err != nil {
		return 0, false
	}
	now := time.Now()
	for _, n := range nodes {
		if n.Role == meta.RoleRW && !n.IsDown(now) {
			if at, ok := n.Acks[key]; ok {
				return at, true
			}
		}
	}
	return 0, false
}

// maintain publishes the node's status and follows moves of segments.
func (r *ReadOnly) maintain(segPages uint64) {
	defer r.wg.Done()
	lg := r.opts.Logger.With("component", "readonly")
	t := time.NewTicker(r.opts.MaintainInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		if err := r.publish(context.Background()); err != nil {
			lg.Debug("readonly: publish status", "err", err)
		}
		if silent := time.Since(time.Unix(0, r.lastPublish.Load())); r.serving.Load() && silent > r.lostAfter() {
			// The writer may stop honouring this node's horizon any moment: refuse reads,
			// and be acknowledged anew, as a new reader, once the control plane answers.
			r.serving.Store(false)
			r.DB.Refuse(fmt.Errorf("the node could not publish its oldest read view for %v", silent.Round(time.Millisecond)))
			r.gen.Add(1)
			lg.Warn("readonly: cannot reach the control plane; reads are refused until the writer acknowledges this node again",
				"silent", silent.Round(time.Millisecond), "gen", r.gen.Load())
		}
		if !r.serving.Load() && !r.acking.Load() {
			r.acking.Store(true)
			r.wg.Add(1)
			go r.awaitAck()
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.opts.MaintainInterval)
		if err := refreshPlacement(ctx, r.opts.Meta, r.Pages, segPages); err != nil {
			lg.Warn("readonly: follow the placement", "err", err)
		}
		cancel()
	}
}

// Close stops the node.
func (r *ReadOnly) Close() error {
	var err error
	r.once.Do(func() {
		close(r.stop)
		r.wg.Wait()
		if r.reg != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = r.reg.Close(ctx)
			cancel()
		}
		err = errors.Join(r.DB.Close(), r.Pages.Close(), r.Log.Close())
	})
	return err
}
