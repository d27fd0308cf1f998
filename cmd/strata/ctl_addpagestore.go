package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"strata/internal/node/pagenode"
	"strata/internal/rpcauth"
)

func newCtlAddPageStoreCmd(sh *sharedFlags) *cobra.Command {
	var dir string
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
already recorded. The secret is read from --secret-file, or else from DATA/secret.`,
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			secretFile := sh.secretFile
			if secretFile == "" {
				secretFile = filepath.Join(dir, "secret")
			}
			secret, err := rpcauth.ReadSecretFile(secretFile)
			if err != nil {
				return fmt.Errorf("the cluster secret (--secret-file): %w", err)
			}
			mc, _, err := ctlDial(ctx, dir, sh.etcd, secret)
			if err != nil {
				return err
			}
			defer mc.Close()
			id := ""
			if len(args) > 0 {
				id = args[0]
			}
			return pagenode.Add(ctx, mc, pagenode.AddOptions{ID: id, Secret: secret, StartTimeout: startWait, Out: cmd.OutOrStdout()})
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data", "data directory of a cluster started with 'strata up'")
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
