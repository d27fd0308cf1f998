package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"strata/internal/meta"
	"strata/internal/retry"
)

func newCtlFailoverCmd(sh *sharedFlags) *cobra.Command {
	var dir, to string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "failover [--to ID]",
		Short: "Hand the writer's role over to a read-only node (a planned switchover)",
		Long: `failover asks the writer to step down and the read-only node ID (default: the most
caught-up one) to take over with a new epoch, and waits until it writes. The old writer
rejoins as a read-only node. Through the proxy, autocommit statements are held and sent to the
new writer; a transaction open on the old one gets an error saying it was rolled back.`,
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			mc, err := ctlMeta(ctx, sh, dir)
			if err != nil {
				return err
			}
			defer mc.Close()
			epoch, err := mc.Epoch(ctx)
			if err != nil {
				return err
			}
			if to != "" {
				ok, err := servesAs(ctx, mc, to, meta.RoleRO)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("%s is not a serving read-only node", to)
				}
			}
			start := time.Now()
			if err := mc.RequestSwitchover(ctx, meta.Switchover{Epoch: epoch, Target: to, At: start.UTC()}); err != nil {
				return err
			}
			wctx, cancel := context.WithTimeout(ctx, wait)
			defer cancel()
			b := retry.NewBackoff(20*time.Millisecond, 100*time.Millisecond)
			for {
				w, err := mc.Writer(wctx)
				if err == nil && w.Epoch > epoch {
					if ok, _ := servesAs(wctx, mc, w.ID, meta.RoleRW); ok {
						fmt.Fprintf(cmd.OutOrStdout(), "strata: %s writes at epoch %d (%v)\n", w.ID, w.Epoch, time.Since(start).Round(time.Millisecond))
						return nil
					}
				} else if err != nil && !errors.Is(err, meta.ErrNotFound) && wctx.Err() == nil {
					return err
				}
				if !b.Wait(wctx) {
					return fmt.Errorf("no new writer within %v (epoch still %d?)", wait, epoch)
				}
			}
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data", "data directory of a cluster started with 'strata up'")
	cmd.Flags().StringVar(&to, "to", "", "the read-only node to promote (default: the most caught-up)")
	cmd.Flags().DurationVar(&wait, "wait", 30*time.Second, "how long to wait for the new writer")
	return cmd
}

// servesAs says whether node id is up as role.
func servesAs(ctx context.Context, mc *meta.Client, id, role string) (bool, error) {
	nodes, err := mc.Nodes(ctx)
	if err != nil {
		return false, err
	}
	now := time.Now()
	for _, n := range nodes {
		if n.ID == id && n.Role == role && n.State == meta.StateUp && !n.IsDown(now) {
			return true, nil
		}
	}
	return false, nil
}
