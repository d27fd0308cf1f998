package sqlstore

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// TestServerIdentity: the handshake, VERSION(), @@version and @@version_comment agree and
// name Strata (GMS said 8.0.31 and Dolt while the handshake said 8.0.33-strata).
func TestServerIdentity(t *testing.T) {
	n := startNode(t, t.TempDir())
	c, err := net.DialTimeout("tcp", n.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 4)
	if _, err := io.ReadFull(c, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[0])|int(hdr[1])<<8|int(hdr[2])<<16)
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatal(err)
	}
	end := bytes.IndexByte(body[1:], 0)
	if body[0] != 10 || end < 0 {
		t.Fatalf("greeting: %q", body)
	}
	if got := string(body[1 : 1+end]); got != ServerVersion {
		t.Fatalf("handshake version %q, want %q", got, ServerVersion)
	}
	root := n.connect(t, "")
	if got := queryRows(t, root, "SELECT VERSION(), @@version, @@version_comment"); got != ServerVersion+","+ServerVersion+",Strata" {
		t.Fatalf("VERSION(), @@version, @@version_comment = %s", got)
	}
}
