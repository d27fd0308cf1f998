package archive

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeS3Bin is the fake S3 server (s3test/fakes3), built once by TestMain.
var fakeS3Bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "archive-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakeS3Bin = filepath.Join(dir, "fakes3")
	gobin := "go"
	if g := os.Getenv("GOROOT"); g != "" {
		gobin = filepath.Join(g, "bin", "go")
	}
	build := exec.Command(gobin, "build", "-o", fakeS3Bin, "strata/internal/archive/s3test/fakes3")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "archive: build fakes3:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fakeS3 is a running fake S3 server process.
type fakeS3 struct {
	addr string
	cmd  *exec.Cmd
}

// startFakeS3 starts the fake S3 server in its own process on a free loopback port; the test's
// cleanup kills it.
func startFakeS3(tb testing.TB) *fakeS3 {
	tb.Helper()
	cmd := exec.Command(fakeS3Bin)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe() // closed when the test process dies: the server stops
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	f := &fakeS3{cmd: cmd}
	tb.Cleanup(func() {
		stdin.Close()
		f.kill()
	})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- strings.TrimSpace(line)
	}()
	select {
	case f.addr = <-lines:
	case <-time.After(30 * time.Second):
		tb.Fatal("fakes3: no address within 30 s")
	}
	if !strings.HasPrefix(f.addr, "127.0.0.1:") {
		tb.Fatalf("fakes3: address %q", f.addr)
	}
	return f
}

// kill stops the server and waits for it; it may be called more than once.
func (f *fakeS3) kill() {
	if f.cmd.ProcessState != nil {
		return
	}
	_ = f.cmd.Process.Kill()
	_ = f.cmd.Wait()
}

// testKeys are the credentials the tests give the fake server (which checks none).
const (
	testAccessKey = "AKIA-TEST-ACCESS-4711"
	testSecretKey = "s3cr3t-TEST-SECRET-0815"
)

// s3Config returns the configuration of a bucket on f, created if missing, with 5 MiB parts
// so that a test object of a few MiB goes up in parts.
func s3Config(f *fakeS3, bucket string) S3Config {
	return S3Config{
		Endpoint:     f.addr,
		Bucket:       bucket,
		AccessKey:    testAccessKey,
		SecretKey:    testSecretKey,
		CreateBucket: true,
		PartSize:     5 << 20,
	}
}

// backendCase is one backend the suite runs against.
type backendCase struct {
	name string
	open func(t *testing.T) *Store
}

// backends are the backends every suite test runs against: a local directory and a bucket of
// a fake S3 server in its own process.
var backends = []backendCase{
	{"local", func(t *testing.T) *Store {
		b, err := NewLocal(filepath.Join(t.TempDir(), "archive"))
		if err != nil {
			t.Fatal(err)
		}
		return NewStore(b)
	}},
	{"s3", func(t *testing.T) *Store {
		f := startFakeS3(t)
		b, err := NewS3(testCtx(t), s3Config(f, "archive-test"))
		if err != nil {
			t.Fatal(err)
		}
		return NewStore(b)
	}},
}

// forEachBackend runs test against each backend, as a subtest.
func forEachBackend(t *testing.T, test func(t *testing.T, s *Store)) {
	for _, bc := range backends {
		t.Run(bc.name, func(t *testing.T) { test(t, bc.open(t)) })
	}
}

// testCtx returns a context that ends after 60 s, or with the test.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
