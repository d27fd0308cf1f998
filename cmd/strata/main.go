// Command strata is Strata's single binary: one subcommand per service and tools to inspect a
// data directory.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "strata:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "strata",
		Short:         "Strata: a MySQL-compatible database where the redo log is the database",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newUpCmd(), newLogCmd(), newCheckCmd(), newLogStoreCmd(), newPageStoreCmd(), newMetaCmd(), newComputeCmd(), newCtlCmd())
	return root
}
