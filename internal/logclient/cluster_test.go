package logclient

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/logstore"
	"strata/internal/page"
)

const secret = "test-secret"

func quiet() *slog.Logger {
	if os.Getenv("LOGCLIENT_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// node is one in-process Log Store on loopback.
type node struct {
	segSize int64 // 0: 64 KiB, small so that tests span segments
	dir     string
	addr    string
	store   *logstore.Store
	srv     *logstore.Server
	done    chan struct{}
}

func (n *node) start(t *testing.T) { n.startTB(t) }

func (n *node) startTB(t testing.TB) {
	t.Helper()
	seg := n.segSize
	if seg == 0 {
		seg = 64 << 10
	}
	st, err := logstore.Open(logstore.Options{FS: vfs.Default, Dir: n.dir, SegmentSize: seg, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	addr := n.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lis net.Listener
	for i := 0; ; i++ { // the port of a stopped store may take a moment to be free again
		if lis, err = net.Listen("tcp", addr); err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		_ = st.Close()
		t.Fatal(err)
	}
	srv, err := logstore.NewServer(st, secret, quiet())
	if err != nil {
		t.Fatal(err)
	}
	n.addr, n.store, n.srv, n.done = lis.Addr().String(), st, srv, make(chan struct{})
	go func() {
		defer close(n.done)
		_ = srv.Serve(lis)
	}()
}

func (n *node) stop() {
	if n.srv == nil {
		return
	}
	n.srv.Stop()
	<-n.done
	_ = n.store.Close()
	n.srv, n.store = nil, nil
}

type cluster struct {
	t     *testing.T
	nodes []*node
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{t: t}
	for i := 0; i < 3; i++ {
		n := &node{dir: t.TempDir()}
		n.start(t)
		c.nodes = append(c.nodes, n)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.stop()
		}
	})
	return c
}

func (c *cluster) addrs() []string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, n.addr)
	}
	return out
}

func (c *cluster) open(epoch uint64, mod func(*Options)) (*Log, error) {
	opts := Options{Addrs: c.addrs(), Secret: secret, Epoch: epoch, StallTimeout: 5 * time.Second,
		RPCTimeout: time.Second, Logger: quiet()}
	if mod != nil {
		mod(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return Recover(ctx, opts)
}

func (c *cluster) mustOpen(epoch uint64, mod func(*Options)) *Log {
	c.t.Helper()
	l, err := c.open(epoch, mod)
	if err != nil {
		c.t.Fatal(err)
	}
	return l
}

// writer appends groups to a log and remembers them.
type writer struct {
	mu   sync.Mutex
	l    *Log
	data []byte // the log from base on
	base page.LSN
}

func newWriter(l *Log) *writer { return &writer{l: l, base: l.Recovered()} }

// commit appends b and waits until it is durable.
func (w *writer) commit(ctx context.Context, b []byte) error {
	w.mu.Lock()
	_, end, err := w.l.Append(b, true)
	if err == nil {
		w.data = append(w.data, b...)
	}
	w.mu.Unlock()
	if err != nil {
		return err
	}
	return w.l.WaitDurable(ctx, end)
}

// readLog reads [from, to) through the log's Read.
func readLog(t *testing.T, l *Log, from, to page.LSN) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []byte
	for from < to {
		b, err := l.Read(ctx, from, 1<<20)
		if err != nil {
			t.Fatalf("read from %d: %v", from, err)
		}
		out = append(out, b...)
		from += page.LSN(len(b))
	}
	return out[:len(out)-int(from-to)]
}

// storeBytes reads [from, to) directly from one store.
func storeBytes(t *testing.T, s *logstore.Store, from, to page.LSN) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []byte
	for from < to {
		b, err := s.Read(ctx, from, 1<<20, to)
		if err != nil {
			t.Fatalf("store read from %d: %v", from, err)
		}
		out = append(out, b...)
		from += page.LSN(len(b))
	}
	return out
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func checkStore(t *testing.T, n *node, w *writer) {
	t.Helper()
	end := w.base + page.LSN(len(w.data))
	waitFor(t, 10*time.Second, "store "+n.addr+" to catch up", func() bool { return n.store.Status().Durable >= end })
	if got := storeBytes(t, n.store, w.base, end); !bytes.Equal(got, w.data) {
		t.Fatalf("store %s holds other bytes than the writer wrote", n.addr)
	}
}
