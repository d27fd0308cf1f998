package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"strata/internal/meta"
	"strata/internal/retry"
)

func newCtlBranchCmd(sh *sharedFlags) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "branch",
		Short: "Make, list and delete branches: writable databases made from the main one's past",
		Long: `A branch is a new writable database that starts from the main database as it was at a
moment, a log position or a snapshot, and then goes its own way: it shares every page it does
not change with the main database (copy-on-write in the Page Stores), so making one copies
nothing. 'strata up' serves each branch with a writer of its own, on a port of its own.`,
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&dir, "data", "strata-data", "data directory of a cluster started with 'strata up'")

	var at, from string
	var wait time.Duration
	create := &cobra.Command{
		Use:         "create NAME [--at MOMENT|LSN|SNAPSHOT] [--from BRANCH]",
		Short:       "Make a branch of the main database (or of a branch) as of a moment (default: now), a log position or a snapshot",
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			start := time.Now()
			b := meta.Branch{Name: args[0], At: start.UTC(), Created: start.UTC()}
			if err := parseBranchAt(at, &b); err != nil {
				return err
			}
			mc, err := ctlMeta(ctx, sh, dir)
			if err != nil {
				return err
			}
			defer mc.Close()
			if b.Snapshot != "" {
				if _, err := mc.Snapshot(ctx, b.Snapshot); err != nil {
					return fmt.Errorf("--at %s: %w", at, err)
				}
			}
			if from != "" {
				p, err := mc.Branch(ctx, from)
				switch {
				case errors.Is(err, meta.ErrNotFound):
					return fmt.Errorf("--from %s: no such branch", from)
				case err != nil:
					return err
				case !p.Serves():
					return fmt.Errorf("--from %s: the branch is %s, it has no writer to make a branch from", from, p.State())
				}
				b.From = from
			}
			if b, err = mc.CreateBranch(ctx, b); err != nil {
				return err
			}
			b, addr, err := awaitBranchServing(ctx, mc, b.Name, wait)
			if err != nil {
				if b.Error != "" || b.Pending() {
					// Nothing half made stays: a branch the writer did not fix, or could not, goes.
					dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
					defer cancel()
					if _, derr := mc.DeleteBranch(dctx, b.Name); derr != nil && !errors.Is(derr, meta.ErrNotFound) {
						err = errors.Join(err, derr)
					}
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "strata: branch %s (timeline %d) from lsn %d%s serves MySQL on %s, made in %v\n",
				b.Name, b.Timeline, b.LSN, archiveNote(b), addr, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	create.Flags().StringVar(&at, "at", "", "where the branch starts: a date and time ('2026-12-06 10:00:00', local time), a log position, or a snapshot's name (default: now)")
	create.Flags().DurationVar(&wait, "wait", 90*time.Second, "how long to wait for the branch to serve")
	create.Flags().StringVar(&from, "from", "", "make it from this branch instead of the main database (its writer fixes the point, in its own history)")

	list := &cobra.Command{
		Use:         "list",
		Short:       "List the branches",
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			mc, err := ctlMeta(ctx, sh, dir)
			if err != nil {
				return err
			}
			defer mc.Close()
			branches, err := mc.Branches(ctx)
			if err != nil {
				return err
			}
			members, err := mc.Members(ctx, meta.RoleBranch)
			if err != nil {
				return err
			}
			addr := map[string]string{}
			for _, m := range members {
				addr[m.ID] = m.Addr
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tTIMELINE\tFROM LSN\tASKED\tSTATE\tMYSQL")
			for _, b := range branches {
				asked := b.At.Format("2006-01-02 15:04:05.000000 MST")
				switch {
				case b.Snapshot != "":
					asked = "snapshot " + b.Snapshot
				case b.AtLSN != 0:
					asked = "lsn " + strconv.FormatUint(b.AtLSN, 10)
				}
				a := addr[b.Name]
				if a == "" {
					a = "-"
				}
				from := strconv.FormatUint(b.LSN, 10)
				if b.Archive != nil {
					from += " (archive)"
				}
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", b.Name, b.Timeline, from, asked, b.State(), a)
			}
			return w.Flush()
		},
	}

	del := &cobra.Command{
		Use:         "delete NAME",
		Short:       "Delete a branch: its writer stops and the Page Stores drop what only it had",
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			mc, err := ctlMeta(ctx, sh, dir)
			if err != nil {
				return err
			}
			defer mc.Close()
			retired, err := mc.DeleteBranch(ctx, args[0])
			if err != nil {
				if errors.Is(err, meta.ErrNotFound) {
					return fmt.Errorf("no branch %s", args[0])
				}
				return err
			}
			if retired {
				fmt.Fprintf(cmd.OutOrStdout(), "strata: branch %s deleted; its writer stops, but the Page Stores keep its pages up to where the main database (or a branch) was made from it\n", args[0])
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "strata: branch %s deleted\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

// archiveNote says, for people, that timeline b was made from the archive (it was older than
// what the Page Stores keep); "" when it was not.
func archiveNote(b meta.Branch) string {
	switch {
	case b.Archive == nil:
		return ""
	case b.Archive.Base:
		return fmt.Sprintf(" (made from the archive: its base at lsn %d and the log after it)", b.Archive.Start)
	default:
		return " (made from the archive's log)"
	}
}

var lsnArg = regexp.MustCompile(`^[0-9]+$`)

// parseBranchAt reads --at into b: a log position (digits), a date and time (local time), or
// a snapshot name; empty: now (b.At as set).
func parseBranchAt(at string, b *meta.Branch) error {
	switch {
	case at == "":
		return nil
	case lsnArg.MatchString(at):
		n, err := strconv.ParseUint(at, 10, 64)
		if err != nil || n == 0 {
			return fmt.Errorf("--at %s: not a log position", at)
		}
		b.AtLSN = n
		return nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999", "2006-01-02T15:04:05.999999", time.RFC3339Nano, "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, at, time.Local); err == nil {
			if t.After(time.Now()) {
				return fmt.Errorf("--at %s is in the future", at)
			}
			b.At = t.UTC()
			return nil
		}
	}
	if err := meta.ValidSnapshotName(at); err != nil {
		return fmt.Errorf("--at %s is neither a date and time, a log position nor a snapshot name", at)
	}
	b.Snapshot = at
	return nil
}

// awaitBranchServing waits until the writer fixed the branch point and the branch's own
// writer serves; it returns the branch and its MySQL address.
func awaitBranchServing(ctx context.Context, mc *meta.Client, name string, wait time.Duration) (meta.Branch, string, error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	b := retry.NewBackoff(50*time.Millisecond, 200*time.Millisecond)
	var br meta.Branch
	for {
		var err error
		br, err = mc.Branch(wctx, name)
		switch {
		case err != nil && wctx.Err() == nil:
			return br, "", err
		case err == nil && br.Error != "":
			return br, "", fmt.Errorf("branch %s cannot be made: %s", name, br.Error)
		case err == nil && !br.Pending():
			if addr, ok := branchServes(wctx, mc, name); ok {
				return br, addr, nil
			}
		}
		if !b.Wait(wctx) {
			if br.Pending() {
				return br, "", fmt.Errorf("branch %s: the writer of the database it is made from did not fix its branch point within %v (is it up?)", name, wait)
			}
			return br, "", fmt.Errorf("branch %s (from lsn %d): its writer does not serve within %v (is 'strata up' running?)", name, br.LSN, wait)
		}
	}
}

// branchServes says whether branch name's writer is up, and where it serves MySQL.
func branchServes(ctx context.Context, mc *meta.Client, name string) (string, bool) {
	nodes, err := mc.ForBranch(name).Nodes(ctx)
	if err != nil {
		return "", false
	}
	w, ok := servingWriter(nodes)
	return w.Addr, ok
}
