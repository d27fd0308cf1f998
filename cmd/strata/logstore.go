package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"strata/internal/logstore"
	"strata/internal/meta"
	"strata/internal/rpcauth"
)

// newLogStoreCmd runs one Log Store replica in the foreground.
func newLogStoreCmd() *cobra.Command {
	var dir, listen, secretFile, etcd, id, peers, metricsAddr string
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
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if secretFile == "" {
				return errors.New("--secret-file is required")
			}
			secret, err := rpcauth.ReadSecretFile(secretFile)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			lg := nodeLogger(cmd, cmd.ErrOrStderr())
			msrv, reg, err := nodeMetrics(metricsAddr, secret, lg)
			if err != nil {
				return err
			}
			if msrv != nil {
				defer msrv.Close()
			}
			store, err := logstore.Open(logstore.Options{Dir: dir, Logger: lg,
				Peers: splitEndpoints(peers), Secret: secret, EventListener: logStoreEvents(registererOf(msrv, reg))})
			if err != nil {
				return err
			}
			reg.MustRegister(logStoreCollectors(store)...)
			srv, err := logstore.NewServer(store, secret, lg)
			if err != nil {
				_ = store.Close()
				return err
			}
			var lc net.ListenConfig
			lis, err := lc.Listen(ctx, "tcp", listen)
			if err != nil {
				_ = store.Close()
				return fmt.Errorf("listen on %s: %w", listen, err)
			}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(lis) }()
			st := store.Status()
			lg.Info("log store ready", "addr", lis.Addr().String(), "dir", dir, "epoch", st.Promised, "end", uint64(st.End))
			unpublish := publish(ctx, splitEndpoints(etcd), secret, lg, func() meta.Node {
				st := store.Status()
				state := meta.StateUp
				if store.Err() != nil {
					state = meta.StateFailing
				}
				return meta.Node{Role: meta.RoleLogStore, ID: id, Addr: lis.Addr().String(), Metrics: metricsAddrOf(msrv), PID: os.Getpid(),
					State: state, Epoch: st.Promised, Durable: uint64(st.Durable), Applied: uint64(st.Committed)}
			})
			defer unpublish()
			fmt.Fprintf(cmd.OutOrStdout(), "strata: log store serving on %s\n", lis.Addr())
			select {
			case <-ctx.Done():
			case err = <-served:
			case <-store.Failed():
				// A failed store refuses everything and does not heal in place: exit, so that
				// the supervisor starts it again and it recovers from its files.
				err = fmt.Errorf("stopping, to be started again: %w", store.Err())
			}
			srv.Stop()
			return errors.Join(err, store.Close())
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data/logstore", "data directory of this Log Store")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:7100", "address to serve gRPC on (port 0: any free port)")
	cmd.Flags().StringVar(&secretFile, "secret-file", "", "file holding the cluster secret (required)")
	cmd.Flags().StringVar(&etcd, "etcd", "", "control plane endpoints, comma-separated: publish this store's status there")
	cmd.Flags().StringVar(&id, "id", "logstore", "this store's ID in the control plane")
	addMetricsFlag(cmd.Flags(), &metricsAddr)
	cmd.Flags().StringVar(&peers, "peers", "", "the other Log Stores' addresses, comma-separated: damaged ranges are repaired from them")
	return cmd
}
