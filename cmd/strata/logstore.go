package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"strata/internal/node/lognode"
	"strata/internal/rpcauth"
)

// newLogStoreCmd runs one Log Store replica in the foreground.
func newLogStoreCmd(sh *sharedFlags) *cobra.Command {
	var dir, listen, id, peers, metricsAddr string
	cmd := &cobra.Command{
		Use:   "logstore",
		Short: "Run one Log Store replica (redo log storage, quorum-replicated by the writer)",
		Long: `Run one Log Store: it keeps the redo log in segment files under --data, syncs appends with
group commit and serves them over gRPC to the writer, Page Stores and read-only nodes. Every
call must carry the cluster secret read from --secret-file. When ready it prints one line:
"strata: log store serving on ADDR". SIGINT or SIGTERM stops it.

With --peers (the other Log Stores' addresses) a damaged range of this store's segments (a
record failing its CRC, found at open, by the background check of every segment after open, or
by a read) is copied back from a peer whose log agrees with this one there; without it damage
is only reported and refused.

A store whose write or sync fails (a full disk, an I/O error) exits with an error: after such a
failure what its files hold past the synced end is unknown, so it is started again (by
'strata up', or your supervisor) and recovers from its files, which keep every byte it
acknowledged; it starts once the cause is gone.`,
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			etcd, secretFile := sh.etcd, sh.secretFile
			if secretFile == "" {
				return errors.New("--secret-file is required")
			}
			secret, err := rpcauth.ReadSecretFile(secretFile)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return lognode.Run(ctx, lognode.Options{Dir: dir, Listen: listen, ID: id, Peers: splitEndpoints(peers),
				Secret: secret, Etcd: splitEndpoints(etcd), MetricsAddr: metricsAddr, Logger: nodeLogger(cmd, cmd.ErrOrStderr()),
				Ready: func(addr string) { fmt.Fprintf(cmd.OutOrStdout(), "strata: log store serving on %s\n", addr) }})
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data/logstore", "data directory of this Log Store")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:7100", "address to serve gRPC on (port 0: any free port)")
	cmd.Flags().StringVar(&id, "id", "logstore", "this store's ID in the control plane")
	addMetricsFlag(cmd.Flags(), &metricsAddr)
	cmd.Flags().StringVar(&peers, "peers", "", "the other Log Stores' addresses, comma-separated: damaged ranges are repaired from them")
	return cmd
}
