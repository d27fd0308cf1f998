package rpcauth

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// serve starts the standard health service behind the secret on loopback.
func serve(t *testing.T, secret string) string {
	t.Helper()
	opts, err := ServerOptions(secret)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(g, health.NewServer())
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return lis.Addr().String()
}

func dial(t *testing.T, addr, secret string) healthpb.HealthClient {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if secret != "" {
		o, err := DialOption(secret)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, o)
	}
	conn, err := grpc.Dial(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return healthpb.NewHealthClient(conn)
}

// TestSecret checks unary and streaming calls with the right, a wrong and no secret.
func TestSecret(t *testing.T) {
	addr := serve(t, "s3cret")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		secret string
		want   codes.Code
	}{{"s3cret", codes.OK}, {"wrong", codes.Unauthenticated}, {"s3cret2", codes.Unauthenticated}, {"", codes.Unauthenticated}} {
		c := dial(t, addr, tc.secret)
		if _, err := c.Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != tc.want {
			t.Errorf("unary call with secret %q: %v, want %v", tc.secret, err, tc.want)
		}
		stream, err := c.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err == nil {
			_, err = stream.Recv()
		}
		if status.Code(err) != tc.want {
			t.Errorf("streaming call with secret %q: %v, want %v", tc.secret, err, tc.want)
		}
	}
}

func TestEmptySecretRefused(t *testing.T) {
	if _, err := ServerOptions(""); !errors.Is(err, ErrNoSecret) {
		t.Errorf("ServerOptions(\"\") = %v", err)
	}
	if _, err := DialOption(""); !errors.Is(err, ErrNoSecret) {
		t.Errorf("DialOption(\"\") = %v", err)
	}
}

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "secret")
	if err := os.WriteFile(f, []byte("  abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := ReadSecretFile(f); err != nil || s != "abc" {
		t.Errorf("ReadSecretFile = %q, %v", s, err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecretFile(empty); !errors.Is(err, ErrNoSecret) {
		t.Errorf("ReadSecretFile(empty) = %v", err)
	}
	if _, err := ReadSecretFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("ReadSecretFile(missing) succeeded")
	}
}
