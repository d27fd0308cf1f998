package archtest

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// rule forbids a package to depend, directly or not, on any of the packages named (or on
// their subpackages).
type rule struct {
	pkg    string
	not    []string
	reason string
}

var rules = []rule{
	{"strata/internal/logclient", []string{"strata/internal/logstore"}, "a client meets the Log Store through internal/logapi"},
	{"strata/internal/pageclient", []string{"strata/internal/pagestore", "strata/internal/pageserver"}, "a client meets the Page Store through internal/pageapi"},
	{"strata/internal/cluster", []string{"strata/internal/pagestore", "strata/internal/pageserver", "strata/internal/logstore"}, "the compute node uses the stores through their clients"},
	{"strata/internal/logapi", []string{"strata/internal/logstore", "strata/internal/logclient"}, "the contract depends on neither side"},
	{"strata/internal/pageapi", []string{"strata/internal/pagestore", "strata/internal/pageserver", "strata/internal/pageclient"}, "the contract depends on neither side"},
	{"strata/internal/placement", []string{"net", "google.golang.org/grpc", "go.etcd.io", "strata/internal/meta"}, "placement is pure functions: no I/O, no etcd, no gRPC"},
	{"strata/internal/pagestore", []string{"google.golang.org/grpc", "strata/internal/pageapi", "strata/internal/pageserver"}, "the storage core knows nothing of the service that serves it"},
}

// violations returns what breaks the rules in deps (package → every package it depends on).
// A package a rule names must be in deps, so that a rename cannot make a rule pass unseen.
func violations(deps map[string][]string, rules []rule) []string {
	var out []string
	for _, r := range rules {
		d, ok := deps[r.pkg]
		if !ok {
			out = append(out, fmt.Sprintf("%s: not found", r.pkg))
			continue
		}
		for _, dep := range d {
			for _, bad := range r.not {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					out = append(out, fmt.Sprintf("%s depends on %s (%s)", r.pkg, dep, r.reason))
				}
			}
		}
	}
	return out
}

// listDeps runs go list over the module's internal packages: their dependencies, tests'
// imports excluded (a client's tests may start a real server).
func listDeps(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", "strata/internal/...")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list: %v\n%s", err, msg)
	}
	deps := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 {
			deps[f[0]] = f[1:]
		}
	}
	return deps
}

// TestNoClientImportsServer checks the rules on the module as it is.
func TestNoClientImportsServer(t *testing.T) {
	for _, v := range violations(listDeps(t), rules) {
		t.Error(v)
	}
}

// TestViolations checks that the rules catch what they should, on made-up dependencies.
func TestViolations(t *testing.T) {
	deps := map[string][]string{
		"strata/internal/logclient":  {"strata/internal/logapi", "strata/internal/logstore/logtest"},
		"strata/internal/pageclient": {"strata/internal/pageapi", "strata/internal/pageserver"},
		"strata/internal/cluster":    {"strata/internal/pageclient", "strata/internal/pagestorex"},
		"strata/internal/logapi":     {"google.golang.org/grpc"},
		"strata/internal/pageapi":    {"strata/internal/page"},
		"strata/internal/placement":  {"strata/internal/page", "net"},
		"strata/internal/pagestore":  {"strata/internal/placement", "github.com/cockroachdb/pebble/v2"},
	}
	got := violations(deps, rules)
	want := []string{
		"strata/internal/logclient depends on strata/internal/logstore/logtest",
		"strata/internal/pageclient depends on strata/internal/pageserver",
		"strata/internal/placement depends on net",
	}
	if len(got) != len(want) {
		t.Fatalf("violations:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w+" (") {
			t.Errorf("violation %d: %q, want %q", i, got[i], w)
		}
	}
	delete(deps, "strata/internal/cluster")
	if got := violations(deps, rules); !slices.Contains(got, "strata/internal/cluster: not found") {
		t.Errorf("a missing package passes: %v", got)
	}
}
