// Package pageclient is a storage.PageSource over Page Store replicas (internal/pageserver).
// GetPage sends the request to one replica of the page's segment; when that replica fails,
// answers with a page that does not verify, or is slower than its recent 99th percentile plus
// a margin, the next replica is asked as well (a hedged request), and the first good answer
// wins. A replica that failed or lost a hedge is tried last for a while, so a replica that is
// down costs at most one fast retry. A page not found comes back as storage.ErrPageNotFound
// at once (it holds on every replica); a position compacted away is asked of the other
// replicas (one copied from a peer lacks older history) and comes back as
// storage.ErrCompacted when none has it.
package pageclient

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"strata/internal/page"
	"strata/internal/pageapi"
	"strata/internal/pageapi/pageserverpb"
	"strata/internal/placement"
	"strata/internal/rpcauth"
	"strata/internal/storage"
)

// Options configure a Client.
type Options struct {
	Placement    Placement // which replicas hold each segment (required)
	SegmentPages uint64    // pages per segment; 0: one segment (0) holds every page
	Secret       string    // the cluster secret (required)

	// A request is hedged to the next replica after the current replica's recent p99 plus
	// HedgeMargin (default 2 ms), at least HedgeMin (default 1 ms) and at most HedgeMax
	// (default 50 ms).
	HedgeMargin, HedgeMin, HedgeMax time.Duration
	// AvoidFor is how long a replica that failed or lost a hedge is tried last (default 1 s).
	AvoidFor time.Duration

	Logger      *slog.Logger      // slog.Default() when nil
	DialOptions []grpc.DialOption // added to the defaults (insecure transport, the secret)
	// Timeline is the database every request names: 0 the main one, N > 0 a branch's.
	Timeline uint64
}

// Client is a storage.PageSource over Page Store replicas. It is safe for concurrent use.
type Client struct {
	opts  Options
	log   *slog.Logger
	dial  []grpc.DialOption
	codec *pageapi.Codec // decodes answers into recycled pages

	placement atomic.Pointer[placementBox] // see SetPlacement

	mu     sync.Mutex
	reps   map[string]*replica
	closed bool
}

type placementBox struct{ p Placement }

// SetPlacement replaces the placement (the segments moved); calls already under way finish
// with the replicas they chose.
func (c *Client) SetPlacement(p Placement) {
	if p != nil {
		c.placement.Store(&placementBox{p})
	}
}

// Placement returns the placement in use.
func (c *Client) Placement() Placement { return c.placement.Load().p }

var _ storage.PageSource = (*Client)(nil)

// New returns a client; connections are made on first use and reused.
func New(opts Options) (*Client, error) {
	if opts.Placement == nil {
		return nil, errors.New("pageclient: Options.Placement is required")
	}
	cred, err := rpcauth.DialOption(opts.Secret)
	if err != nil {
		return nil, fmt.Errorf("pageclient: %w", err)
	}
	if opts.HedgeMargin <= 0 {
		opts.HedgeMargin = 2 * time.Millisecond
	}
	if opts.HedgeMin <= 0 {
		opts.HedgeMin = time.Millisecond
	}
	if opts.HedgeMax <= 0 {
		opts.HedgeMax = 50 * time.Millisecond
	}
	if opts.AvoidFor <= 0 {
		opts.AvoidFor = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	codec := pageapi.NewCodec()
	dial := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()), cred, codec.DialOption()},
		pageapi.DialOptions()...)
	dial = append(dial, opts.DialOptions...)
	c := &Client{opts: opts, log: opts.Logger.With("component", "pageclient"), dial: dial, codec: codec,
		reps: make(map[string]*replica)}
	c.SetPlacement(opts.Placement)
	return c, nil
}

// Close closes every connection; later calls return storage.ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	for _, r := range c.reps {
		if err := r.conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("pageclient: close %s: %w", r.addr, err))
		}
	}
	return errors.Join(errs...)
}

// replica returns the connection to addr, dialling it on first use.
func (c *Client) replica(addr string) (*replica, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, storage.ErrClosed
	}
	if r := c.reps[addr]; r != nil {
		return r, nil
	}
	conn, err := grpc.Dial(addr, c.dial...)
	if err != nil {
		return nil, fmt.Errorf("pageclient: dial %s: %w", addr, err)
	}
	r := &replica{addr: addr, conn: conn, pb: pageserverpb.NewPageStoreClient(conn), codec: c.codec, timeline: c.opts.Timeline}
	c.reps[addr] = r
	return r, nil
}

// segment returns the segment of page id.
func (c *Client) segment(id page.ID) uint64 { return placement.SegmentOf(id, c.opts.SegmentPages) }

// order returns the replicas of page id's segment in the order to try them: starting at a
// position chosen by the page (so that the replicas share the reads and each page's versions
// stay warm in one replica's cache), replicas being avoided last.
func (c *Client) order(id page.ID) ([]*replica, error) {
	addrs := c.Placement().Replicas(c.segment(id))
	if len(addrs) == 0 {
		return nil, fmt.Errorf("pageclient: no replica holds segment %d (page %d)", c.segment(id), id)
	}
	now := time.Now()
	out := make([]*replica, 0, len(addrs))
	var later []*replica
	for i := range addrs {
		r, err := c.replica(addrs[(int(id%page.ID(len(addrs)))+i)%len(addrs)])
		if err != nil {
			return nil, err
		}
		if r.avoided(now) {
			later = append(later, r)
		} else {
			out = append(out, r)
		}
	}
	return append(out, later...), nil
}

// hedgeDelay is how long to wait for r before asking the next replica too.
func (c *Client) hedgeDelay(r *replica) time.Duration {
	return min(max(r.lat.P99()+c.opts.HedgeMargin, c.opts.HedgeMin), c.opts.HedgeMax)
}
