package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"strata/internal/localdb"
)

func newCheckCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Open a --single data directory and verify every B+tree's invariants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := singleDataDir(dir); err != nil {
				return fmt.Errorf("strata check: %w", err)
			}
			db, err := localdb.Open(ctx, localdb.Options{Dir: dir})
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.CheckTrees(ctx); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %d trees, log durable to LSN %d, pages persisted to LSN %d\n",
				len(db.Trees()), db.Log.Durable(), db.Pages.Persisted())
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data", "data directory")
	return cmd
}
