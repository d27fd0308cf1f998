package computenode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"strata/internal/bufpool"
	"strata/internal/cluster"
	"strata/internal/diskcache"
	"strata/internal/failover"
	"strata/internal/meta"
	"strata/internal/node"
	"strata/internal/page"
	"strata/internal/retry"
)

// errSteppedDown says the writer handed over in a planned switchover.
var errSteppedDown = errors.New("computenode: the writer stepped down for a switchover")

// errMainMoved says the main database became another timeline (a point-in-time restore): the
// node starts again, in the same role, on it.
var errMainMoved = errors.New("computenode: the main database moved to another timeline")

// holderGrace is how long after a node took the epoch it may still be recovering the log
// before it publishes itself as the writer: a node started as the writer meanwhile follows it.
const holderGrace = 10 * time.Second

// takeEpoch decides whether node id, started as the writer, writes (and takes the next epoch)
// or joins as a read-only node because another node holds the current epoch.
func takeEpoch(ctx context.Context, mc *meta.Client, id string, lg *slog.Logger) (epoch uint64, join bool, err error) {
	b := retry.NewBackoff(20*time.Millisecond, 500*time.Millisecond)
	for attempt := 0; ; attempt++ {
		s, err := snapshot(ctx, mc, 0)
		if err != nil {
			return 0, false, err
		}
		start, why := failover.StartRole(id, s, holderGrace)
		if start == failover.JoinRO {
			lg.Warn("compute: another node holds the writer epoch; joining as a read-only node", "why", why)
			return 0, true, nil
		}
		epoch, err := mc.ClaimEpoch(ctx, s.Epoch, id)
		if err == nil {
			return epoch, false, nil
		}
		if !errors.Is(err, meta.ErrEpochRace) || attempt >= 20 {
			return 0, false, err
		}
		if !b.Wait(ctx) {
			return 0, false, ctx.Err()
		}
	}
}

// snapshot reads what the failover decisions need from the control plane. A writer whose
// status is older than probeAfter (0: never) has its MySQL address probed (failover.Node's
// Refused).
func snapshot(ctx context.Context, mc *meta.Client, probeAfter time.Duration) (failover.Snapshot, error) {
	epoch, err := mc.Epoch(ctx)
	if err != nil {
		return failover.Snapshot{}, err
	}
	nodes, err := mc.Nodes(ctx)
	if err != nil {
		return failover.Snapshot{}, err
	}
	s := failover.Snapshot{Now: time.Now(), Epoch: epoch}
	for _, n := range nodes {
		if n.Role != meta.RoleRW && n.Role != meta.RoleRO {
			continue
		}
		fn := failover.Node{ID: n.ID, Role: n.Role, State: n.State, Down: n.IsDown(s.Now),
			Epoch: n.Epoch, Applied: n.Applied, Updated: n.Updated}
		if probeAfter > 0 && n.Role == meta.RoleRW && n.Addr != "" && n.Epoch >= epoch && s.Now.Sub(n.Updated) >= probeAfter {
			fn.Refused = refuses(ctx, n.Addr)
		}
		s.Nodes = append(s.Nodes, fn)
	}
	if w, err := mc.Writer(ctx); err == nil {
		s.Holder = failover.Holder{ID: w.ID, Epoch: w.Epoch, At: w.At}
	} else if !errors.Is(err, meta.ErrNotFound) {
		return failover.Snapshot{}, err
	}
	if sw, err := mc.PendingSwitchover(ctx); err == nil && sw.Epoch == epoch {
		s.Request = &failover.Request{Epoch: sw.Epoch, Target: sw.Target}
	} else if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return failover.Snapshot{}, err
	}
	return s, nil
}

// refuses reports whether addr refuses a TCP connection now: nothing listens there (the
// process is gone, or no longer serves). A connection that is accepted, or a dial that times
// out (a host cut off, a listener that is overloaded), is not a refusal.
func refuses(ctx context.Context, addr string) bool {
	d := net.Dialer{Timeout: 200 * time.Millisecond}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		_ = c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// runWriter runs the node as the writer with the epoch it took, until ctx ends, its engine
// fails, or a planned switchover asks it to step down (errSteppedDown). from, when not nil, is
// the read-only node it was: its buffer pool is kept (cluster.ComputeOptions.Handover), and it
// is closed.
func runWriter(ctx context.Context, opts Options, mc *meta.Client, m *node.Metrics, epoch uint64, from *cluster.ReadOnly) error {
	return runWriterOf(ctx, opts, mc, m, epoch, from, nil)
}

// runWriterOf is runWriter for the main database (branch nil) or for a branch, whose writer
// takes its epochs from the branch's own keys and has no switchover or snapshots.
func runWriterOf(ctx context.Context, opts Options, mc *meta.Client, m *node.Metrics, epoch uint64, from *cluster.ReadOnly, branch *meta.Branch) error {
	lg := opts.Logger
	co := cluster.ComputeOptions{Meta: mc, ID: opts.ID, Secret: opts.Secret, Epoch: epoch,
		Metrics: m.Addr(), PoolFrames: opts.PoolFrames, StallTimeout: opts.StallTimeout, Logger: lg,
		EventListener: CommitEvents(m.Registerer()), Branch: branch}
	if opts.DiskCacheBytes > 0 {
		co.DiskCache, co.DiskCacheBytes = filepath.Join(opts.SQL.Dir, diskcache.FileName), opts.DiskCacheBytes
	}
	if from != nil {
		closeFrom := sync.OnceFunc(func() {
			if cerr := from.Close(); cerr != nil {
				lg.Warn("compute: close the read-only engine", "err", cerr)
			}
		})
		defer closeFrom()
		co.HandoverTimeline = from.Timeline()
		co.Handover = func(ctx context.Context, end page.LSN) (*bufpool.Pool, error) {
			defer closeFrom() // its registration, its log reader and page client go
			return from.DB.HandOver(ctx, end)
		}
	}
	c, err := cluster.OpenCompute(ctx, co)
	if err != nil {
		return err
	}
	defer c.Close()
	m.MustRegister(EngineCollectors(c.DB)...)
	if c.DiskCache != nil {
		m.MustRegister(DiskCacheCollectors(c.DiskCache)...)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stepDown := make(chan struct{})
	go func() {
		select {
		case <-c.Failed():
			cancel()
		case <-c.Moved():
			cancel()
		case <-sctx.Done():
		}
	}()
	// A switchover drains the SQL server: the statements running finish, the next ones are
	// refused unexecuted (the proxy sends them to the next writer), then it stops.
	so := opts.SQL
	so.Logger, so.Registerer, so.ProxySecret, so.Drain = lg, m.Registerer(), opts.Secret, stepDown
	if branch == nil {
		go watchSwitchover(sctx, mc, epoch, lg, func() { close(stepDown) })
		so.Snapshots = SnapshotsOf(mc, c.Timeline())
	}
	so.Ready = func(addr net.Addr, health func() error) {
		c.SetAddr(addr.String())
		c.SetHealth(health)
		if opts.Ready != nil {
			opts.Ready(addr)
		}
	}
	err = ServeSQL(sctx, c.DB, so)
	if ferr := c.DB.Failure(); ferr != nil && ctx.Err() == nil {
		return fmt.Errorf("stopping: %w", ferr)
	}
	select {
	case <-c.Moved():
		if cerr := c.Close(); cerr != nil {
			lg.Warn("compute: close before moving to the main database's new timeline", "err", cerr)
		}
		return errMainMoved
	default:
	}
	select {
	case <-stepDown:
		if cerr := c.Close(); cerr != nil {
			lg.Warn("compute: close after stepping down", "err", cerr)
		}
		lg.Info("compute: stepped down for a switchover; rejoining as a read-only node", "epoch", epoch)
		return errSteppedDown
	default:
	}
	return err
}

// watchSwitchover calls stepDown once a planned switchover names this writer's epoch. It
// reads the record when the control plane reports a change, and every second besides.
func watchSwitchover(ctx context.Context, mc *meta.Client, epoch uint64, lg *slog.Logger, stepDown func()) {
	for range mc.SwitchoverChanges(ctx, time.Second) { // closed when ctx ends
		sw, err := mc.PendingSwitchover(ctx)
		if err == nil && sw.Epoch == epoch {
			lg.Info("compute: switchover requested; stepping down", "epoch", epoch, "target", sw.Target)
			stepDown()
			return
		}
	}
}

// branchWait bounds how long a branch's writer waits for the main database's writer to fix
// the branch point.
const branchWait = 60 * time.Second

// runBranch runs the node as the writer of branch name (Options.Branch) until ctx ends or its
// engine fails.
func runBranch(ctx context.Context, opts Options, mc *meta.Client) error {
	b, err := awaitBranch(ctx, mc, opts.Branch)
	if err != nil {
		return err
	}
	opts.Logger = opts.Logger.With("branch", b.Name)
	_, err = withMetrics(opts, opts.Logger, func(m *node.Metrics) (uint64, error) {
		return 0, runWriterOf(ctx, opts, mc, m, 0, nil, &b)
	})
	return err
}

// awaitBranch returns branch name once its point is fixed.
func awaitBranch(ctx context.Context, mc *meta.Client, name string) (meta.Branch, error) {
	wctx, cancel := context.WithTimeout(ctx, branchWait)
	defer cancel()
	for {
		b, err := mc.Branch(wctx, name)
		switch {
		case errors.Is(err, meta.ErrNotFound):
			return b, fmt.Errorf("computenode: no branch %s", name)
		case err == nil && b.Error != "":
			return b, fmt.Errorf("computenode: branch %s is void: %s", name, b.Error)
		case err == nil && !b.Pending():
			return b, nil
		case err != nil && wctx.Err() == nil:
			return b, err
		}
		if !retry.Sleep(wctx, 100*time.Millisecond) {
			return b, fmt.Errorf("computenode: the point of branch %s is not fixed within %v (is the main writer up?)", name, branchWait)
		}
	}
}
