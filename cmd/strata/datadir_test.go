package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestOfflineToolsRefuseOtherDirs: strata check and strata log dump refuse a cluster's data
// directory, a directory that is not Strata's and a missing one with a message that says
// why, and create nothing in them (check reported "0 trees" on a cluster's directory and
// created wal/ and pages/ in it).
func TestOfflineToolsRefuseOtherDirs(t *testing.T) {
	base := t.TempDir()
	cluster := filepath.Join(base, "cluster")
	if err := os.MkdirAll(filepath.Join(cluster, "meta"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cluster, clusterFile), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(base, "other")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(base, "missing")
	for _, c := range []struct{ dir, want string }{
		{cluster, "is a cluster's data directory"},
		{other, "is not a Strata data directory"},
		{missing, "does not exist"},
	} {
		before := listDir(t, c.dir)
		for _, args := range [][]string{{"check", "--data", c.dir}, {"log", "dump", "--data", c.dir}} {
			root := newRoot()
			root.SetOut(&bytes.Buffer{})
			root.SetErr(&bytes.Buffer{})
			root.SetArgs(args)
			err := root.ExecuteContext(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("strata %s: %v, want an error saying %q", strings.Join(args, " "), err, c.want)
			}
			if after := listDir(t, c.dir); !slices.Equal(before, after) {
				t.Errorf("strata %s changed %s: %v, then %v", strings.Join(args, " "), c.dir, before, after)
			}
		}
	}
}

// listDir lists dir's entries, nil if it does not exist.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
