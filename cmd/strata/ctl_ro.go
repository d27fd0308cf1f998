package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"strata/internal/meta"
	"strata/internal/retry"
)

// ctlMeta dials the control plane of the cluster in dir (or --etcd) with the cluster secret.
func ctlMeta(ctx context.Context, sh *sharedFlags, dir string) (*meta.Client, error) {
	secret, err := ctlSecret(dir, sh.secretFile)
	if err != nil {
		return nil, fmt.Errorf("the cluster secret (--secret-file): %w", err)
	}
	mc, _, err := ctlDial(ctx, dir, sh.etcd, secret)
	return mc, err
}

func newCtlAddROCmd(sh *sharedFlags) *cobra.Command {
	var dir string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "add-ro [ID]",
		Short: "Add a read-only compute node to the cluster and wait until it serves",
		Long: `add-ro records the read-only node ID (default: the next free ro-N) and waits until it serves
MySQL, then prints its address. 'strata up' starts it by itself; elsewhere start
'strata compute --role ro --etcd ... --id ID'. The node copies nothing: it starts at the log's
latest group end with an empty buffer pool.`,
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			mc, err := ctlMeta(ctx, sh, dir)
			if err != nil {
				return err
			}
			defer mc.Close()
			members, err := mc.Members(ctx, meta.RoleRO)
			if err != nil {
				return err
			}
			has := func(id string) bool {
				return slices.ContainsFunc(members, func(m meta.Member) bool { return m.ID == id })
			}
			id := ""
			if len(args) > 0 {
				id = args[0]
				if has(id) {
					return fmt.Errorf("read-only node %s is already in the cluster", id)
				}
			} else {
				for i := 1; id == ""; i++ {
					if !has(fmt.Sprintf("ro-%d", i)) {
						id = fmt.Sprintf("ro-%d", i)
					}
				}
			}
			start := time.Now()
			if err := mc.PutMember(ctx, meta.Member{Role: meta.RoleRO, ID: id}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "strata: added read-only node %s; waiting for it to serve\n", id)
			wctx, cancel := context.WithTimeout(ctx, wait)
			defer cancel()
			b := retry.NewBackoff(50*time.Millisecond, 500*time.Millisecond)
			for {
				nodes, err := mc.Nodes(wctx)
				if err == nil {
					for _, n := range nodes {
						if n.Role == meta.RoleRO && n.ID == id && n.State == meta.StateUp {
							fmt.Fprintf(cmd.OutOrStdout(), "strata: read-only node %s serving MySQL on %s after %v\n",
								id, n.Addr, time.Since(start).Round(time.Millisecond))
							return nil
						}
					}
				}
				if !b.Wait(wctx) {
					return fmt.Errorf("read-only node %s is recorded but did not serve within %v: is 'strata up' running, or start it with 'strata compute --role ro --id %s'", id, wait, id)
				}
			}
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data", "data directory of a cluster started with 'strata up'")
	cmd.Flags().DurationVar(&wait, "wait", time.Minute, "how long to wait for the node to serve")
	return cmd
}

func newCtlRemoveROCmd(sh *sharedFlags) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "remove-ro ID",
		Short: "Remove a read-only compute node from the cluster",
		Long: `remove-ro forgets the read-only node ID: 'strata up' stops it, and the read-write node stops
holding its purge horizon for it once its lease lapses.`,
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			mc, err := ctlMeta(ctx, sh, dir)
			if err != nil {
				return err
			}
			defer mc.Close()
			members, err := mc.Members(ctx, meta.RoleRO)
			if err != nil {
				return err
			}
			id := args[0]
			if !slices.ContainsFunc(members, func(m meta.Member) bool { return m.ID == id }) {
				return fmt.Errorf("no read-only node %s in the cluster", id)
			}
			if err := mc.DeleteMember(ctx, meta.RoleRO, id); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "strata: removed read-only node %s\n", id)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data", "data directory of a cluster started with 'strata up'")
	return cmd
}
