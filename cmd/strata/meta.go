package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"strata/internal/meta"
	"strata/internal/metrics"
	"strata/internal/rpcauth"
)

// newMetaCmd runs the control plane's etcd, embedded, in the foreground.
func newMetaCmd() *cobra.Command {
	var dir, listen, peer, id, secretFile, metricsAddr string
	cmd := &cobra.Command{
		Use:   "meta",
		Short: "Run the control plane (an embedded etcd) in the foreground",
		Long: `Run the control plane: an embedded single-member etcd holding the cluster's writer epoch,
members, live node status and Page Store placement. With --secret-file, etcd requires the
user "root" with a password derived from the cluster secret, which every node has. When ready
it prints one line:
"strata: meta serving on ADDR". SIGINT or SIGTERM stops it. Clusters may instead point
their nodes at an external etcd with --etcd.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			lg := nodeLogger(cmd, cmd.ErrOrStderr())
			secret := ""
			if secretFile != "" {
				var err error
				if secret, err = rpcauth.ReadSecretFile(secretFile); err != nil {
					return err
				}
			}
			opts := meta.ServerOptions{Dir: dir, ClientAddr: listen, PeerAddr: peer, Logger: lg}
			if secret != "" {
				opts.Password = meta.PasswordFromSecret(secret)
			}
			srv, err := meta.StartServer(ctx, opts)
			if err != nil {
				return err
			}
			defer srv.Close()
			// etcd registers its own metrics (and the Go and process collectors) with
			// Prometheus's default registry: serve that one.
			var msrv *metrics.Server
			if metricsAddr != "" {
				if msrv, err = metrics.Listen(metrics.Options{Addr: metricsAddr, Gatherer: prometheus.DefaultGatherer,
					Secret: secret, Logger: lg}); err != nil {
					return fmt.Errorf("--metrics-addr: %w", err)
				}
				defer msrv.Close()
			}
			eps := srv.Endpoints()
			unpublish := publish(ctx, eps, secret, lg, func() meta.Node {
				return meta.Node{Role: meta.RoleMeta, ID: id, Addr: eps[0], Metrics: metricsAddrOf(msrv), PID: os.Getpid(), State: meta.StateUp}
			})
			defer unpublish()
			fmt.Fprintf(cmd.OutOrStdout(), "strata: meta serving on %s\n", eps[0])
			select {
			case <-ctx.Done():
				return nil
			case err := <-srv.Err():
				return fmt.Errorf("etcd: %w", err)
			}
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data/meta", "etcd data directory")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:2379", "client address (port 0: any free port)")
	cmd.Flags().StringVar(&peer, "listen-peer", "127.0.0.1:0", "peer (raft) address: loopback only, since this single member never dials it and etcd serves it without authentication")
	cmd.Flags().StringVar(&id, "id", "meta", "this node's ID in the control plane")
	cmd.Flags().StringVar(&secretFile, "secret-file", "", "file holding the cluster secret: etcd then requires the password derived from it")
	addMetricsFlag(cmd.Flags(), &metricsAddr)
	return cmd
}
