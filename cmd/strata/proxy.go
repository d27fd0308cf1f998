package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"strata/internal/node/proxynode"
	"strata/internal/proxy/route"
	"strata/internal/rpcauth"
)

// newProxyCmd runs the proxy in the foreground.
func newProxyCmd(sh *sharedFlags) *cobra.Command {
	var listen, id, metricsAddr, consistency string
	var backendWait, lsnWait time.Duration
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Run the proxy: MySQL clients in front, the compute nodes behind",
		Long: `Run the proxy: it finds the read-write and read-only compute nodes in the control
plane (--etcd), lets clients log in as the database's MySQL users, sends writes and
transactions to the read-write node and autocommit reads to a read-only node that has
applied what the session's consistency level requires. When ready it prints one line:
"strata: proxy serving MySQL on ADDR". SIGINT or SIGTERM stops it.`,
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sh.secretFile == "" {
				return errors.New("--secret-file is required")
			}
			eps := splitEndpoints(sh.etcd)
			if len(eps) == 0 {
				return errors.New("--etcd is required")
			}
			level, err := route.ParseConsistency(consistency)
			if err != nil {
				return fmt.Errorf("--consistency: %w", err)
			}
			secret, err := rpcauth.ReadSecretFile(sh.secretFile)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return proxynode.Run(ctx, proxynode.Options{Etcd: eps, Secret: secret, ID: id, Listen: listen,
				Consistency: level, BackendWait: backendWait, LSNWait: lsnWait, MetricsAddr: metricsAddr,
				Logger: nodeLogger(cmd, cmd.ErrOrStderr()),
				Ready: func(addr net.Addr) {
					fmt.Fprintf(cmd.OutOrStdout(), "strata: proxy serving MySQL on %s (cluster %s)\n", addr, sh.etcd)
				}})
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:6033", "address to listen on for MySQL clients (port 0: any free port)")
	cmd.Flags().StringVar(&id, "id", "proxy", "this node's ID in the control plane")
	cmd.Flags().StringVar(&consistency, "consistency", "session",
		"default read consistency of sessions: session (read your writes), eventual or global; a session changes it with SET strata_read_consistency")
	cmd.Flags().DurationVar(&backendWait, "backend-wait", 5*time.Second, "how long a statement or login waits for a reachable read-write node before error 2003")
	cmd.Flags().DurationVar(&lsnWait, "lsn-wait", 100*time.Millisecond, "how long a read waits for a read-only node to catch up before it goes to the read-write node")
	addMetricsFlag(cmd.Flags(), &metricsAddr)
	return cmd
}
