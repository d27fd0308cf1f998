package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"strata/internal/node/pagenode"
	"strata/internal/rpcauth"
)

// newPageStoreCmd runs one Page Store in the foreground.
func newPageStoreCmd(sh *sharedFlags) *cobra.Command {
	var dir, listen, logAddrs, segs, id, metricsAddr, rebuildFrom string
	var segPages uint64
	var flushEvery time.Duration
	cmd := &cobra.Command{
		Use:   "pagestore",
		Short: "Run one Page Store (page versions rebuilt from the redo log, served by GetPage@LSN)",
		Long: `Run one Page Store: it follows the committed redo log on the Log Stores in --log, keeps the
versions of the pages of its segments (--segments, of --segment-pages pages each; every page
without them) in pebble under --data, and serves GetPage(page, lsn) over gRPC. Every call must
carry the cluster secret read from --secret-file. With --etcd it publishes its status (address,
consumed and persisted log positions) to the control plane as --id and, without --segments,
keeps the segments the control plane's placement gives it: segments it gains are copied from
the other Page Stores while it serves, segments it loses are deleted. When ready it prints one
line: "strata: page store serving on ADDR". SIGINT or SIGTERM stops it.`,
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			etcd, secretFile := sh.etcd, sh.secretFile
			if secretFile == "" {
				return errors.New("--secret-file is required")
			}
			addrs := splitEndpoints(logAddrs)
			if len(addrs) == 0 {
				return errors.New("--log is required: the Log Stores' addresses")
			}
			secret, err := rpcauth.ReadSecretFile(secretFile)
			if err != nil {
				return err
			}
			owned, err := parseSegments(segs)
			if err != nil {
				return err
			}
			if (segPages == 0) != (len(owned) == 0) {
				return errors.New("--segments and --segment-pages go together")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return pagenode.Run(ctx, pagenode.Options{Dir: dir, Listen: listen, ID: id, LogAddrs: addrs, Secret: secret,
				Etcd: splitEndpoints(etcd), SegmentPages: segPages, Segments: owned, FlushInterval: flushEvery, RebuildFrom: rebuildFrom,
				MetricsAddr: metricsAddr, Logger: nodeLogger(cmd, cmd.ErrOrStderr()),
				Ready: func(addr string) { fmt.Fprintf(cmd.OutOrStdout(), "strata: page store serving on %s\n", addr) }})
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data/pagestore", "data directory of this Page Store")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:7200", "address to serve gRPC on (port 0: any free port)")
	cmd.Flags().StringVar(&logAddrs, "log", "", "comma-separated addresses of the Log Stores (required)")
	cmd.Flags().StringVar(&segs, "segments", "", `segments this Page Store owns, e.g. "0,2,5-7" (default: every page)`)
	cmd.Flags().Uint64Var(&segPages, "segment-pages", 0, "pages per segment (with --segments)")
	cmd.Flags().DurationVar(&flushEvery, "flush-interval", 5*time.Second, "longest time consumed log stays unpersisted")
	cmd.Flags().StringVar(&id, "id", "pagestore", "this store's ID in the control plane")
	cmd.Flags().StringVar(&rebuildFrom, "rebuild-from", "", "the archive the cluster is being rebuilt from: an empty store copies its segments from the archive's base")
	addMetricsFlag(cmd.Flags(), &metricsAddr)
	return cmd
}

// parseSegments parses a list of segments and ranges: "1,2,5-7".
func parseSegments(s string) ([]uint64, error) {
	var out []uint64
	for _, f := range splitEndpoints(s) {
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		b := a
		if err == nil && isRange {
			b, err = strconv.ParseUint(hi, 10, 64)
		}
		if err != nil || b < a || b-a > 1<<20 {
			return nil, fmt.Errorf("--segments: bad segment or range %q", f)
		}
		for x := a; x <= b; x++ {
			out = append(out, x)
		}
	}
	return out, nil
}
