package node

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestMetricsWithoutServer: a node without a metrics address has no Registerer (so that it
// installs no event listener) and drops what it registers.
func TestMetricsWithoutServer(t *testing.T) {
	m, err := StartMetrics("", "", quiet())
	if err != nil {
		t.Fatal(err)
	}
	if m.Registerer() != nil || m.Addr() != "" {
		t.Fatalf("registerer %v, addr %q: want none", m.Registerer(), m.Addr())
	}
	m.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "dropped_total", Help: "h"}))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsServed: what a node registers is served at its address.
func TestMetricsServed(t *testing.T) {
	m, err := StartMetrics("127.0.0.1:0", "", quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Registerer() == nil || m.Addr() == "" {
		t.Fatal("a served registry has no registerer or address")
	}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "node_test_total", Help: "h"})
	c.Add(3)
	m.MustRegister(c)
	resp, err := http.Get("http://" + m.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "node_test_total 3") {
		t.Fatalf("the registered counter is not served:\n%s", b)
	}
}
