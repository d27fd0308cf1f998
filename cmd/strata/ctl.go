package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"strata/internal/meta"
	"strata/internal/node"
	"strata/internal/placement"
	"strata/internal/rpcauth"
)

// clusterFile is the file in a cluster's data directory that says where its control plane is.
const clusterFile = "cluster.json"

// clusterInfo is what `strata up` records in clusterFile.
type clusterInfo struct {
	Etcd []string `json:"etcd"`
	// Ports chosen on the first start, kept so that nodes come back at the same addresses.
	Ports map[string]int `json:"ports"`
}

func readClusterInfo(dir string) (clusterInfo, error) {
	var ci clusterInfo
	b, err := os.ReadFile(filepath.Join(dir, clusterFile))
	if err != nil {
		return ci, err
	}
	if err := json.Unmarshal(b, &ci); err != nil {
		return ci, fmt.Errorf("%s: %w", filepath.Join(dir, clusterFile), err)
	}
	return ci, nil
}

func newCtlCmd(sh *sharedFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "ctl", Short: "Inspect and operate a running cluster"}
	cmd.AddCommand(newCtlStatusCmd(sh), newCtlAddPageStoreCmd(sh), newCtlAddROCmd(sh), newCtlRemoveROCmd(sh), newCtlFailoverCmd(sh), newCtlHistoryCmd(sh), newCtlSnapshotCmd(sh), newCtlRestoreTableCmd(sh), newCtlRestoreCmd(sh), newCtlBranchCmd(sh))
	return cmd
}

// ctlSecret reads the cluster secret for a ctl command: from secretFile, or else from DATA/secret
// when it exists ("" when it does not: a control plane without authentication).
func ctlSecret(dir, secretFile string) (string, error) {
	if secretFile == "" {
		secretFile = filepath.Join(dir, "secret")
		if _, err := os.Stat(secretFile); errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
	}
	return rpcauth.ReadSecretFile(secretFile)
}

// ctlDial connects a ctl command to the control plane found with etcd or in dir (see findEtcd),
// within 10 s, and returns the endpoints it used.
func ctlDial(ctx context.Context, dir, etcd, secret string) (*meta.Client, []string, error) {
	eps, err := findEtcd(dir, etcd)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	mc, err := node.DialMeta(ctx, eps, secret, slog.New(slog.NewTextHandler(io.Discard, nil)), 3*time.Second)
	return mc, eps, err
}

func newCtlStatusCmd(sh *sharedFlags) *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print every node of the cluster: role, address, process, state and log positions",
		Long: `Print every node the control plane knows: members the cluster should have and the live
status nodes publish, and for each Page Store the segments the placement gives it. The control
plane is found with --etcd, or from the cluster file that 'strata up' writes in --data. With
--json it prints one object with a "nodes" array and a "placement" object. The secret is read
from --secret-file, or else from DATA/secret when it exists.`,
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			secret, err := ctlSecret(dir, sh.secretFile)
			if err != nil {
				return err
			}
			mc, eps, err := ctlDial(ctx, dir, sh.etcd, secret)
			if err != nil {
				return err
			}
			defer mc.Close()
			nodes, err := mc.Nodes(ctx)
			if err != nil {
				return err
			}
			// A node that stopped publishing is down before its live key expires.
			now := time.Now()
			for i := range nodes {
				if nodes[i].IsDown(now) {
					nodes[i].State = meta.StateDown
				}
			}
			epoch, err := mc.Epoch(ctx)
			if err != nil {
				return err
			}
			pl, _, err := mc.Placement(ctx)
			if err != nil {
				return err
			}
			window, err := mc.HistoryWindow(ctx, meta.DefaultHistoryWindow)
			if err != nil {
				return err
			}
			snaps, err := mc.Snapshots(ctx)
			if err != nil {
				return err
			}
			branches, err := mc.Branches(ctx)
			if err != nil {
				return err
			}
			main, err := mc.Main(ctx)
			if err != nil {
				return err
			}
			out := statusOut{Etcd: eps, Epoch: epoch, Nodes: nodes, Placement: placement.Summarize(pl),
				History: meta.History{Window: window}, Snapshots: snaps, Branches: branches, Main: main}
			return printStatus(cmd.OutOrStdout(), out, asJSON)
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data", "data directory of a cluster started with 'strata up'")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

type statusOut struct {
	Etcd      []string                           `json:"etcd"`
	Epoch     uint64                             `json:"epoch"`
	Nodes     []meta.Node                        `json:"nodes"`
	Placement map[string]placement.StoreSegments `json:"placement,omitempty"` // Page Store ID → its segments
	History   meta.History                       `json:"history"`
	Snapshots []meta.Snapshot                    `json:"snapshots"`
	Branches  []meta.Branch                      `json:"branches"`
	// Main is the main database's timeline (0 until a point-in-time restore).
	Main meta.Branch `json:"main"`
}

func printStatus(w io.Writer, out statusOut, asJSON bool) error {
	if out.Nodes == nil {
		out.Nodes = []meta.Node{}
	}
	if out.Snapshots == nil {
		out.Snapshots = []meta.Snapshot{}
	}
	if out.Branches == nil {
		out.Branches = []meta.Branch{}
	}
	nodes, segs := out.Nodes, out.Placement
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(w, "control plane %v, writer epoch %d, history window %s, snapshots %d, branches %d (strata ctl branch list)\n",
		out.Etcd, out.Epoch, out.History.Window, len(out.Snapshots), len(out.Branches))
	for _, n := range nodes {
		if n.Role != meta.RoleRW || (n.Archived == 0 && n.ArchiveError == "") {
			continue
		}
		fmt.Fprintf(w, "archive: the log is archived to lsn %d (%d bytes behind the durable log)\n", n.Archived, max(n.Durable, n.Archived)-n.Archived)
		if n.ArchiveError != "" {
			fmt.Fprintf(w, "WARNING: the archive cannot be written: %s; the Log Stores keep the log until it can\n", n.ArchiveError)
		}
	}
	if out.Main.Timeline != 0 {
		fmt.Fprintf(w, "the main database is timeline %d, restored to lsn %d of timeline %d\n", out.Main.Timeline, out.Main.LSN, out.Main.Base)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tID\tADDR\tPID\tSTATE\tEPOCH\tDURABLE\tAPPLIED\tPERSISTED\tLAG\tSEGMENTS\tMETRICS")
	num := func(v uint64) string {
		if v == 0 {
			return "-"
		}
		return strconv.FormatUint(v, 10)
	}
	for _, n := range nodes {
		pid := "-"
		if n.PID != 0 {
			pid = strconv.Itoa(n.PID)
		}
		seg := "-"
		if s, ok := segs[n.ID]; ok && n.Role == meta.RolePageStore {
			seg = s.String()
		}
		mt := n.Metrics
		if mt == "" {
			mt = "-"
		}
		lag := "-"
		if n.Role == meta.RoleRO && n.Applied != 0 {
			// Behind the log it follows: bytes durable beyond its view, and for how long.
			lag = fmt.Sprintf("%dB/%.1fms", n.Durable-min(n.Durable, n.Applied), n.LagMs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Role, n.ID, n.Addr, pid, n.State,
			num(n.Epoch), num(n.Durable), num(n.Applied), num(n.Persisted), lag, seg, mt)
	}
	return tw.Flush()
}
