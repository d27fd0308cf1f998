package meta

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"strata/internal/privfs"
)

// ServerOptions configure an embedded etcd server.
type ServerOptions struct {
	Dir string // etcd's data directory
	// ClientAddr is the host:port clients connect to (default 127.0.0.1:0: a port chosen by
	// the system; Endpoints tells which).
	ClientAddr string
	// PeerAddr is the host:port of the peer (raft) listener (default 127.0.0.1:0). It must be
	// a loopback address: the peer port speaks plain HTTP without authentication (it answers
	// /members and /version to anyone), and a single-member cluster never dials it, so it has
	// no reason to be reachable from another host. StartServer refuses any other address.
	PeerAddr string
	Name     string // member name (default "strata-meta")
	Logger   *slog.Logger
	// ReadyTimeout bounds the wait for the server to serve (default 30 s).
	ReadyTimeout time.Duration
	// Password, when set, makes etcd require RootUser with it (see PasswordFromSecret); it
	// is enabled on the first start and checked on the next ones. Without it the client
	// address must be a loopback one: StartServer refuses to serve an etcd open to the
	// network.
	Password string
}

// Server is an embedded single-member etcd.
type Server struct {
	e   *embed.Etcd
	log *slog.Logger
}

// StartServer starts an embedded etcd in opts.Dir (created, or reopened with its data) and
// waits until it serves.
func StartServer(ctx context.Context, opts ServerOptions) (*Server, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("meta: ServerOptions.Dir is required")
	}
	if opts.ClientAddr == "" {
		opts.ClientAddr = "127.0.0.1:0"
	}
	if opts.PeerAddr == "" {
		opts.PeerAddr = "127.0.0.1:0"
	}
	if opts.Name == "" {
		opts.Name = "strata-meta"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 30 * time.Second
	}
	if !isLoopbackAddr(opts.PeerAddr) {
		return nil, fmt.Errorf("meta: peer address %q is not a loopback address: the embedded etcd is a single member whose peer port is never dialled and has no authentication, so it listens on loopback only (e.g. 127.0.0.1:0)", opts.PeerAddr)
	}
	if opts.Password == "" && !isLoopbackAddr(opts.ClientAddr) {
		return nil, fmt.Errorf("meta: client address %q is not a loopback address and no password is set: give the cluster secret (--secret-file) to serve the control plane beyond loopback", opts.ClientAddr)
	}
	if err := privfs.MkdirAll(opts.Dir); err != nil { // the cluster's metadata: owner only
		return nil, fmt.Errorf("meta: %w", err)
	}
	cu, err := url.Parse("http://" + opts.ClientAddr)
	if err != nil {
		return nil, fmt.Errorf("meta: client address %q: %w", opts.ClientAddr, err)
	}
	pu, err := url.Parse("http://" + opts.PeerAddr)
	if err != nil {
		return nil, fmt.Errorf("meta: peer address %q: %w", opts.PeerAddr, err)
	}
	cfg := embed.NewConfig()
	cfg.Name = opts.Name
	cfg.Dir = opts.Dir
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// etcd logs through zap; Strata logs through slog. Keep etcd quiet: its errors on a
	// normal shutdown ("server closed") are noise, and its start-up is reported below.
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("meta: start etcd in %s: %w", opts.Dir, err)
	}
	t := time.NewTimer(opts.ReadyTimeout)
	defer t.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("meta: etcd failed: %w", err)
	case <-t.C:
		e.Close()
		return nil, fmt.Errorf("meta: etcd not ready after %s", opts.ReadyTimeout)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	s := &Server{e: e, log: opts.Logger}
	if opts.Password != "" {
		if err := enableAuth(ctx, s.Endpoints(), opts.Password); err != nil {
			e.Close()
			return nil, err
		}
	}
	s.log.Info("meta: etcd serving", "endpoints", s.Endpoints(), "peer", s.PeerEndpoints(), "dir", opts.Dir, "auth", opts.Password != "")
	return s, nil
}

// Endpoints returns the client addresses (host:port) the server listens on.
func (s *Server) Endpoints() []string {
	var out []string
	for _, l := range s.e.Clients {
		out = append(out, l.Addr().String())
	}
	return out
}

// PeerEndpoints returns the addresses (host:port) of the peer listeners, all on loopback.
func (s *Server) PeerEndpoints() []string {
	var out []string
	for _, l := range s.e.Peers {
		out = append(out, l.Addr().String())
	}
	return out
}

// isLoopbackAddr says whether the host of host:port is "localhost" or a loopback IP. An empty
// host (every interface) is not.
func isLoopbackAddr(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Err returns a channel that reports a fatal server error.
func (s *Server) Err() <-chan error { return s.e.Err() }

// Close stops the server.
func (s *Server) Close() {
	s.e.Close()
}
