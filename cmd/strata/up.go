package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"strata/internal/node/computenode"
	"strata/internal/node/singlenode"
)

func newUpCmd() *cobra.Command {
	var dir, host, cpuprofile, metricsAddr, consoleAddr string
	var port, poolMB, segMB, roCount, diskCacheMB int
	var stall time.Duration
	var single, withProxy bool
	var sec securityFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a whole Strata cluster on loopback, serving MySQL, with its state in a directory",
		Long: `up starts the local cluster in the foreground, each node a process of this binary: the
control plane (embedded etcd), 3 Log Stores, 3 Page Stores, the read-write compute node and
--ro read-only compute nodes (1 by default; 'strata ctl add-ro' and 'remove-ro' change them)
and the proxy, which serves MySQL on --port and sends writes to the read-write node and reads
to the read-only nodes (each compute node also serves on a port of its own),
with their state under --data (created on first start, reopened afterwards; node logs in
DATA/logs). It prints the MySQL address when ready, then the web console's, restarts a node that dies, and stops them
all on Ctrl-C or SIGTERM. 'strata ctl status --data DIR' lists the nodes. With --single it
runs everything in one process instead.`,
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
			if diskCacheMB < 0 {
				return fmt.Errorf("--disk-cache-mb must not be negative")
			}
			if single {
				if cmd.Flags().Changed(archiveFlag) || cmd.Flags().Changed(rebuildFlag) {
					return errNoArchiveSingle
				}
				if cmd.Flags().Changed("console-addr") && consoleAddr != "" {
					return fmt.Errorf("--console-addr: the web console needs a cluster; --single serves none")
				}
				return runUp(ctx, cmd, dir, host, port, poolMB, diskCacheMB, sec)
			}
			if segMB <= 0 {
				return fmt.Errorf("--segment-mb must be positive")
			}
			if roCount < 0 {
				return fmt.Errorf("--ro must not be negative")
			}
			return runCluster(ctx, cmd, dir, host, port, poolMB, diskCacheMB, stall, uint64(segMB)*64, consoleAddr, sec, roCount, withProxy)
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data", "data directory")
	cmd.Flags().StringVar(&host, "host", "127.0.0.1", "address to listen on")
	cmd.Flags().IntVar(&port, "port", 3306, "MySQL port (0: any free port)")
	cmd.Flags().IntVar(&poolMB, "buffer-pool-mb", 256, "buffer pool size in MiB")
	addDiskCacheFlag(cmd.Flags(), &diskCacheMB)
	cmd.Flags().DurationVar(&stall, "stall-timeout", 0, "how long a commit waits for a Log Store quorum before failing (0: the compute node's default, 10s)")
	cmd.Flags().IntVar(&segMB, "segment-mb", 64, "size of a Page Store segment, the unit of placement and of moves, in MiB (a new cluster's)")
	cmd.Flags().IntVar(&roCount, "ro", 1, "read-only compute nodes of a new cluster, each on a MySQL port of its own (given again: at least this many)")
	cmd.Flags().BoolVar(&withProxy, "proxy", true, "serve MySQL on --port through the proxy (writes to the read-write node, reads to read-only nodes); the compute nodes get ports of their own. --proxy=false: the read-write node on --port")
	cmd.Flags().BoolVar(&single, "single", false, "run everything in one process (the log and page store as libraries) instead of a cluster")
	cmd.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", defaultMetricsAddr,
		"with --single, the address to serve Prometheus metrics on, at /metrics (port 0: any free port; empty: none); in a cluster each node serves them on a free port of this address's host, listed by `strata ctl status`")
	addHistoryFlag(cmd)
	addArchiveFlags(cmd)
	addConsoleFlag(cmd.Flags(), &consoleAddr)
	addSecurityFlags(cmd.Flags(), &sec, "the data directory")
	return cmd
}

func runUp(ctx context.Context, cmd *cobra.Command, dir, host string, port, poolMB, diskCacheMB int, sec securityFlags) error {
	history, err := historyWindow(cmd)
	if err != nil {
		return err
	}
	return singlenode.Run(ctx, singlenode.Options{Dir: dir, PoolFrames: poolMB * 64, DiskCacheBytes: int64(diskCacheMB) << 20, History: history,
		SQL:         computenode.SQLOptions{Host: host, Port: port, Security: sec.security()},
		MetricsAddr: cmd.Flags().Lookup("metrics-addr").Value.String(), Logger: nodeLogger(cmd, cmd.ErrOrStderr()),
		Ready: func(addr net.Addr, metricsAddr string) {
			fmt.Fprintf(cmd.OutOrStdout(), "strata: serving MySQL on %s (data %s)\n", addr, dir)
			if metricsAddr != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "strata: serving metrics on http://%s/metrics\n", metricsAddr)
			}
		}})
}
