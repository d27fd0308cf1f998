package lognode

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestRunServesAndStops: the node reports its address once it serves, accepts connections
// there, and returns without error when its context ends.
func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Dir: t.TempDir(), Listen: "127.0.0.1:0", ID: "log1", Secret: "s3cret",
			MetricsAddr: "", Logger: quiet(), Ready: func(addr string) { ready <- addr }})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Run returned before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready in 10 s")
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of its context ending")
	}
}

// TestRunRefuses: no secret, and a metrics port in use, are errors at start.
func TestRunRefuses(t *testing.T) {
	err := Run(context.Background(), Options{Dir: t.TempDir(), Listen: "127.0.0.1:0", Logger: quiet()})
	if err == nil || !strings.Contains(err.Error(), "secret") {
		t.Fatalf("without a secret: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = Run(context.Background(), Options{Dir: t.TempDir(), Listen: "127.0.0.1:0", Secret: "s3cret",
		MetricsAddr: l.Addr().String(), Logger: quiet()})
	if err == nil || !strings.Contains(err.Error(), "--metrics-addr") || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Fatalf("with the metrics port in use: %v", err)
	}
}
