package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServe(t *testing.T) {
	reg := NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "things_total", Help: "Things."})
	reg.MustRegister(c)
	s, err := Listen(Options{Addr: "127.0.0.1:0", Gatherer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c.Add(3)
	code, body := get(t, "http://"+s.Addr()+"/metrics", "")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	for _, want := range []string{"strata_things_total 3", "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// A port in use is an error that names the address.
	_, err = Listen(Options{Addr: s.Addr(), Gatherer: reg})
	if err == nil || !strings.Contains(err.Error(), s.Addr()) {
		t.Fatalf("second Listen on %s: %v", s.Addr(), err)
	}
	if _, err := Listen(Options{Addr: "no-port", Gatherer: reg}); err == nil {
		t.Fatal("an address without a port was accepted")
	}
}

func TestBeyondLoopback(t *testing.T) {
	// Refused without a secret, before anything is bound.
	_, err := Listen(Options{Addr: "0.0.0.0:0", Gatherer: NewRegistry()})
	if !errors.Is(err, ErrNoSecret) {
		t.Fatalf("0.0.0.0 without a secret: %v", err)
	}
	for _, h := range []string{"127.0.0.1", "127.0.0.5", "::1", "localhost"} {
		if !isLoopback(h) {
			t.Errorf("%s not loopback", h)
		}
	}
	for _, h := range []string{"0.0.0.0", "", "10.1.2.3", "::"} {
		if isLoopback(h) {
			t.Errorf("%s taken for loopback", h)
		}
	}
	if !Loopback("127.0.0.1:9100") || !Loopback("[::1]:1") || Loopback("10.1.2.3:9100") || Loopback("127.0.0.1") {
		t.Error("Loopback misjudges an address")
	}
	// With one, a scrape must carry it (tested on loopback: the handler is the same).
	srv := httptest.NewServer(requireBearer("s3cret", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	})))
	defer srv.Close()
	for auth, want := range map[string]int{"": 401, "Bearer wrong": 401, "s3cret": 401, "Bearer s3cret": 200} {
		if code, _ := get(t, srv.URL, auth); code != want {
			t.Errorf("Authorization %q: %d, want %d", auth, code, want)
		}
	}
}
