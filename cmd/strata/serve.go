package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"

	"strata/internal/engine"
	"strata/internal/sqlstore"
)

type securityFlags struct {
	rootPassword, tlsCert, tlsKey string
	requireTLS                    bool
	secureFilePriv                string
}

// addSecurityFlags registers the MySQL security flags that every SQL-serving command shares;
// where names the data directory in their help.
func addSecurityFlags(fs *pflag.FlagSet, sec *securityFlags, where string) {
	fs.StringVar(&sec.rootPassword, "root-password", "", "password for root (default $STRATA_ROOT_PASSWORD; required unless listening on loopback)")
	fs.StringVar(&sec.tlsCert, "tls-cert", "", "TLS certificate file (default: a self-signed one generated into "+where+")")
	fs.StringVar(&sec.tlsKey, "tls-key", "", "TLS key file")
	fs.BoolVar(&sec.requireTLS, "require-secure-transport", false, "refuse connections without TLS")
	fs.StringVar(&sec.secureFilePriv, "secure-file-priv", "", "the only directory LOAD_FILE, SELECT … INTO OUTFILE and LOAD DATA INFILE may use, for users with the FILE privilege; NULL disables them (default: files/ in "+where+")")
}

// serveSQL serves MySQL for the engine on host:port until ctx ends. tlsDir holds the
// self-signed certificate when none is given. ready is called with the address once clients
// can connect, and with the server's health check (sqlstore.ServerHealth).
//
// With reg, the statements clients run and the prepared-statement plan cache are counted in it.
func serveSQL(ctx context.Context, db *engine.DB, lg *slog.Logger, reg prometheus.Registerer, tlsDir, host string, port int, sec securityFlags, ready func(addr net.Addr, health func() error)) error {
	if !sqlstore.IsLoopback(host) && sec.rootPassword == "" {
		return fmt.Errorf("refusing to listen on %s with a root account that has no password: give --root-password (or $STRATA_ROOT_PASSWORD)", host)
	}
	logrus.SetLevel(logrus.WarnLevel) // go-mysql-server logs every connection at info
	st, err := sqlstore.Open(ctx, db, lg)
	if err != nil {
		return err
	}
	files := sec.secureFilePriv
	if files == "" {
		files = filepath.Join(tlsDir, "files")
	}
	eng, err := st.NewSQLEngineWith(ctx, sqlstore.EngineOptions{SecureFilePriv: files})
	if err != nil {
		return err
	}
	if !sqlstore.IsLoopback(host) {
		st.AddRemoteRoot(eng, sec.rootPassword)
	}
	if sec.rootPassword != "" {
		if err := st.SetRootPassword(ctx, eng, sec.rootPassword); err != nil {
			return err
		}
	}
	tlsCfg, err := sqlstore.LoadOrCreateTLS(tlsDir, sec.tlsCert, sec.tlsKey)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	so := sqlstore.ServeOptions{TLS: tlsCfg, RequireTLS: sec.requireTLS}
	if reg != nil {
		so.Observe = statementObserver(reg)
		reg.MustRegister(planCacheCollectors(st)...)
	}
	srv, err := st.ServeWith(eng, l, so)
	if err != nil {
		l.Close()
		return err
	}
	ready(l.Addr(), func() error { return sqlstore.ServerHealth(srv) })
	<-ctx.Done()
	lg.Info("strata: shutting down")
	return srv.Close()
}
