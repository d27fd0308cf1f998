package archive

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// silentListener accepts connections on a loopback port and never answers; its cleanup
// closes it and them.
func silentListener(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return lis.Addr().String()
}

// closedPort returns a loopback address that refuses connections: a port the OS gave and
// that was closed again.
func closedPort(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// checkUnreachable checks that op fails with ErrUnreachable within the deadline d it is given
// (plus a second), and that its message names the endpoint and no key.
func checkUnreachable(t *testing.T, what, endpoint string, d time.Duration, op func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	start := time.Now()
	err := op(ctx)
	took := time.Since(start)
	switch {
	case !errors.Is(err, ErrUnreachable):
		t.Errorf("%s: %v, want ErrUnreachable", what, err)
	case took > d+time.Second:
		t.Errorf("%s: failed after %v, deadline %v", what, took, d)
	case !strings.Contains(err.Error(), endpoint):
		t.Errorf("%s: %q does not name the endpoint %s", what, err, endpoint)
	case strings.Contains(err.Error(), testSecretKey) || strings.Contains(err.Error(), testAccessKey):
		t.Errorf("%s: %q shows a key", what, err)
	}
	t.Logf("%s: %v after %v", what, err, took.Round(time.Millisecond))
}

// TestS3Unreachable: an endpoint that refuses connections, one that never answers, and a
// server that went away after the store was opened all fail with ErrUnreachable within the
// context's deadline.
func TestS3Unreachable(t *testing.T) {
	const d = 1500 * time.Millisecond
	for name, addr := range map[string]string{"refused": closedPort(t), "silent": silentListener(t)} {
		cfg := S3Config{Endpoint: addr, Bucket: "b-unreachable", AccessKey: testAccessKey, SecretKey: testSecretKey}
		checkUnreachable(t, name+" open", addr, d, func(ctx context.Context) error {
			_, err := NewS3(ctx, cfg)
			return err
		})
	}

	f := startFakeS3(t)
	b, err := NewS3(testCtx(t), s3Config(f, "gone"))
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(b)
	put(t, s, "k", []byte("v"))
	f.kill()
	ops := map[string]func(ctx context.Context) error{
		"put":    func(ctx context.Context) error { return s.Put(ctx, "k2", strings.NewReader("v"), 1) },
		"get":    func(ctx context.Context) error { _, err := s.Get(ctx, "k"); return err },
		"stat":   func(ctx context.Context) error { _, err := s.Stat(ctx, "k"); return err },
		"list":   func(ctx context.Context) error { return s.List(ctx, "", func(Info) error { return nil }) },
		"delete": func(ctx context.Context) error { return s.Delete(ctx, "k") },
	}
	for name, op := range ops {
		checkUnreachable(t, "gone "+name, f.addr, d, op)
	}
}

// TestS3MissingBucket: a missing bucket is ErrNoBucket when not to be created, and created
// when asked; a bucket removed under an open store makes its calls fail with ErrNoBucket.
func TestS3MissingBucket(t *testing.T) {
	f := startFakeS3(t)
	ctx := testCtx(t)
	cfg := s3Config(f, "missing-bucket")
	cfg.CreateBucket = false
	if _, err := NewS3(ctx, cfg); !errors.Is(err, ErrNoBucket) || !strings.Contains(err.Error(), "missing-bucket") {
		t.Fatalf("missing bucket: %v, want ErrNoBucket naming it", err)
	}
	cfg.CreateBucket = true
	b, err := NewS3(ctx, cfg)
	if err != nil {
		t.Fatalf("creating the bucket: %v", err)
	}
	cfg.CreateBucket = false
	if _, err := NewS3(ctx, cfg); err != nil {
		t.Fatalf("bucket just created: %v", err)
	}
	if err := b.c.RemoveBucket(ctx, cfg.Bucket); err != nil {
		t.Fatal(err)
	}
	s := NewStore(b)
	if err := s.Put(ctx, "k", strings.NewReader("v"), 1); !errors.Is(err, ErrNoBucket) {
		t.Fatalf("put into a removed bucket: %v, want ErrNoBucket", err)
	}
	if _, err := s.Get(ctx, "k"); !errors.Is(err, ErrNoBucket) {
		t.Fatalf("get from a removed bucket: %v, want ErrNoBucket", err)
	}
}

// TestS3ErrorMapping: minio-go's error codes for a full store and a missing key map to the
// package's errors.
func TestS3ErrorMapping(t *testing.T) {
	s := &S3{cfg: S3Config{Endpoint: "127.0.0.1:1"}, name: "s3://127.0.0.1:1/b"}
	for code, want := range map[string]error{
		"XMinioStorageFull": ErrFull,
		minio.NoSuchKey:     ErrNotFound,
		minio.NoSuchBucket:  ErrNoBucket,
	} {
		err := s.err(t.Context(), minio.ErrorResponse{Code: code, Message: "m"})
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", code, err, want)
		}
	}
}
