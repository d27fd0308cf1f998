package proxy

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"strata/internal/proxy/wire"
)

// rawLogin connects to the proxy at addr as root (no password) and returns the connection.
func rawLogin(t testing.TB, addr string, caps uint32) *wire.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	c := wire.NewConn(nc)
	p, err := c.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	hs, err := wire.ParseHandshake(p)
	if err != nil {
		t.Fatal(err)
	}
	if hs.AuthPlugin != wire.NativePassword || len(hs.Salt) != 20 {
		t.Fatalf("handshake %+v", hs)
	}
	resp := wire.Response{Capabilities: caps | wire.ClientProtocol41, MaxPacket: 1 << 24, Charset: 255, User: "root", AuthPlugin: wire.NativePassword}
	if err := c.WriteFlush(wire.AppendResponse(nil, resp)); err != nil {
		t.Fatal(err)
	}
	if p, err = c.ReadPacket(); err != nil || len(p) == 0 || p[0] != wire.HeaderOK {
		t.Fatalf("login: %x %v", p, err)
	}
	return c
}

// roundTrip sends one command packet and returns the first answer packet.
func roundTrip(t testing.TB, c *wire.Conn, pkt []byte) []byte {
	t.Helper()
	c.ResetSeq()
	if err := c.WriteFlush(pkt); err != nil {
		t.Fatal(err)
	}
	p, err := c.ReadPacket()
	if err != nil {
		t.Fatalf("command 0x%x: %v", pkt[0], err)
	}
	return p
}

func wantErr(t *testing.T, p []byte, code uint16) {
	t.Helper()
	if !wire.IsErr(p) || wire.ParseErr(p).Code != code {
		t.Fatalf("answer %q, want error %d", p, code)
	}
}

// TestRawProtocol: malformed and unsupported commands get MySQL errors and the session
// goes on; COM_PING, COM_FIELD_LIST and COM_RESET_CONNECTION are served.
func TestRawProtocol(t *testing.T) {
	rw := startRW(t, t.TempDir())
	p := startProxy(t, single(rw), nil)
	caps := baseCaps | wire.ClientDeprecateEOF
	c := rawLogin(t, p.Addr().String(), caps)

	wantErr(t, roundTrip(t, c, []byte{0x7f}), wire.ErUnknownCom)
	wantErr(t, roundTrip(t, c, []byte{wire.ComStmtExecute, 1}), wire.ErMalformedPacket)
	wantErr(t, roundTrip(t, c, binary.LittleEndian.AppendUint32([]byte{wire.ComStmtExecute}, 99)), wire.ErMalformedPacket)
	wantErr(t, roundTrip(t, c, append(binary.LittleEndian.AppendUint32([]byte{wire.ComStmtExecute}, 99), 0, 1, 0, 0, 0)), wire.ErUnknownStmt)
	wantErr(t, roundTrip(t, c, binary.LittleEndian.AppendUint32([]byte{wire.ComStmtReset}, 5)), wire.ErUnknownStmt)
	wantErr(t, roundTrip(t, c, []byte{wire.ComChangeUser, 'x', 0}), wire.ErNotSupportedYet)
	if a := roundTrip(t, c, []byte{wire.ComPing}); a[0] != wire.HeaderOK {
		t.Fatalf("ping: %x", a)
	}
	for _, q := range []string{"CREATE DATABASE d", "CREATE TABLE d.t (a INT PRIMARY KEY, b TEXT)", "SET @v = 1"} {
		if a := roundTrip(t, c, append([]byte{wire.ComQuery}, q...)); a[0] != wire.HeaderOK {
			t.Fatalf("%s: %q", q, a)
		}
	}
	if a := roundTrip(t, c, append([]byte{wire.ComInitDB}, "d"...)); a[0] != wire.HeaderOK {
		t.Fatalf("COM_INIT_DB: %q", a)
	}
	// COM_FIELD_LIST: the column definitions, then an EOF.
	c.ResetSeq()
	if err := c.WriteFlush(append([]byte{wire.ComFieldList}, "t\x00"...)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		a, err := c.ReadPacket()
		if err != nil {
			t.Fatal(err)
		}
		if wire.IsErr(a) {
			t.Fatalf("field list: %v", wire.ParseErr(a))
		}
		if wire.IsEOF(a) {
			break
		}
		n++
	}
	if n != 2 {
		t.Fatalf("field list: %d columns", n)
	}
	// COM_RESET_CONNECTION forgets user variables (and keeps the database, as MySQL does).
	if a := roundTrip(t, c, []byte{wire.ComResetConnection}); a[0] != wire.HeaderOK {
		t.Fatalf("reset: %q", a)
	}
	c.ResetSeq()
	if err := c.WriteFlush(append([]byte{wire.ComQuery}, "SELECT @v IS NULL"...)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		a, err := c.ReadPacket()
		if err != nil {
			t.Fatal(err)
		}
		if wire.IsErr(a) {
			t.Fatal(wire.ParseErr(a))
		}
		if wire.IsEOF(a) {
			break
		}
		got = append(got, string(a))
	}
	if len(got) != 3 || got[2] != "\x011" { // column count, definition, row "1"
		t.Fatalf("after reset: %q", got)
	}

	// A malformed handshake response is 1043.
	nc, err := net.DialTimeout("tcp", p.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	w := wire.NewConn(nc)
	if _, err := w.ReadPacket(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFlush([]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	a, err := w.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, a, wire.ErHandshake)
}

// FuzzCommands: no command a logged-in client sends crashes the proxy or stops it serving;
// the session answers or closes.
func FuzzCommands(f *testing.F) {
	for _, s := range [][]byte{{wire.ComQuery}, {wire.ComStmtExecute, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0xff}, {wire.ComStmtPrepare},
		{wire.ComSetOption, 1}, {wire.ComFieldList}, {wire.ComProcessKill, 1}, {wire.ComStmtSendLongData, 1, 0, 0, 0},
		append([]byte{wire.ComQuery}, "SELECT 1; SELECT 2"...), append([]byte{wire.ComStmtPrepare}, "SELECT ?"...)} {
		f.Add(s)
	}
	rw := startRW(f, f.TempDir())
	p := startProxy(f, single(rw), nil)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if len(pkt) == 0 {
			return
		}
		c := rawLogin(t, p.Addr().String(), baseCaps|wire.ClientDeprecateEOF|wire.ClientMultiStatements)
		c.ResetSeq()
		if err := c.WriteFlush(pkt); err != nil {
			return
		}
		// Read whatever comes until the session is quiet or closed.
		_ = c.NetConn().SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		for range 1000 {
			if _, err := c.ReadPacket(); err != nil {
				break
			}
		}
		d := rawLogin(t, p.Addr().String(), baseCaps)
		if a := roundTrip(t, d, []byte{wire.ComPing}); len(a) == 0 || a[0] != wire.HeaderOK {
			t.Fatalf("ping after command %x: %x", pkt, a)
		}
	})
}
