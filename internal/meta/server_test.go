package meta

import (
	"context"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPeerPortOnLoopbackOnly: the embedded etcd's peer port (plain HTTP, no authentication)
// listens on loopback only and cannot be reached through another address of this host;
// StartServer refuses a peer address beyond loopback, and a client address beyond loopback
// without a password.
func TestPeerPortOnLoopbackOnly(t *testing.T) {
	ctx := context.Background()
	for _, o := range []ServerOptions{
		{PeerAddr: "0.0.0.0:0"},
		{PeerAddr: ":0"},
		{PeerAddr: "[::]:0"},
		{ClientAddr: "0.0.0.0:0"},
		{ClientAddr: "0.0.0.0:0", PeerAddr: "0.0.0.0:0", Password: "p"},
	} {
		o.Dir, o.Logger = t.TempDir(), quiet()
		s, err := StartServer(ctx, o)
		if err == nil {
			s.Close()
			t.Fatalf("StartServer(client %q, peer %q, password %v) served", o.ClientAddr, o.PeerAddr, o.Password != "")
		}
		if !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("StartServer(client %q, peer %q): %v, want a loopback error", o.ClientAddr, o.PeerAddr, err)
		}
	}

	s := startServer(t, t.TempDir())
	defer s.Close()
	peers := s.PeerEndpoints()
	if len(peers) == 0 {
		t.Fatal("no peer listener")
	}
	for _, p := range peers {
		host, port, err := net.SplitHostPort(p)
		if err != nil {
			t.Fatal(err)
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			t.Fatalf("peer listener on %s, want loopback", p)
		}
		// Through any other address of this host the port is closed.
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			t.Fatal(err)
		}
		tried := 0
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
				continue
			}
			tried++
			c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), port), 2*time.Second)
			if err == nil {
				c.Close()
				t.Fatalf("peer port %s answered on %s", port, ipn.IP)
			}
		}
		t.Logf("peer listener %s; refused on %d other addresses of this host", p, tried)
	}
}

// TestServerFilesPrivate: etcd's data directory, and everything in it, is the owner's only,
// and a directory an older build made 0755 is tightened at start.
func TestServerFilesPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "meta")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	s := startServer(t, dir)
	c := dial(t, s)
	if _, err := c.BumpEpoch(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Close()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, want no access for group or other", path, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
