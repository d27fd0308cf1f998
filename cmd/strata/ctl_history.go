package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"strata/internal/meta"
)

// historyFlag is `strata up`'s --history.
const historyFlag = "history"

func addHistoryFlag(cmd *cobra.Command) {
	cmd.Flags().Duration(historyFlag, meta.DefaultHistoryWindow,
		"history window: how far back the database can be read with SELECT … AS OF (the Page Stores keep the page versions it needs; 0: none). A cluster records it; 'strata ctl history --set' changes it")
}

// historyWindow returns --history, checked.
func historyWindow(cmd *cobra.Command) (time.Duration, error) {
	d, err := cmd.Flags().GetDuration(historyFlag)
	if err != nil {
		return 0, err
	}
	if d < 0 || d > meta.MaxHistoryWindow {
		return 0, fmt.Errorf("--history %s is not in [0, %s]", d, meta.MaxHistoryWindow)
	}
	return d, nil
}

// recordHistory records --history in the control plane when it was given, or when the
// cluster has recorded no window yet (a new cluster).
func recordHistory(ctx context.Context, cmd *cobra.Command, mc *meta.Client) error {
	d, err := historyWindow(cmd)
	if err != nil {
		return err
	}
	if !cmd.Flags().Changed(historyFlag) {
		if _, err := mc.History(ctx); err == nil {
			return nil
		}
	}
	return mc.SetHistory(ctx, meta.History{Window: d})
}

func newCtlHistoryCmd(sh *sharedFlags) *cobra.Command {
	var dir string
	var set time.Duration
	cmd := &cobra.Command{
		Use:   "history [--set WINDOW]",
		Short: "Show or change the history window (how far back AS OF can read)",
		Long: `history prints the cluster's history window: the Page Stores keep what reading the
database as of any moment that far back needs (SELECT … FROM t AS OF TIMESTAMP '…'). --set
changes it: a longer window keeps history from now on (what was compacted is gone), a shorter
one lets the Page Stores compact what falls out of it.`,
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			mc, err := ctlMeta(ctx, sh, dir)
			if err != nil {
				return err
			}
			defer mc.Close()
			if cmd.Flags().Changed("set") {
				if err := mc.SetHistory(ctx, meta.History{Window: set}); err != nil {
					return err
				}
			}
			w, err := mc.HistoryWindow(ctx, meta.DefaultHistoryWindow)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "history window: %s\n", w)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data", "data directory of a cluster started with 'strata up'")
	cmd.Flags().DurationVar(&set, "set", 0, "the new history window (e.g. 2h; 0: keep no history)")
	return cmd
}
