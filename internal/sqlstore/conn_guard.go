package sqlstore

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dolthub/vitess/go/mysql"
)

// guardConn is a client connection as vitess sees it. It closes the connection when the
// client has not authenticated within connect_timeout, and, as long as the connection is not
// TLS, reads the packet framing of what the client sends before vitess does:
//
//   - a packet longer than max_allowed_packet (as it was when the connection was accepted)
//     is answered with error 1153 and the connection is closed, before vitess allocates a
//     buffer for it (it allocates the length the header announces);
//   - after authentication, commands that make vitess panic (and so drop the connection and
//     log a stack) are answered here as MySQL answers them: an empty packet (1047), a
//     COM_STMT_RESET of an unknown statement (1243) or a short one (1835), a malformed
//     COM_REGISTER_REPLICA (1835), and COM_BINLOG_DUMP_GTID (1835 when malformed, 1236
//     otherwise: there is no binary log; then the connection is closed, as MySQL ends a
//     dump's session);
//   - long data (COM_STMT_SEND_LONG_DATA) for a parameter beyond max_allowed_packet is
//     dropped, and the statement's next execution gets MySQL's error for it (1105).
//
// A TLS connection's commands reach vitess unread (its packets are encrypted below vitess);
// guardHandler and the vitess log hook (handler_guard.go) cover what they can for it.
//
// Only vitess's connection goroutine reads; it writes between reads only, so the error
// packets written from Read do not interleave with vitess's.
type guardConn struct {
	net.Conn
	l         *guardListener
	maxPacket int64
	timer     *time.Timer
	authed    atomic.Bool
	timedOut  atomic.Bool // closed by connect_timeout
	closeOnce sync.Once
	closing   atomic.Bool // close after the next write (guardHandler's 1153)
	infile    atomic.Bool // the client sends a file (LOAD DATA LOCAL) up to an empty packet

	mc *mysql.Conn // vitess's connection, once authenticated

	// COM_STMT_SEND_LONG_DATA bytes per statement and parameter since the statement's last
	// execution (vitess appends them without a limit); -1: over max_allowed_packet.
	longData map[uint64]int64

	// Read side.
	raw       bool   // TLS: bytes pass unread
	rawNext   bool   // the packet being passed asks for TLS: raw after it
	first     bool   // the next packet is the client's first
	buf       []byte // bytes read and not yet passed on: buf[start:end]
	start     int
	end       int
	remaining int   // bytes of the current packet (header included) still to pass on
	skip      int   // bytes of a dropped packet still to discard
	logical   int64 // length of the multi-packet command the next packet continues
	cont      bool  // the next packet continues a packet of 2^24-1 bytes
	err       error // returned once nothing is left to pass on
	preAuth   int   // bytes handed on before authentication
}

const (
	maxChunk        = 1<<24 - 1
	clientSSL       = 0x800
	inspectLimit    = 1 << 16 // commands parsed here are buffered up to this length
	preAuthLimit    = 1 << 20 // bytes a client may send before it has authenticated
	erUnknownCom    = 1047
	erNetTooLarge   = 1153
	erUnknownStmt   = 1243
	erMalformed     = 1835
	erBinlogFatal   = 1236
	comStmtReset    = 0x1a
	comStmtExecute  = 0x17
	comStmtLongData = 0x18
	comStmtClose    = 0x19
	erUnknown       = 1105
	comRegisterRepl = 0x15
	comBinlogDumpG  = 0x1e
)

func newGuardConn(c net.Conn, l *guardListener) *guardConn {
	g := &guardConn{Conn: c, l: l, first: true, buf: make([]byte, 16<<10),
		maxPacket: globalInt("max_allowed_packet", defaultMaxAllowedPacket)}
	timeout := time.Duration(globalInt("connect_timeout", 10)) * time.Second
	g.timer = time.AfterFunc(timeout, func() {
		if !g.authed.Load() {
			g.timedOut.Store(true)
			l.lg.Debug("sqlstore: connect_timeout: closing an unauthenticated connection", "remote", c.RemoteAddr())
			_ = g.Conn.Close()
		}
	})
	l.track(g)
	return g
}

// expectInfile makes the packets the client sends next, up to an empty one, pass as the
// contents of a file (LOAD DATA LOCAL, loaddata.go) rather than as commands.
func (g *guardConn) expectInfile() { g.infile.Store(true) }

// guardOf returns the guardConn under a vitess connection, or nil.
func guardOf(c *mysql.Conn) *guardConn {
	nc := c.Conn
	if t, ok := nc.(*tls.Conn); ok {
		nc = t.NetConn()
	}
	g, _ := nc.(*guardConn)
	return g
}

// authenticated is called from the auth server once the client has authenticated.
func (g *guardConn) authenticated(c *mysql.Conn) {
	g.mc = c
	g.authed.Store(true)
	g.timer.Stop()
}

// Close implements net.Conn.
func (g *guardConn) Close() error {
	err := net.ErrClosed
	g.closeOnce.Do(func() {
		g.timer.Stop()
		g.l.open.Add(-1)
		g.l.untrack(g)
		err = g.Conn.Close()
	})
	return err
}

// Write implements net.Conn.
func (g *guardConn) Write(p []byte) (int, error) {
	n, err := g.Conn.Write(p)
	if g.closing.Load() {
		_ = g.Conn.Close()
	}
	return n, err
}

// fail answers with an error packet, closes the connection and makes reads end.
func (g *guardConn) fail(seq byte, code uint16, state, msg string) {
	g.reply(seq, code, state, msg)
	_ = g.Conn.Close()
	g.err = io.EOF
}

// reply writes an error packet.
func (g *guardConn) reply(seq byte, code uint16, state, msg string) {
	_ = g.Conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := g.Conn.Write(errorPacket(seq, code, state, msg)); err != nil {
		g.err = io.EOF
	}
	_ = g.Conn.SetWriteDeadline(time.Time{})
}

// fill reads until n bytes are buffered; false if the connection ended first.
func (g *guardConn) fill(n int) bool {
	for g.end-g.start < n {
		if g.err != nil {
			return false
		}
		if g.start > 0 {
			g.end = copy(g.buf, g.buf[g.start:g.end])
			g.start = 0
		}
		if n > len(g.buf) {
			nb := make([]byte, n)
			copy(nb, g.buf[:g.end])
			g.buf = nb
		}
		m, err := g.Conn.Read(g.buf[g.end:])
		g.end += m
		if err != nil {
			g.err = g.readErr(err)
		}
	}
	return true
}

// readErr is io.EOF (which vitess does not log) for a connection closed by connect_timeout,
// else err.
func (g *guardConn) readErr(err error) error {
	if g.timedOut.Load() {
		return io.EOF
	}
	return err
}

// Read implements net.Conn. Before authentication it hands on at most preAuthLimit bytes
// in all (TLS handshake included): vitess would buffer a handshake packet of any size over
// TLS, where guardConn cannot see packets.
func (g *guardConn) Read(p []byte) (int, error) {
	n, err := g.read(p)
	if n > 0 && !g.authed.Load() {
		if g.preAuth += n; g.preAuth > preAuthLimit {
			g.l.lg.Info("sqlstore: an unauthenticated client sent too much; closing its connection", "remote", g.RemoteAddr())
			_ = g.Conn.Close()
			g.err = io.EOF
			return 0, io.EOF
		}
	}
	return n, err
}

// read hands on at most one packet per call.
func (g *guardConn) read(p []byte) (int, error) {
	for {
		if g.remaining > 0 || g.raw {
			if g.end > g.start {
				n := g.end - g.start
				if !g.raw && n > g.remaining {
					n = g.remaining
				}
				n = copy(p, g.buf[g.start:g.start+n])
				g.start += n
				if !g.raw {
					g.remaining -= n
				}
				return n, nil
			}
			if g.err != nil {
				return 0, g.err
			}
			q := p
			if !g.raw && len(q) > g.remaining {
				q = q[:g.remaining]
			}
			n, err := g.Conn.Read(q)
			if !g.raw {
				g.remaining -= n
			}
			if err != nil && n == 0 {
				return 0, g.readErr(err)
			}
			return n, nil
		}
		if g.skip > 0 {
			if g.end == g.start && !g.fill(1) {
				return 0, g.err
			}
			d := min(g.skip, g.end-g.start)
			g.start += d
			g.skip -= d
			continue
		}
		if g.rawNext {
			g.raw = true
			continue
		}
		if g.err != nil && g.end == g.start {
			return 0, g.err
		}
		if !g.fill(4) {
			if g.end > g.start {
				// A torn header: let vitess read it and fail.
				g.remaining = g.end - g.start
				continue
			}
			return 0, g.err
		}
		g.nextPacket()
	}
}

// nextPacket looks at the packet whose header is buffered, and either sets it to be passed
// on or answers and drops it.
func (g *guardConn) nextPacket() {
	h := g.buf[g.start : g.start+4]
	length := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	seq := h[3]
	if total := g.logical + int64(length); total > g.maxPacket {
		g.l.lg.Info("sqlstore: packet bigger than max_allowed_packet; closing the connection",
			"remote", g.RemoteAddr(), "max_allowed_packet", g.maxPacket)
		g.start, g.end = 0, 0
		g.fail(seq+1, erNetTooLarge, "08S01", "Got a packet bigger than 'max_allowed_packet' bytes")
		return
	}
	cont := g.cont
	g.cont = length == maxChunk
	if g.cont {
		g.logical += int64(length)
	} else {
		g.logical = 0
	}
	switch {
	case g.first:
		g.first = false
		if g.l.tls && length >= 4 {
			if !g.fill(8) {
				break
			}
			if binary.LittleEndian.Uint32(g.buf[g.start+4:])&clientSSL != 0 {
				g.rawNext = true // TLS follows this packet
			}
		}
	case cont || !g.authed.Load():
	case g.infile.Load():
		if length == 0 {
			g.infile.Store(false) // the end of the file
		}
	case length == 0:
		// MySQL reads an empty command as COM_SLEEP, which clients may not send.
		g.drop(0, seq, erUnknownCom, "08S01", "Unknown command")
		return
	default:
		if !g.fill(5) {
			break
		}
		if g.command(length, seq) {
			return
		}
	}
	g.remaining = 4 + length
}
