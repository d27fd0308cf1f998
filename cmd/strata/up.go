package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"strata/internal/localdb"
	"strata/internal/sqlstore"
)

func newUpCmd() *cobra.Command {
	var dir, host, cpuprofile string
	var port, poolMB int
	var sec securityFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a Strata node on loopback, serving MySQL, with its data in a directory",
		Long: "up starts a node in the foreground: it creates the data directory on first start and\n" +
			"reopens it afterwards, prints the MySQL address when ready, and stops on Ctrl-C or SIGTERM.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if cpuprofile != "" {
				f, err := os.Create(cpuprofile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			if sec.rootPassword == "" {
				sec.rootPassword = os.Getenv("STRATA_ROOT_PASSWORD")
			}
			return runUp(ctx, cmd, dir, host, port, poolMB, sec)
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data", "data directory")
	cmd.Flags().StringVar(&host, "host", "127.0.0.1", "address to listen on")
	cmd.Flags().IntVar(&port, "port", 3306, "MySQL port (0: any free port)")
	cmd.Flags().IntVar(&poolMB, "buffer-pool-mb", 256, "buffer pool size in MiB")
	cmd.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	cmd.Flags().StringVar(&sec.rootPassword, "root-password", "", "password for root (default $STRATA_ROOT_PASSWORD; required unless listening on loopback)")
	cmd.Flags().StringVar(&sec.tlsCert, "tls-cert", "", "TLS certificate file (default: a self-signed one generated into the data directory)")
	cmd.Flags().StringVar(&sec.tlsKey, "tls-key", "", "TLS key file")
	cmd.Flags().BoolVar(&sec.requireTLS, "require-secure-transport", false, "refuse connections without TLS")
	return cmd
}

type securityFlags struct {
	rootPassword, tlsCert, tlsKey string
	requireTLS                    bool
}

func runUp(ctx context.Context, cmd *cobra.Command, dir, host string, port, poolMB int, sec securityFlags) error {
	if !sqlstore.IsLoopback(host) && sec.rootPassword == "" {
		return fmt.Errorf("refusing to listen on %s with a root account that has no password: give --root-password (or $STRATA_ROOT_PASSWORD)", host)
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	logrus.SetLevel(logrus.WarnLevel) // go-mysql-server logs every connection at info
	lg := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	db, err := localdb.Open(ctx, localdb.Options{Dir: dir, PoolFrames: poolMB * 64, Logger: lg})
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := sqlstore.Open(ctx, db.DB, lg)
	if err != nil {
		return err
	}
	eng, err := st.NewSQLEngine(ctx)
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
	tlsCfg, err := sqlstore.LoadOrCreateTLS(dir, sec.tlsCert, sec.tlsKey)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv, err := st.ServeWith(eng, l, sqlstore.ServeOptions{TLS: tlsCfg, RequireTLS: sec.requireTLS})
	if err != nil {
		l.Close()
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "strata: serving MySQL on %s (data %s)\n", l.Addr(), dir)
	<-ctx.Done()
	lg.Info("strata: shutting down")
	return srv.Close()
}
