package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"strata/internal/cluster"
	"strata/internal/meta"
	"strata/internal/pageclient"
	"strata/internal/placement"
	"strata/internal/rpcauth"
)

func newCtlAddPageStoreCmd() *cobra.Command {
	var dir, etcd, secretFile string
	var startWait time.Duration
	cmd := &cobra.Command{
		Use:   "add-pagestore [ID]",
		Short: "Add a Page Store to the cluster and move its share of the segments to it, while serving",
		Long: `add-pagestore adds the Page Store ID (default: the next free pagestore-N) to the cluster and
moves segments to it until it holds its share, printing each segment's progress. The store
must run: 'strata up' starts it by itself; elsewhere start 'strata pagestore --etcd ... --id ID'.
Each move: the new store copies the segment from its replicas while the database serves,
stores its redo from the copy position on, and replaces one replica when done; the old
replica then deletes the segment. Interrupted, it can be run again: it finishes the moves
already recorded.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if secretFile == "" {
				secretFile = filepath.Join(dir, "secret")
			}
			secret, err := rpcauth.ReadSecretFile(secretFile)
			if err != nil {
				return fmt.Errorf("the cluster secret (--secret-file): %w", err)
			}
			mc, _, err := ctlDial(ctx, dir, etcd, secret)
			if err != nil {
				return err
			}
			defer mc.Close()
			id := ""
			if len(args) > 0 {
				id = args[0]
			}
			return addPageStore(ctx, cmd, mc, secret, id, startWait)
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data", "data directory of a cluster started with 'strata up'")
	cmd.Flags().StringVar(&etcd, "etcd", "", "control plane endpoints, comma-separated")
	cmd.Flags().StringVar(&secretFile, "secret-file", "", "file holding the cluster secret (default DATA/secret)")
	cmd.Flags().DurationVar(&startWait, "start-timeout", time.Minute, "how long to wait for the new store to run")
	return cmd
}

// findEtcd returns the control plane endpoints: --etcd, or those in the cluster file of dir.
func findEtcd(dir, etcd string) ([]string, error) {
	if eps := splitEndpoints(etcd); len(eps) > 0 {
		return eps, nil
	}
	ci, err := readClusterInfo(dir)
	if err != nil {
		return nil, fmt.Errorf("no --etcd given and no cluster found in %s: %w", dir, err)
	}
	return ci.Etcd, nil
}

func addPageStore(ctx context.Context, cmd *cobra.Command, mc *meta.Client, secret, id string, startWait time.Duration) error {
	out := cmd.OutOrStdout()
	p, ok, addrOf, err := cluster.LoadPlacement(ctx, mc)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("the cluster records no segment placement: restart it with this version of strata first")
	}
	if id == "" {
		id = nextPageStoreID(addrOf)
	}
	if _, known := addrOf[id]; !known {
		if err := mc.PutMember(ctx, meta.Member{Role: meta.RolePageStore, ID: id}); err != nil {
			return err
		}
		fmt.Fprintf(out, "added %s to the cluster; waiting for it to run ('strata up' starts it; elsewhere run 'strata pagestore --etcd ... --id %s')\n", id, id)
	}
	addr, err := waitLive(ctx, mc, id, startWait)
	if err != nil {
		return err
	}
	pc, err := pageclient.New(pageclient.Options{Placement: pageclient.Static{Default: []string{addr}},
		SegmentPages: p.SegmentPages, Secret: secret, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer pc.Close()
	var rest []string
	for _, d := range p.Default {
		if a := addrOf[d]; a != "" && d != id {
			rest = append(rest, a)
		}
	}
	used, err := pc.UsedSegments(ctx, rest)
	if err != nil {
		return err
	}
	var planned []uint64
	p, err = mc.UpdatePlacement(ctx, func(cur *placement.Placement, ok bool) error {
		if !ok {
			return errors.New("the placement disappeared")
		}
		next, moves, err := placement.PlanAdd(*cur, used, id)
		if err != nil {
			return err
		}
		*cur, planned = next, moves
		return nil
	})
	if err != nil {
		return err
	}
	var segs []uint64
	for seg, m := range p.Moving {
		if m.To == id {
			segs = append(segs, seg)
		}
	}
	slices.Sort(segs)
	fmt.Fprintf(out, "%s at %s: %d segments in use; moving %d to it: %v (%d newly planned)\n", id, addr, len(used), len(segs), segs, len(planned))
	for i, seg := range segs {
		start := time.Now()
		from := p.Moving[seg].From
		if err := waitCopied(ctx, out, pc, seg); err != nil {
			return err
		}
		if p, err = mc.UpdatePlacement(ctx, func(cur *placement.Placement, _ bool) error { return placement.FinishMove(cur, seg) }); err != nil {
			return err
		}
		fmt.Fprintf(out, "segment %d moved from %s to %s (%d of %d, %.1fs)\n", seg, from, id, i+1, len(segs), time.Since(start).Seconds())
	}
	held := 0
	for _, seg := range used {
		if slices.Contains(p.Replicas(seg), id) {
			held++
		}
	}
	fmt.Fprintf(out, "%s serves %d of the %d segments in use\n", id, held, len(used))
	return nil
}

// nextPageStoreID returns pagestore-N for the first N above every pagestore-M in use.
func nextPageStoreID(addrOf map[string]string) string {
	n := 0
	for id := range addrOf {
		if v, err := strconv.Atoi(strings.TrimPrefix(id, "pagestore-")); err == nil && strings.HasPrefix(id, "pagestore-") {
			n = max(n, v)
		}
	}
	return fmt.Sprintf("pagestore-%d", n+1)
}

// waitLive waits until Page Store id publishes its status and returns its address.
func waitLive(ctx context.Context, mc *meta.Client, id string, d time.Duration) (string, error) {
	deadline := time.Now().Add(d)
	for {
		nodes, err := mc.Nodes(ctx)
		if err != nil {
			return "", err
		}
		for _, n := range nodes {
			if n.Role == meta.RolePageStore && n.ID == id && n.State == meta.StateUp && n.Addr != "" {
				return n.Addr, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("page store %s is not running after %v", id, d)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// waitCopied waits until the store pc talks to serves segment seg, printing the copy's
// progress when it changes.
func waitCopied(ctx context.Context, out io.Writer, pc *pageclient.Client, seg uint64) error {
	last := ""
	for {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st := pc.Status(sctx)[0]
		cancel()
		if st.Err == nil {
			if slices.Contains(st.Segments, seg) {
				return nil
			}
			line := fmt.Sprintf("segment %d: waiting for the copy to start", seg)
			for _, c := range st.Copying {
				if c.Segment == seg {
					line = fmt.Sprintf("segment %d: %d of %d pages copied (as of lsn %d)", seg, c.Copied, c.Total, c.From)
				}
			}
			if line != last {
				fmt.Fprintln(out, line)
				last = line
			}
		} else if ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
