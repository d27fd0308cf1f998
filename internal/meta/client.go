package meta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// ClientOptions configure a Client.
type ClientOptions struct {
	Endpoints   []string // host:port of the etcd members
	Prefix      string   // key prefix of the cluster (default DefaultPrefix)
	DialTimeout time.Duration
	Logger      *slog.Logger
	// Password of RootUser (see PasswordFromSecret); empty: connect without credentials.
	Password string
}

// Client reads and writes the control plane's keys.
type Client struct {
	c      *clientv3.Client
	k      keys
	log    *slog.Logger
	shared bool // a ForBranch client: the connection is its parent's
}

// ForBranch returns a client over the same connection whose epoch, writer, members and live
// status are branch name's own (keys under <prefix>branch/<name>/): a branch's writer takes
// its epochs there, so that it never fences the main database's writer. Closing it leaves the
// connection open.
func (c *Client) ForBranch(name string) *Client {
	return &Client{c: c.c, k: newKeys(c.k.prefix + "branch/" + name + "/"), log: c.log, shared: true}
}

// Dial connects to etcd and checks that it answers.
func Dial(ctx context.Context, opts ClientOptions) (*Client, error) {
	if len(opts.Endpoints) == 0 {
		return nil, fmt.Errorf("meta: no etcd endpoints")
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	cfg := clientv3.Config{Endpoints: opts.Endpoints, DialTimeout: opts.DialTimeout, Logger: zap.NewNop()}
	if opts.Password != "" {
		cfg.Username, cfg.Password = RootUser, opts.Password
	}
	c, err := clientv3.New(cfg)
	if errors.Is(err, rpctypes.ErrAuthFailed) {
		return nil, fmt.Errorf("%w (etcd %v)", ErrWrongPassword, opts.Endpoints)
	}
	if err != nil {
		return nil, fmt.Errorf("meta: connect to etcd %v: %w", opts.Endpoints, err)
	}
	cl := &Client{c: c, k: newKeys(opts.Prefix), log: opts.Logger}
	cctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()
	if _, err := c.Get(cctx, cl.k.epoch()); err != nil {
		c.Close()
		return nil, fmt.Errorf("meta: etcd %v does not answer: %w", opts.Endpoints, err)
	}
	return cl, nil
}

// Close closes the connection (not a ForBranch client's, which is its parent's).
func (c *Client) Close() error {
	if c.shared {
		return nil
	}
	return c.c.Close()
}
