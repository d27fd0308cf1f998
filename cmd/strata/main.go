// Command strata is Strata's single binary: one subcommand per service and tools to inspect a
// data directory.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	privateUmask()
	stop := profileTo(os.Getenv("STRATA_CPUPROFILE_DIR"))
	err := newRoot().Execute()
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "strata:", err)
		os.Exit(1)
	}
}

// profileTo writes a CPU profile of this process, until the returned stop, to
// DIR/<subcommand>-<pid>.pprof when dir is set: with `strata up`, every node of the cluster
// inherits the variable and profiles itself (bench/sysbench.sh, STRATA_CPUPROFILE_DIR).
func profileTo(dir string) (stop func()) {
	if dir == "" {
		return func() {}
	}
	name := "strata"
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		name = os.Args[1]
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", name, os.Getpid())))
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "strata: STRATA_CPUPROFILE_DIR:", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "strata",
		Short:         "Strata: a MySQL-compatible database where the redo log is the database",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := parseLogLevel(cmd.Flags().Lookup(logLevelFlag).Value.String()); err != nil {
				return err
			}
			return checkShared(cmd)
		},
	}
	root.PersistentFlags().String(logLevelFlag, "info", "log level of this process and, with `strata up`, of every node it starts: debug, info, warn or error")
	sh := addSharedFlags(root)
	root.AddCommand(newUpCmd(), newLogCmd(), newCheckCmd(), newLogStoreCmd(sh), newPageStoreCmd(sh), newMetaCmd(sh), newComputeCmd(sh), newProxyCmd(sh), newCtlCmd(sh))
	return root
}
