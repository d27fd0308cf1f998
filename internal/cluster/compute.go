// Package cluster assembles the read-write compute node of a Strata cluster: it takes a new
// writer epoch from the control plane (meta), recovers the replicated log from the Log Stores
// with it (logclient), reads pages from the Page Stores (pageclient), and runs the engine on
// them. It also keeps the cluster's housekeeping moving: the Page Stores' compaction horizon
// follows the engine's oldest snapshot, and the log is truncated below what every Page Store
// has persisted.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"strata/internal/archive"
	"strata/internal/bufpool"
	"strata/internal/diskcache"
	"strata/internal/engine"
	"strata/internal/logclient"
	"strata/internal/meta"
	"strata/internal/page"
	"strata/internal/pageclient"
)

// ComputeOptions configure the read-write node.
type ComputeOptions struct {
	Meta *meta.Client // the control plane (required)
	ID   string       // this node's ID in the control plane (default "rw")
	Addr string       // the MySQL address it serves, published in its status
	// Metrics is the address of the node's metrics server, published in its status.
	Metrics string
	Secret  string // the cluster secret (required)

	PoolFrames int // buffer pool size in 16 KiB pages
	// DiskCache, when set, is the file of a second-tier page cache on local disk behind the
	// buffer pool (diskcache), DiskCacheBytes large: a miss of a page the pool evicted reads it
	// there instead of from a Page Store. The file is recreated at open and removed at close.
	DiskCache       string
	DiskCacheBytes  int64
	LockWaitTimeout time.Duration // default row lock wait
	// StallTimeout is how long a commit waits for a Log Store quorum before failing (default
	// 10 s); writes resume by themselves when a quorum is back.
	StallTimeout time.Duration
	// MaintainInterval is how often the horizon and the log truncation move (default 1 s).
	MaintainInterval time.Duration
	// HeartbeatInterval is how often the node publishes its status (default 200 ms): read-only
	// nodes take the writer as lost when its status is older than their failover lease.
	HeartbeatInterval time.Duration
	// Epoch, when not 0, is the writer epoch the node already took (meta.Client.ClaimEpoch);
	// otherwise OpenCompute bumps the epoch itself.
	Epoch uint64
	// Handover, when set, gives the buffer pool to keep once the log is recovered to end: a
	// read-only node promoted to writer hands over its engine's (engine.DB.HandOver). On an
	// error the engine opens with an empty pool.
	Handover func(ctx context.Context, end page.LSN) (*bufpool.Pool, error)
	// HandoverTimeline is the timeline of the pages Handover gives: a pool of another timeline
	// than the one the node writes (the main database moved meanwhile) is not kept.
	HandoverTimeline uint64
	Logger           *slog.Logger
	// EventListener receives the engine's events (commits).
	EventListener engine.EventListener
	// Branch, when set, makes the node the writer of that branch (its point fixed;
	// docs/history.md): its log is the branch's timeline, starting at the branch point, its
	// pages the branch stores, and its epoch and status are the branch's own
	// (Meta.ForBranch), so that it never fences the main database's writer. Meta still gives
	// the topology and the history window.
	Branch *meta.Branch
}

// Compute is a running read-write node.
type Compute struct {
	*engine.DB
	Log   *logclient.Log
	Pages *pageclient.Client
	// DiskCache is the second-tier page cache, nil without one.
	DiskCache *diskcache.Cache

	opts   ComputeOptions
	own    *meta.Client // where its epoch and status live: opts.Meta, or a branch's (ForBranch)
	addr   atomic.Value // string: the MySQL address, once serving
	health atomic.Pointer[func() error]
	failed chan struct{} // closed when the engine failed (see Failed)
	reg    *meta.Registration
	epoch  uint64
	// acks: the read-only node instances whose horizon the engine honours, and from which
	// LSN (published in the status, see meta.Node.Acks).
	acksMu sync.Mutex
	acks   map[string]uint64
	stop   chan struct{}
	kick   chan struct{} // publish the status now (SetAddr)
	// timeline is the timeline it writes: the main database's (0 until a restore) or its
	// branch's.
	timeline uint64
	moved    chan struct{} // closed when the main database moved to another timeline (Moved)
	// The archive (archive.go): archiving says the cluster has one; archiver is the log's
	// archiver once running; archiveErr why it cannot run now.
	archiving  bool
	archiver   atomic.Pointer[archive.LogArchiver]
	archiveErr atomic.Pointer[error]
	basePin    atomic.Uint64      // a base is being taken at this position: the horizon stays at or below it
	bg         context.Context    // the background work's (the archiver, searches of the archive)
	cancelBg   context.CancelFunc // ends the background work
	searches   archiveSearches    // of the archive, for branch points (archivepoint.go)
	// lastHorizon is the last horizon given to the Page Stores (maintain's goroutine only).
	lastHorizon page.LSN
	wg          sync.WaitGroup
	once        sync.Once
}

// ErrNoStores is returned when the control plane lists no Log Stores or no Page Stores.
var ErrNoStores = errors.New("cluster: the control plane lists no stores")

// OpenCompute becomes the cluster's writer: it bumps the epoch (fencing any earlier writer
// out of the Log Stores), recovers the log to its last complete group held by a quorum, and
// opens the engine at that position, reading pages from the Page Stores. No redo is
// replayed here.
func OpenCompute(ctx context.Context, opts ComputeOptions) (*Compute, error) {
	if opts.Meta == nil {
		return nil, errors.New("cluster: ComputeOptions.Meta is required")
	}
	if opts.ID == "" {
		opts.ID = "rw"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaintainInterval <= 0 {
		opts.MaintainInterval = time.Second
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = 200 * time.Millisecond
	}
	lg := opts.Logger.With("component", "compute")
	logAddrs, pagePlacement, segPages, err := Topology(ctx, opts.Meta)
	if err != nil {
		return nil, err
	}
	own := opts.Meta // where the node's epoch and status live
	lo := logclient.Options{Addrs: logAddrs, Secret: opts.Secret, StallTimeout: opts.StallTimeout, Logger: opts.Logger}
	po := pageclient.Options{Placement: pagePlacement, SegmentPages: segPages, Secret: opts.Secret, Logger: opts.Logger}
	tl := opts.Branch
	if tl != nil {
		if tl.LSN == 0 {
			return nil, fmt.Errorf("cluster: branch %s has no branch point yet", tl.Name)
		}
		own = opts.Meta.ForBranch(tl.Name)
		lg = lg.With("branch", tl.Name, "timeline", tl.Timeline)
	} else {
		m, err := opts.Meta.Main(ctx) // another timeline after a point-in-time restore
		if err != nil {
			return nil, err
		}
		tl = &m
		if m.Timeline != 0 {
			lg = lg.With("timeline", m.Timeline)
		}
	}
	lo.Timeline, lo.Start, po.Timeline = tl.Timeline, page.LSN(tl.LSN), tl.Timeline
	if tl.Archive != nil { // made from the archive: its log starts at the archive's base
		lo.Start = page.LSN(tl.Archive.Start)
	}
	epoch := opts.Epoch
	if epoch == 0 {
		if epoch, err = own.BumpEpoch(ctx); err != nil {
			return nil, err
		}
	}
	lo.Epoch = epoch
	lg.Info("compute: recovering the log", "epoch", epoch, "logstores", logAddrs)
	start := time.Now()
	log, err := logclient.Recover(ctx, lo)
	if err != nil {
		return nil, fmt.Errorf("cluster: recover the log with epoch %d: %w", epoch, err)
	}
	if err := seedLog(ctx, opts.Meta, log, *tl, lg); err != nil {
		_ = log.Close()
		return nil, err
	}
	pages, err := pageclient.New(po)
	if err != nil {
		_ = log.Close()
		return nil, err
	}
	if tl.Timeline != 0 {
		// The Page Stores open a timeline's stores once its log exists (Recover made it):
		// the engine reads its catalog from them.
		if err := awaitBranchStores(ctx, pages, tl.Archive != nil && tl.Archive.Base, lg); err != nil {
			_ = pages.Close()
			_ = log.Close()
			return nil, err
		}
	}
	frames := opts.PoolFrames
	if frames <= 0 {
		frames = engine.DefaultPoolFrames
	}
	// Page Stores consume every durable record, the part of a group still being written
	// included, so a changed page may leave the pool once its record is durable (the engine's
	// default) and a commit larger than the pool spills.
	eo := engine.Options{Log: log, Pages: pages, Times: pages, PoolFrames: frames,
		LockWaitTimeout: opts.LockWaitTimeout, Logger: opts.Logger, EventListener: opts.EventListener,
		RemotePages: true}
	kept := 0
	if opts.Handover != nil && opts.HandoverTimeline != tl.Timeline {
		lg.Warn("compute: the read-only engine's buffer pool is of another timeline; opening with an empty one",
			"pool", opts.HandoverTimeline, "timeline", tl.Timeline)
	} else if opts.Handover != nil {
		hctx, cancel := context.WithTimeout(ctx, handoverWait)
		pool, err := opts.Handover(hctx, log.End())
		cancel()
		if err != nil {
			lg.Warn("compute: the read-only engine's buffer pool is not kept; opening with an empty one", "err", err)
		} else {
			eo.Pool, kept = pool, pool.CachedPages()
		}
	}
	var tier *diskcache.Cache
	if opts.DiskCache != "" && opts.DiskCacheBytes > 0 {
		if tier, err = diskcache.Open(diskcache.Options{Path: opts.DiskCache, Bytes: opts.DiskCacheBytes}); err != nil {
			_ = pages.Close()
			_ = log.Close()
			return nil, fmt.Errorf("cluster: %w", err)
		}
		eo.SecondTier = tier
	}
	eng, err := engine.Open(ctx, eo)
	if err != nil && eo.Pool != nil {
		lg.Warn("compute: the read-only engine's buffer pool is not kept; opening with an empty one", "err", err)
		eo.Pool, kept = nil, 0
		eng, err = engine.Open(ctx, eo)
	}
	if err != nil {
		_ = pages.Close()
		_ = log.Close()
		if tier != nil {
			_ = tier.Close()
		}
		return nil, fmt.Errorf("cluster: open the engine at %d: %w", log.Recovered(), err)
	}
	c := &Compute{DB: eng, Log: log, Pages: pages, DiskCache: tier, opts: opts, own: own, epoch: epoch, acks: map[string]uint64{},
		stop: make(chan struct{}), failed: make(chan struct{}), kick: make(chan struct{}, 1),
		timeline: tl.Timeline, moved: make(chan struct{})}
	arch, archiving, err := archiveSettings(ctx, opts.Meta, tl.Timeline)
	if err != nil {
		_ = eng.Close()
		_ = pages.Close()
		_ = log.Close()
		if tier != nil {
			_ = tier.Close()
		}
		return nil, err
	}
	c.archiving = archiving
	lg.Info("compute: open", "epoch", epoch, "end", uint64(log.Recovered()), "took", time.Since(start), "kept_pages", kept)
	reg, err := own.Register(ctx, c.status(epoch), 5*time.Second)
	if err != nil {
		lg.Warn("compute: cannot publish status", "err", err)
	}
	c.reg = reg
	// Read-only nodes already serving (this node replaces a writer that stopped) hold the
	// purge horizon from now on: report them before the purge's first round.
	c.reportReaders(ctx)
	c.bg, c.cancelBg = context.WithCancel(context.Background())
	c.wg.Add(3)
	go c.maintain(epoch, segPages)
	go c.heartbeat(epoch)
	go c.followReaders()
	if opts.Branch == nil {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			watchMain(opts.Meta, c.timeline, c.stop, c.moved, lg)
		}()
	}
	if c.archiving {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.archiveLog(c.bg, arch, *tl, opts.Branch == nil, lg)
		}()
	}
	return c, nil
}

// Topology reads the Log Store addresses and the Page Store placement from the control plane.
// Without a recorded placement every segment is on every Page Store.
func Topology(ctx context.Context, mc *meta.Client) (logAddrs []string, pl pageclient.Placement, segPages uint64, err error) {
	nodes, err := mc.Nodes(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	for _, n := range nodes {
		if n.Role == meta.RoleLogStore {
			logAddrs = append(logAddrs, n.Addr)
		}
	}
	p, ok, addrOf, err := LoadPlacement(ctx, mc)
	if err != nil {
		return nil, nil, 0, err
	}
	if len(logAddrs) == 0 || len(addrOf) == 0 {
		return nil, nil, 0, fmt.Errorf("%w: %d log stores, %d page stores", ErrNoStores, len(logAddrs), len(addrOf))
	}
	if !ok {
		var all []string
		for _, a := range addrOf {
			all = append(all, a)
		}
		slices.Sort(all)
		return logAddrs, pageclient.Static{Default: all}, 0, nil
	}
	return logAddrs, ClientPlacement(p, addrOf), p.SegmentPages, nil
}

// refreshPlacement follows moves of segments: the page client reads from the replicas the
// control plane lists now.
func (c *Compute) refreshPlacement(ctx context.Context, segPages uint64) error {
	return refreshPlacement(ctx, c.opts.Meta, c.Pages, segPages)
}

// refreshPlacement points pages at the replicas the control plane lists now.
func refreshPlacement(ctx context.Context, mc *meta.Client, pages *pageclient.Client, segPages uint64) error {
	p, ok, addrOf, err := LoadPlacement(ctx, mc)
	if err != nil || !ok {
		return err
	}
	if p.SegmentPages != segPages {
		return fmt.Errorf("cluster: the placement's segment size is %d pages, this node started with %d: restart it", p.SegmentPages, segPages)
	}
	pages.SetPlacement(ClientPlacement(p, addrOf))
	return nil
}

// Failed is closed, within MaintainInterval, once the engine has failed (engine.ErrFailed:
// its pages no longer match the log, for instance after the log refused an append). The node
// must then stop and start again: a new node recovers from the Log and Page Stores.
func (c *Compute) Failed() <-chan struct{} { return c.failed }

// Moved is closed once the main database is another timeline than the one this node writes
// (a point-in-time restore, docs/history.md): the node must stop and start again, on the
// new timeline. A branch's writer never moves.
func (c *Compute) Moved() <-chan struct{} { return c.moved }

// Timeline is the timeline the node writes.
func (c *Compute) Timeline() uint64 { return c.timeline }

// SetAddr sets the MySQL address the node publishes in its status.
func (c *Compute) SetAddr(addr string) {
	c.addr.Store(addr)
	select { // publish it now: a proxy waits for the new writer's address
	case c.kick <- struct{}{}:
	default:
	}
}

// SetHealth sets how the node checks that it serves clients: while f returns an error, the
// node publishes the state "unhealthy" instead of "up".
func (c *Compute) SetHealth(f func() error) { c.health.Store(&f) }

func (c *Compute) status(epoch uint64) meta.Node {
	addr, _ := c.addr.Load().(string)
	if addr == "" {
		addr = c.opts.Addr
	}
	state := meta.StateUp
	if f := c.health.Load(); f != nil && (*f)() != nil {
		state = meta.StateUnhealthy
	}
	c.acksMu.Lock()
	var acks map[string]uint64
	if len(c.acks) > 0 {
		acks = maps.Clone(c.acks)
	}
	c.acksMu.Unlock()
	archived, archiveErr := c.archiveStatus()
	return meta.Node{Role: meta.RoleRW, ID: c.opts.ID, Addr: addr, Metrics: c.opts.Metrics, PID: os.Getpid(), State: state,
		Epoch: epoch, Durable: uint64(c.Log.Durable()), Applied: uint64(c.VisibleLSN()), Acks: acks, Timeline: c.timeline,
		Archived: archived, ArchiveError: archiveErr}
}

// maintain follows the placement, moves the Page Stores' horizon with the engine's oldest
// snapshot, the history window and the snapshots (horizon), truncates the
// log below what every Page Store has persisted, and publishes the node's status.
func (c *Compute) maintain(epoch, segPages uint64) {
	defer c.wg.Done()
	lg := c.opts.Logger.With("component", "compute")
	t := time.NewTicker(c.opts.MaintainInterval)
	defer t.Stop()
	// Snapshots and branches just asked for are fixed sooner than the round: their makers
	// wait. The control plane reports changes to their records; while some still wait (a
	// moment not past yet, an archive search), they are looked at every pendingInterval.
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	changes := c.opts.Meta.PendingChanges(wctx, 0) // the rounds below are the resync
	fast := time.NewTicker(pendingInterval)
	defer fast.Stop()
	var again <-chan time.Time // fast.C while some wait
	for {
		select {
		case <-c.stop:
			return
		case <-changes:
			again = c.pendingRound(lg, fast.C)
			continue
		case <-again:
			again = c.pendingRound(lg, fast.C)
			continue
		case <-t.C:
		}
		if err := c.DB.Failure(); err != nil {
			lg.Error("compute: the engine failed; this node must restart", "err", err)
			close(c.failed)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.MaintainInterval)
		if err := c.refreshPlacement(ctx, segPages); err != nil {
			lg.Warn("compute: follow the placement", "err", err)
		}
		if h, retain := c.horizon(ctx, lg); h > 0 {
			if err := c.Pages.SetHorizon(ctx, h, retain...); err != nil {
				lg.Debug("compute: set horizon", "err", err)
			}
		}
		// Only what every Page Store persisted, and the archive holds, may go; a store that
		// does not answer holds the truncation back.
		low, err := c.Pages.MinPersisted(ctx)
		if limit, ok := c.archivedLimit(); ok {
			low = min(low, limit)
		}
		if err == nil && low > page.LSN(0) {
			if err := c.Log.Truncate(low); err != nil {
				lg.Debug("compute: truncate the log", "below", uint64(low), "err", err)
			}
		}
		cancel()
	}
}

// pendingRound fixes the snapshots and branches that wait, between the maintain rounds, and
// returns tick while some still wait (nil otherwise).
func (c *Compute) pendingRound(lg *slog.Logger, tick <-chan time.Time) <-chan time.Time {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.MaintainInterval)
	defer cancel()
	if _, _, pending, err := c.fixPending(ctx, lg); pending || err != nil {
		return tick
	}
	return nil
}

// heartbeat publishes the node's status, on its own loop: a Page Store slow to answer in
// maintain must not stop it (read-only nodes take a writer silent for their failover lease as
// lost).
func (c *Compute) heartbeat(epoch uint64) {
	defer c.wg.Done()
	if c.reg == nil {
		return
	}
	lg := c.opts.Logger.With("component", "compute")
	t := time.NewTicker(c.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		case <-c.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(c.opts.HeartbeatInterval, time.Second))
		if err := c.reg.Update(ctx, c.status(epoch)); err != nil {
			lg.Debug("compute: publish status", "err", err)
		}
		cancel()
	}
}

// handoverWait bounds how long a promoted read-only node's replay may take to reach the
// recovered log's end before the writer opens without its pool.
const handoverWait = 5 * time.Second

// Epoch is the writer epoch the node writes with.
func (c *Compute) Epoch() uint64 { return c.epoch }

// Close stops the node: the engine, then its connections to the stores.
func (c *Compute) Close() error {
	var err error
	c.once.Do(func() {
		close(c.stop)
		c.cancelBg()
		c.wg.Wait()
		if c.reg != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = c.reg.Close(ctx)
			cancel()
		}
		err = errors.Join(c.DB.Close(), c.Pages.Close(), c.Log.Close())
		if c.DiskCache != nil {
			err = errors.Join(err, c.DiskCache.Close())
		}
	})
	return err
}
