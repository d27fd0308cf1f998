// Command fakes3 serves an in-memory S3-compatible object store (gofakes3) over HTTP on a
// free loopback port, for the archive's tests. It prints the address it listens on as its first
// line of standard output and stops when its standard input closes or it is killed, so a test
// that dies leaves no server behind. It checks no credentials, and decodes the aws-chunked
// bodies of multipart parts that gofakes3 itself stores undecoded (chunked.go).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func main() {
	if err := run(); err != nil {
		slog.Error("fakes3", "err", err)
		os.Exit(1)
	}
}

// run serves until standard input closes.
func run() error {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	faker := gofakes3.New(s3mem.New())
	srv := &http.Server{Handler: decodePartChunks(faker.Server()), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	if _, err := fmt.Println(lis.Addr().String()); err != nil {
		return fmt.Errorf("print address: %w", err)
	}
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	select {
	case <-stdinClosed:
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
