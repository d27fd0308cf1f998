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
	var dir, host, id, metricsAddr, role string
	var port, poolMB, diskCacheMB int
	var stall, lease time.Duration
	var noFailover bool
	var branch string
	var sec securityFlags
	cmd := &cobra.Command{
		Use:   "compute",
		Short: "Run a compute node of a cluster (read-write, or read-only with --role ro), serving MySQL",
		Long: `Run a compute node.

--role rw (the default): the read-write node. It takes a new writer epoch from the control plane
(--etcd), recovers the log from the Log Stores listed there, reads pages from the Page Stores,
and serves MySQL.

--role ro: a read-only node. It copies nothing: it starts at the log's latest group end with an
empty buffer pool, follows the log from the Log Stores, applies each record to the pages it has
cached, reads any other page from the Page Stores at its read view, and serves reads once the
read-write node honours its oldest read view. Changes fail with MySQL error 1290.

Failover (docs/failover.md): when the writer's status is silent for --failover-lease, the most
caught-up read-only node takes the next writer epoch (fencing the old writer at the Log Stores)
and becomes the writer on its own MySQL port. A node started with --role rw while another node
writes at the current epoch joins as a read-only node instead.

When ready it prints one line: "strata: serving MySQL on ADDR". SIGINT or SIGTERM stops it.`,
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
			var readOnly bool
			switch role {
			case "rw":
			case "ro":
				readOnly = true
				if !cmd.Flags().Changed("id") {
					id = "ro"
				}
			default:
				return fmt.Errorf("--role %q: want rw or ro", role)
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
			return computenode.Run(ctx, computenode.Options{Etcd: eps, Secret: secret, ID: id, ReadOnly: readOnly, Branch: branch, PoolFrames: poolMB * 64,
				DiskCacheBytes: int64(diskCacheMB) << 20,
				StallTimeout:   stall, FailoverLease: lease, NoFailover: noFailover, MetricsAddr: metricsAddr, Logger: nodeLogger(cmd, cmd.ErrOrStderr()),
				SQL: computenode.SQLOptions{Host: host, Port: port, Dir: dir, Security: sec.security()},
				Ready: func(addr net.Addr) {
					fmt.Fprintf(cmd.OutOrStdout(), "strata: serving MySQL on %s (cluster %s)\n", addr, etcd)
				}})
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data/compute", "directory for the node's local files (TLS certificate)")
	cmd.Flags().StringVar(&host, "host", "127.0.0.1", "address to listen on for MySQL")
	cmd.Flags().IntVar(&port, "port", 3306, "MySQL port (0: any free port)")
	cmd.Flags().StringVar(&id, "id", "rw", `this node's ID in the control plane (default "ro" with --role ro)`)
	cmd.Flags().StringVar(&role, "role", "rw", "rw: the read-write node; ro: a read-only node")
	cmd.Flags().IntVar(&poolMB, "buffer-pool-mb", 256, "buffer pool size in MiB")
	addDiskCacheFlag(cmd.Flags(), &diskCacheMB)
	cmd.Flags().DurationVar(&stall, "stall-timeout", 10*time.Second, "how long a commit waits for a Log Store quorum before failing")
	cmd.Flags().DurationVar(&lease, "failover-lease", computenode.DefaultFailoverLease,
		"how long the writer's status may be silent before the most caught-up read-only node takes over")
	cmd.Flags().BoolVar(&noFailover, "no-failover", false, "never take over as the writer (a read-only node)")
	cmd.Flags().StringVar(&branch, "branch", "", "serve this branch (made by 'strata ctl branch create') as its writer, instead of the main database")
	addMetricsFlag(cmd.Flags(), &metricsAddr)
	addSecurityFlags(cmd.Flags(), &sec, "--data")
	return cmd
}
