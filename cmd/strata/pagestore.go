package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"strata/internal/logclient"
	"strata/internal/meta"
	"strata/internal/node"
	"strata/internal/node/pagenode"
	"strata/internal/pageserver"
	"strata/internal/pagestore"
	"strata/internal/placement"
	"strata/internal/retry"
	"strata/internal/rpcauth"
)

// newPageStoreCmd runs one Page Store in the foreground.
func newPageStoreCmd() *cobra.Command {
	var dir, listen, secretFile, logAddrs, segs, etcd, id, metricsAddr string
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
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			lg := nodeLogger(cmd, cmd.ErrOrStderr())
			m, err := node.StartMetrics(metricsAddr, secret, lg)
			if err != nil {
				return err
			}
			defer m.Close()
			reader, err := openReader(ctx, logclient.ReaderOptions{Addrs: addrs, Secret: secret, Logger: lg})
			if err != nil {
				return err
			}
			opts := pagestore.Options{Dir: dir, Log: reader, Logger: lg,
				SegmentPages: segPages, Segments: owned, FlushInterval: flushEvery,
				EventListener: pagenode.Events(m.Registerer())}
			// Without --segments, a store of a cluster keeps the segments the placement in the
			// control plane gives it, and follows its changes.
			var follow *placementFollower
			if eps := splitEndpoints(etcd); len(eps) > 0 && len(owned) == 0 {
				mc, err := node.DialMeta(ctx, eps, secret, lg, 0)
				if err != nil {
					return errors.Join(err, reader.Close())
				}
				defer mc.Close()
				var o *placement.Ownership
				follow, o, err = newPlacementFollower(ctx, mc, id, secret, lg)
				if err != nil {
					return errors.Join(err, reader.Close())
				}
				if follow != nil {
					defer follow.Close()
					opts.Ownership, opts.Source = o, follow.Source()
				}
			}
			st, err := pagestore.Open(ctx, opts)
			if err != nil {
				return errors.Join(err, reader.Close())
			}
			st.Start()
			if follow != nil {
				go follow.run(ctx, st)
			}
			m.MustRegister(pagenode.Collectors(st, reader, lg)...)
			srv, err := pageserver.Listen(ctx, st, pageserver.Options{Addr: listen, Secret: secret, Logger: lg})
			if err != nil {
				return errors.Join(err, st.Close(), reader.Close())
			}
			unregister := node.Publish(ctx, splitEndpoints(etcd), secret, lg, func() meta.Node {
				state := meta.StateUp
				if st.DiskErr() != nil { // a full disk: it serves, but persists nothing until space is back
					state = meta.StateFailing
				}
				return meta.Node{Role: meta.RolePageStore, ID: id, Addr: srv.Addr(), Metrics: m.Addr(), PID: os.Getpid(), State: state,
					Durable: uint64(reader.Durable()), Applied: uint64(st.Consumed()), Persisted: uint64(st.Persisted())}
			})
			lg.Info("page store ready", "addr", srv.Addr(), "dir", dir, "consumed", uint64(st.Consumed()))
			fmt.Fprintf(cmd.OutOrStdout(), "strata: page store serving on %s\n", srv.Addr())
			<-ctx.Done()
			unregister()
			return errors.Join(srv.Stop(), st.Close(), reader.Close())
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data/pagestore", "data directory of this Page Store")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:7200", "address to serve gRPC on (port 0: any free port)")
	cmd.Flags().StringVar(&secretFile, "secret-file", "", "file holding the cluster secret (required)")
	cmd.Flags().StringVar(&logAddrs, "log", "", "comma-separated addresses of the Log Stores (required)")
	cmd.Flags().StringVar(&segs, "segments", "", `segments this Page Store owns, e.g. "0,2,5-7" (default: every page)`)
	cmd.Flags().Uint64Var(&segPages, "segment-pages", 0, "pages per segment (with --segments)")
	cmd.Flags().DurationVar(&flushEvery, "flush-interval", 5*time.Second, "longest time consumed log stays unpersisted")
	cmd.Flags().StringVar(&etcd, "etcd", "", "control plane endpoints, comma-separated: publish this store's status there")
	cmd.Flags().StringVar(&id, "id", "pagestore", "this store's ID in the control plane")
	addMetricsFlag(cmd.Flags(), &metricsAddr)
	return cmd
}

// openReader connects to the Log Stores, retrying for a while when none answers (they may be
// starting too); a refusal of the secret is returned at once.
func openReader(ctx context.Context, opts logclient.ReaderOptions) (*logclient.Reader, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := logclient.NewReader(ctx, opts)
		if err == nil {
			return r, nil
		}
		if status.Code(err) == codes.Unauthenticated || time.Now().After(deadline) || ctx.Err() != nil {
			return nil, err
		}
		opts.Logger.Warn("no log store answers yet; retrying", "err", err)
		if !retry.Sleep(ctx, 500*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
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
