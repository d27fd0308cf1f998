package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"
)

// TestTargets: /api/targets lists every node that serves metrics in Prometheus's HTTP service
// discovery format, labelled by role and node, and fails (rather than answer an empty list)
// while the control plane cannot be read.
func TestTargets(t *testing.T) {
	c := testCluster(time.Now(), "127.0.0.1:9301")
	c.Nodes[1].Metrics = "127.0.0.1:9101" // logstore-1
	c.Nodes[4].Metrics = "127.0.0.1:9201" // pagestore-1
	src := &fakeSource{c: c}
	s := listen(t, src, time.Second)
	resp, err := http.Get(s.URL() + "api/targets")
	if err != nil {
		t.Fatal(err)
	}
	var got []targetGroup
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d, %v", resp.StatusCode, err)
	}
	want := []targetGroup{
		{[]string{"127.0.0.1:9101"}, map[string]string{"role": "logstore", "node": "logstore-1"}},
		{[]string{"127.0.0.1:9201"}, map[string]string{"role": "pagestore", "node": "pagestore-1"}},
		{[]string{"127.0.0.1:9301"}, map[string]string{"role": "rw", "node": "rw"}},
	}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Fatalf("targets %s, want %s", g, w)
	}

	fresh := listen(t, &fakeSource{err: errors.New("etcd is down")}, time.Second)
	resp, err = http.Get(fresh.URL() + "api/targets")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("with the control plane down: %d, want 503", resp.StatusCode)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
