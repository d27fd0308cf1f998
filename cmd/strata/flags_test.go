package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestSharedFlags: --etcd and --secret-file are defined once, on the root; a command that
// reads them takes them before or after its name, and one that does not refuses them.
func TestSharedFlags(t *testing.T) {
	run := func(args ...string) (string, error) {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		err := root.ExecuteContext(context.Background())
		return out.String(), err
	}
	for _, args := range [][]string{
		{"up", "--etcd", "127.0.0.1:1", "--data", t.TempDir()},
		{"--secret-file", "/nonexistent", "check", "--data", t.TempDir()},
		{"meta", "--etcd", "127.0.0.1:1", "--data", t.TempDir()},
	} {
		_, err := run(args...)
		if err == nil || !strings.Contains(err.Error(), "does not apply to") {
			t.Errorf("strata %s: %v, want a refusal of the flag", strings.Join(args, " "), err)
		}
	}
	// A node that needs the secret says so, wherever --etcd was given.
	for _, args := range [][]string{
		{"--etcd", "127.0.0.1:1", "compute"},
		{"logstore", "--etcd", "127.0.0.1:1", "--data", t.TempDir()},
	} {
		_, err := run(args...)
		if err == nil || !strings.Contains(err.Error(), "--secret-file is required") {
			t.Errorf("strata %s: %v, want --secret-file is required", strings.Join(args, " "), err)
		}
	}
	out, err := run("pagestore", "--help")
	if err != nil || !strings.Contains(out, "Global Flags:") || !strings.Contains(out, "--secret-file") || !strings.Contains(out, "--etcd") {
		t.Errorf("pagestore --help does not list the shared flags: %v\n%s", err, out)
	}
}
