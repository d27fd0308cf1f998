package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"strata/internal/node/metanode"
	"strata/internal/rpcauth"
)

// newMetaCmd runs the control plane's etcd, embedded, in the foreground.
func newMetaCmd(sh *sharedFlags) *cobra.Command {
	var dir, listen, peer, id, metricsAddr string
	cmd := &cobra.Command{
		Use:   "meta",
		Short: "Run the control plane (an embedded etcd) in the foreground",
		Long: `Run the control plane: an embedded single-member etcd holding the cluster's writer epoch,
members, live node status and Page Store placement. With --secret-file, etcd requires the
user "root" with a password derived from the cluster secret, which every node has. When ready
it prints one line:
"strata: meta serving on ADDR". SIGINT or SIGTERM stops it. Clusters may instead point
their nodes at an external etcd with --etcd.`,
		Annotations: usesShared(secretFileFlag),
		Args:        cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			secret, secretFile := "", sh.secretFile
			if secretFile != "" {
				var err error
				if secret, err = rpcauth.ReadSecretFile(secretFile); err != nil {
					return err
				}
			}
			return metanode.Run(ctx, metanode.Options{Dir: dir, Listen: listen, PeerAddr: peer, ID: id, Secret: secret,
				MetricsAddr: metricsAddr, Logger: nodeLogger(cmd, cmd.ErrOrStderr()),
				Ready: func(addr string) { fmt.Fprintf(cmd.OutOrStdout(), "strata: meta serving on %s\n", addr) }})
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data/meta", "etcd data directory")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:2379", "client address (port 0: any free port)")
	cmd.Flags().StringVar(&peer, "listen-peer", "127.0.0.1:0", "peer (raft) address: loopback only, since this single member never dials it and etcd serves it without authentication")
	cmd.Flags().StringVar(&id, "id", "meta", "this node's ID in the control plane")
	addMetricsFlag(cmd.Flags(), &metricsAddr)
	return cmd
}
