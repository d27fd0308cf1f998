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

	"strata/internal/node/computenode"
	"strata/internal/rpcauth"
)

// newComputeCmd runs the read-write compute node of a cluster in the foreground.
func newComputeCmd(sh *sharedFlags) *cobra.Command {
	var dir, host, id, metricsAddr string
	var port, poolMB int
	var stall time.Duration
	var sec securityFlags
	cmd := &cobra.Command{
		Use:   "compute",
		Short: "Run the read-write compute node of a cluster, serving MySQL",
		Long: `Run the read-write node: it takes a new writer epoch from the control plane (--etcd),
recovers the log from the Log Stores listed there, reads pages from the Page Stores, and serves
MySQL. When ready it prints one line: "strata: serving MySQL on ADDR". SIGINT or SIGTERM stops it.`,
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			etcd, secretFile := sh.etcd, sh.secretFile
			if secretFile == "" {
				return errors.New("--secret-file is required")
			}
			eps := splitEndpoints(etcd)
			if len(eps) == 0 {
				return errors.New("--etcd is required")
			}
			secret, err := rpcauth.ReadSecretFile(secretFile)
			if err != nil {
				return err
			}
			if sec.rootPassword == "" {
				sec.rootPassword = os.Getenv("STRATA_ROOT_PASSWORD")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return computenode.Run(ctx, computenode.Options{Etcd: eps, Secret: secret, ID: id, PoolFrames: poolMB * 64,
				StallTimeout: stall, MetricsAddr: metricsAddr, Logger: nodeLogger(cmd, cmd.ErrOrStderr()),
				SQL: computenode.SQLOptions{Host: host, Port: port, Dir: dir, Security: sec.security()},
				Ready: func(addr net.Addr) {
					fmt.Fprintf(cmd.OutOrStdout(), "strata: serving MySQL on %s (cluster %s)\n", addr, etcd)
				}})
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data/compute", "directory for the node's local files (TLS certificate)")
	cmd.Flags().StringVar(&host, "host", "127.0.0.1", "address to listen on for MySQL")
	cmd.Flags().IntVar(&port, "port", 3306, "MySQL port (0: any free port)")
	cmd.Flags().StringVar(&id, "id", "rw", "this node's ID in the control plane")
	cmd.Flags().IntVar(&poolMB, "buffer-pool-mb", 256, "buffer pool size in MiB")
	cmd.Flags().DurationVar(&stall, "stall-timeout", 10*time.Second, "how long a commit waits for a Log Store quorum before failing")
	addMetricsFlag(cmd.Flags(), &metricsAddr)
	addSecurityFlags(cmd.Flags(), &sec, "--data")
	return cmd
}
