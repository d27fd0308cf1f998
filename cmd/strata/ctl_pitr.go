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

func newCtlRestoreCmd(sh *sharedFlags) *cobra.Command {
	var dir, at, keepAs string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "restore --at MOMENT|LSN|SNAPSHOT [--keep-as NAME]",
		Short: "Point-in-time restore: the main database becomes what it was at a moment; what it is now stays as a branch",
		Long: `restore makes a branch of the main database as of MOMENT (a date and time in local time, a
log position, or a snapshot name) and makes that branch the main database: its writer, read-only
nodes and the proxy move to it within a few seconds, and clients reconnect to the same
addresses. Nothing is copied, so a restore takes the same time at any size. The main database
as it was just before stays as a branch (--keep-as, default before-restore-<time>), served on a
port of its own, until 'strata ctl branch delete' deletes it. Changes committed while the
restore runs stay in that branch.`,
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if at == "" {
				return errors.New("--at is required: the moment, log position or snapshot to restore to")
			}
			start := time.Now()
			stamp := start.UTC().Format("20060102-150405")
			if keepAs == "" {
				keepAs = "before-restore-" + stamp
			}
			if err := meta.ValidSnapshotName(keepAs); err != nil {
				return fmt.Errorf("--keep-as: %w", err)
			}
			r := meta.Branch{Name: "restore-" + stamp, At: start.UTC(), Created: start.UTC(), Restore: true}
			if err := parseBranchAt(at, &r); err != nil {
				return err
			}
			mc, err := ctlMeta(ctx, sh, dir)
			if err != nil {
				return err
			}
			defer mc.Close()
			if _, err := mc.Branch(ctx, keepAs); err == nil {
				return fmt.Errorf("--keep-as %s: %w", keepAs, meta.ErrExists)
			}
			if r.Snapshot != "" {
				if _, err := mc.Snapshot(ctx, r.Snapshot); err != nil {
					return fmt.Errorf("--at %s: %w", at, err)
				}
			}
			if r, err = mc.CreateBranch(ctx, r); err != nil {
				return err
			}
			nm, err := swapWhenFixed(ctx, mc, r.Name, keepAs, wait)
			if err != nil {
				// Nothing half made stays: the restore branch goes (the main database is as it was).
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				if _, derr := mc.DeleteBranch(dctx, r.Name); derr != nil && !errors.Is(derr, meta.ErrNotFound) {
					err = errors.Join(err, derr)
				}
				return err
			}
			addr, err := awaitMainOn(ctx, mc, nm.Timeline, wait)
			if err != nil {
				return fmt.Errorf("the main database is restored (timeline %d from lsn %d), but %w", nm.Timeline, nm.LSN, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "strata: the main database is restored to %s (timeline %d from lsn %d%s) and serves MySQL on %s, in %v\n",
				at, nm.Timeline, nm.LSN, archiveNote(nm), addr, time.Since(start).Round(time.Millisecond))
			fmt.Fprintf(cmd.OutOrStdout(), "strata: what it was before is branch %s ('strata ctl branch list'; delete it with 'strata ctl branch delete %s')\n",
				keepAs, keepAs)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data", "data directory of a cluster started with 'strata up'")
	cmd.Flags().StringVar(&at, "at", "", "where to restore to: a date and time ('2026-12-06 10:00:00', local time), a log position, or a snapshot's name")
	cmd.Flags().StringVar(&keepAs, "keep-as", "", "the branch that keeps the main database as it is now (default before-restore-<time>)")
	cmd.Flags().DurationVar(&wait, "wait", 60*time.Second, "how long to wait for each step")
	return cmd
}

// swapWhenFixed waits until the main database's writer fixed the point of restore name, then
// makes it the main database, keeping the present one as branch keepAs.
func swapWhenFixed(ctx context.Context, mc *meta.Client, name, keepAs string, wait time.Duration) (meta.Branch, error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	b := retry.NewBackoff(20*time.Millisecond, 100*time.Millisecond)
	for {
		r, err := mc.Branch(wctx, name)
		switch {
		case err != nil && wctx.Err() == nil:
			return meta.Branch{}, err
		case err == nil && r.Error != "":
			return meta.Branch{}, fmt.Errorf("cannot restore: %s", r.Error)
		case err == nil && r.LSN != 0:
			return mc.SwapMain(wctx, name, keepAs)
		}
		if !b.Wait(wctx) {
			return meta.Branch{}, fmt.Errorf("the writer did not fix the point to restore to within %v (is it up?)", wait)
		}
	}
}

// awaitMainOn waits until the main database's writer serves timeline tl and returns its MySQL
// address.
func awaitMainOn(ctx context.Context, mc *meta.Client, tl uint64, wait time.Duration) (string, error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	b := retry.NewBackoff(20*time.Millisecond, 100*time.Millisecond)
	for {
		if nodes, err := mc.Nodes(wctx); err == nil {
			if w, ok := servingWriter(nodes); ok && w.Timeline == tl {
				return w.Addr, nil
			}
		}
		if !b.Wait(wctx) {
			return "", fmt.Errorf("its writer does not serve it within %v (is 'strata up' running?)", wait)
		}
	}
}
