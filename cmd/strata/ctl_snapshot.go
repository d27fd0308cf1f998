package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"strata/internal/meta"
	"strata/internal/retry"
)

func newCtlSnapshotCmd(sh *sharedFlags) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Take, list and delete snapshots: named moments the Page Stores keep until deleted",
		Long: `A snapshot is a named moment of the database. Taking one records the moment in the control
plane; the writer fixes its log position within a second and from then on the Page Stores keep
what reading the database as of it needs, whatever the history window, until it is deleted.
It copies nothing: it takes the same time at any size. Read it with
SELECT … FROM t AS OF 'NAME'.`,
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&dir, "data", "strata-data", "data directory of a cluster started with 'strata up'")

	var wait time.Duration
	create := &cobra.Command{
		Use:         "create [NAME]",
		Short:       "Take a snapshot of the database as of now (NAME: snap-<time> by default)",
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			start := time.Now()
			name := "snap-" + start.UTC().Format("20060102-150405.000")
			if len(args) == 1 {
				name = args[0]
			}
			if err := meta.ValidSnapshotName(name); err != nil {
				return err
			}
			mc, err := ctlMeta(ctx, sh, dir)
			if err != nil {
				return err
			}
			defer mc.Close()
			if err := mc.CreateSnapshot(ctx, meta.Snapshot{Name: name, At: start.UTC()}); err != nil {
				return err
			}
			s, err := awaitSnapshot(ctx, mc, name, wait)
			if err != nil {
				// Nothing half made stays: a snapshot the writer did not fix goes.
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				if derr := mc.DeleteSnapshot(dctx, name); derr != nil && !errors.Is(derr, meta.ErrNotFound) {
					err = errors.Join(err, derr)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "strata: snapshot %s as of %s (lsn %d), taken in %v\n", s.Name,
				s.At.Format("2006-01-02 15:04:05.000000 MST"), s.LSN, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	create.Flags().DurationVar(&wait, "wait", 10*time.Second, "how long to wait for the writer to fix the snapshot's position")

	list := &cobra.Command{
		Use:         "list",
		Short:       "List the snapshots",
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			mc, err := ctlMeta(ctx, sh, dir)
			if err != nil {
				return err
			}
			defer mc.Close()
			snaps, err := mc.Snapshots(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tAS OF\tLSN\tSTATE")
			for _, s := range snaps {
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", s.Name, s.At.Format("2006-01-02 15:04:05.000000 MST"), s.LSN, s.State())
			}
			return w.Flush()
		},
	}

	del := &cobra.Command{
		Use:         "delete NAME",
		Short:       "Delete a snapshot: the Page Stores may then compact what only it needed",
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			mc, err := ctlMeta(ctx, sh, dir)
			if err != nil {
				return err
			}
			defer mc.Close()
			if err := mc.DeleteSnapshot(ctx, args[0]); err != nil {
				if errors.Is(err, meta.ErrNotFound) {
					return fmt.Errorf("no snapshot %s", args[0])
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "strata: snapshot %s deleted\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

// awaitSnapshot waits until the writer fixed the position of snapshot name.
func awaitSnapshot(ctx context.Context, mc *meta.Client, name string, wait time.Duration) (meta.Snapshot, error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	b := retry.NewBackoff(20*time.Millisecond, 100*time.Millisecond)
	for {
		s, err := mc.Snapshot(wctx, name)
		switch {
		case err != nil && wctx.Err() == nil:
			return s, err
		case err == nil && s.Error != "":
			return s, fmt.Errorf("snapshot %s: %s", name, s.Error)
		case err == nil && !s.Pending():
			return s, nil
		}
		if !b.Wait(wctx) {
			return s, fmt.Errorf("snapshot %s: the writer did not fix its position within %v (is it up?)", name, wait)
		}
	}
}
