package computenode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"strata/internal/engine"
	"strata/internal/meta"
	"strata/internal/page"
	"strata/internal/sqlstore"
)

// Security is how a node's MySQL server authenticates and encrypts.
type Security struct {
	// RootPassword is root's password; required to listen beyond loopback.
	RootPassword string
	// TLSCert and TLSKey are the server's certificate (default: a self-signed one generated
	// into the node's directory).
	TLSCert, TLSKey string
	RequireTLS      bool // refuse connections without TLS
	// SecureFilePriv is the only directory server-side file access may use (default: files/
	// in the node's directory); "NULL" disables it.
	SecureFilePriv string
}

// SQLOptions describe a node's MySQL server.
type SQLOptions struct {
	Host     string
	Port     int    // 0: any free port
	Dir      string // the node's directory: its TLS certificate and files/
	Security Security
	// ReadOnly serves a read-only engine: changes fail with 1290, @@read_only is 1, and the
	// accounts (root's password included) are the writer's, replayed.
	ReadOnly bool
	// Registerer counts the statements clients run and the plan cache in it (nil: not).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// ProxySecret, the cluster secret, lets the Strata proxy log in for its clients ("":
	// no proxy logins).
	ProxySecret string
	// Ready is called with the address once clients can connect, and with the server's
	// health check (sqlstore.ServerHealth).
	Ready func(addr net.Addr, health func() error)
	// Drain, when closed, makes ServeSQL drain the server (sqlstore.Drain: statements sent
	// from then on are refused unexecuted with 1053, the running ones finish, for at most
	// DrainTimeout) and return nil.
	Drain        <-chan struct{}
	DrainTimeout time.Duration // default 5 s
	// Snapshots, when set, finds a snapshot's log position by name, for AS OF 'NAME'
	// (SnapshotsOf).
	Snapshots sqlstore.SnapshotResolver
}

// SnapshotsOf resolves snapshot names through the control plane for a node that serves
// timeline: a snapshot's position once the writer fixed it, if that position is in the
// timeline's history (a snapshot taken before a restore, after the point restored to, is not).
func SnapshotsOf(mc *meta.Client, timeline uint64) sqlstore.SnapshotResolver {
	return func(ctx context.Context, name string) (page.LSN, bool, error) {
		if meta.ValidSnapshotName(name) != nil {
			return 0, false, nil
		}
		s, err := mc.Snapshot(ctx, name)
		switch {
		case errors.Is(err, meta.ErrNotFound):
			return 0, false, nil
		case err != nil:
			return 0, false, err
		case s.Pending() || s.Error != "":
			return 0, false, fmt.Errorf("snapshot %s is not ready", name)
		case s.Timeline == timeline:
			return page.LSN(s.LSN), true, nil
		}
		timelines, err := mc.Timelines(ctx)
		if err != nil {
			return 0, false, err
		}
		if meta.InHistory(s.LSN, s.Timeline, timeline, timelines) {
			return page.LSN(s.LSN), true, nil
		}
		where := fmt.Sprintf("timeline %d", s.Timeline)
		for _, b := range timelines {
			if b.Timeline == s.Timeline && b.Name != "" && !b.Retired {
				where = "branch " + b.Name
			}
		}
		return 0, false, fmt.Errorf("snapshot %s was taken after the point the database was restored to; it is on %s", name, where)
	}
}

// ServeSQL serves MySQL for the engine until ctx ends (or it drained, see SQLOptions.Drain).
func ServeSQL(ctx context.Context, db *engine.DB, opts SQLOptions) error {
	sec, lg := opts.Security, opts.Logger
	if !sqlstore.IsLoopback(opts.Host) && sec.RootPassword == "" {
		return fmt.Errorf("refusing to listen on %s with a root account that has no password: give --root-password (or $STRATA_ROOT_PASSWORD)", opts.Host)
	}
	logrus.SetLevel(logrus.WarnLevel) // go-mysql-server logs every connection at info
	st, err := sqlstore.Open(ctx, db, lg)
	if err != nil {
		return err
	}
	st.SetSnapshots(opts.Snapshots)
	files := sec.SecureFilePriv
	if files == "" {
		files = filepath.Join(opts.Dir, "files")
	}
	eng, err := st.NewSQLEngineWith(ctx, sqlstore.EngineOptions{SecureFilePriv: files, ReadOnly: opts.ReadOnly})
	if err != nil {
		return err
	}
	if !sqlstore.IsLoopback(opts.Host) {
		st.AddRemoteRoot(eng, sec.RootPassword)
	}
	if sec.RootPassword != "" && !opts.ReadOnly {
		if err := st.SetRootPassword(ctx, eng, sec.RootPassword); err != nil {
			return err
		}
	}
	tlsCfg, err := sqlstore.LoadOrCreateTLS(opts.Dir, sec.TLSCert, sec.TLSKey)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port)))
	if err != nil {
		return err
	}
	drain := &sqlstore.Drain{}
	so := sqlstore.ServeOptions{TLS: tlsCfg, RequireTLS: sec.RequireTLS, ProxySecret: opts.ProxySecret, Drain: drain}
	if reg := opts.Registerer; reg != nil {
		so.Observe = statementObserver(reg)
		reg.MustRegister(planCacheCollectors(st)...)
	}
	srv, err := st.ServeWith(eng, l, so)
	if err != nil {
		l.Close()
		return err
	}
	if opts.Ready != nil {
		opts.Ready(l.Addr(), func() error { return sqlstore.ServerHealth(srv) })
	}
	select {
	case <-ctx.Done():
	case <-opts.Drain:
		timeout := opts.DrainTimeout
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		start := time.Now()
		dctx, cancel := context.WithTimeout(ctx, timeout)
		err := drain.Start(dctx)
		cancel()
		lg.Info("strata: drained the SQL server", "took", time.Since(start).Round(time.Microsecond), "err", err, "still_running", drain.Running())
	}
	lg.Info("strata: shutting down")
	return srv.Close()
}
