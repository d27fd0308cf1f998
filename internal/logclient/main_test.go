package logclient

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/logstore"
)

// storeProcessEnv, when set to a directory, makes the test binary a Log Store process serving
// that directory (see startStoreProcess) instead of running tests.
const storeProcessEnv = "LOGCLIENT_TEST_STORE_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(storeProcessEnv); dir != "" {
		if err := serveStoreProcess(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveStoreProcess serves a Log Store in dir on a free loopback port, prints the address on
// stdout and stops when stdin closes.
func serveStoreProcess(dir string) error {
	st, err := logstore.Open(logstore.Options{FS: vfs.Default, Dir: dir, Logger: quiet()})
	if err != nil {
		return err
	}
	defer st.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv, err := logstore.NewServer(st, secret, quiet())
	if err != nil {
		return err
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	fmt.Println(lis.Addr().String())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// startStoreProcess runs a Log Store in its own process (this test binary, re-executed) in a
// temporary directory, as a deployment does, and returns its address and a function that
// stops it.
func startStoreProcess(tb testing.TB) (string, func()) {
	tb.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), storeProcessEnv+"="+tb.TempDir())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
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
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		tb.Fatalf("log store process: %v", err)
	}
	return strings.TrimSpace(line), func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}
}
