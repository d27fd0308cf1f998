package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// splitEndpoints splits a comma-separated list (of host:port endpoints, segments…), dropping
// empty entries.
func splitEndpoints(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// The flags that the nodes and ctl share, defined once on the root command.
const (
	etcdFlag       = "etcd"
	secretFileFlag = "secret-file"
)

// sharedFlags are the values of the root's shared persistent flags.
type sharedFlags struct {
	etcd, secretFile string
}

func addSharedFlags(root *cobra.Command) *sharedFlags {
	sh := &sharedFlags{}
	root.PersistentFlags().StringVar(&sh.etcd, etcdFlag, "",
		"the control plane's endpoints, comma-separated: where a node publishes its status and finds the cluster, where ctl finds it (default for ctl: the cluster in --data)")
	root.PersistentFlags().StringVar(&sh.secretFile, secretFileFlag, "",
		"file holding the cluster secret: required by logstore, pagestore and compute; meta then requires etcd authentication; ctl reads DATA/secret by default")
	return sh
}

// usesShared annotates a command with the shared flags it reads; the others refuse them.
func usesShared(flags ...string) map[string]string {
	return map[string]string{"shared-flags": strings.Join(flags, ",")}
}

// checkShared refuses a shared flag given to a command that does not read it, rather than
// ignore it silently.
func checkShared(cmd *cobra.Command) error {
	uses := strings.Split(cmd.Annotations["shared-flags"], ",")
	for _, name := range []string{etcdFlag, secretFileFlag} {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed && !slices.Contains(uses, name) {
			return fmt.Errorf("--%s does not apply to 'strata %s'", name, strings.TrimPrefix(cmd.CommandPath(), "strata "))
		}
	}
	return nil
}
