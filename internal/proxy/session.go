package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"

	"strata/internal/proxy/route"
	"strata/internal/proxy/wire"
)

// session is one client connection: its route.Session and the backend connections it
// holds or last used.
type session struct {
	srv        *Server
	roTurn     uint64 // where this session starts in the list of ROs (pickRO)
	lastRO     string // the RO of the session's last read (pickRO)
	cc         *wire.Conn
	id         uint32
	clientAddr string
	user       string
	charset    byte
	caps       uint32
	rs         *route.Session
	status     uint16 // the status flags of the last OK or EOF, for the proxy's own answers

	pinned *backendConn // the session's own RW connection while route pins it
	lastRW ref          // the RW connection of the last RW statement
	prev   ref          // the connection of the previous statement
	rwNode string       // the RW address the session's connection state lives on

	stmts    map[uint32]*clientStmt // binary-protocol statements by the client's id
	nextStmt uint32

	mu   sync.Mutex
	cur  *backendConn // the connection a statement is running on (abort closes it)
	done bool
}

// ref is a claim on a pooled connection: it is still the session's as long as nobody took
// it since (its lease is unchanged).
type ref struct {
	b      *backendConn
	lease  uint64
	target route.Target
}

func newSession(s *Server, nc net.Conn, id uint32) *session {
	return &session{srv: s, cc: wire.NewConn(nc), id: id, clientAddr: nc.RemoteAddr().String(),
		rs: route.NewSession(s.cfg), status: wire.StatusAutocommit, stmts: map[uint32]*clientStmt{},
		roTurn: s.roTurn.Add(1)}
}

// key is the pool key of this session's connections to addr.
func (c *session) key(addr string) poolKey {
	return poolKey{addr: addr, user: c.user, host: hostOf(c.clientAddr), charset: c.charset, caps: c.caps & forwardCaps}
}

// abort ends the session from another goroutine (the server is closing).
func (c *session) abort() {
	c.mu.Lock()
	c.done = true
	cur := c.cur
	c.mu.Unlock()
	_ = c.cc.Close()
	if cur != nil {
		cur.close()
	}
}

func (c *session) setCur(b *backendConn) {
	c.mu.Lock()
	c.cur = b
	done := c.done
	c.mu.Unlock()
	if done && b != nil {
		b.close()
	}
}

// serve runs the session until the client leaves.
func (c *session) serve() {
	c.srv.stats.Clients.Add(1)
	defer func() {
		// A panic here is a bug; it ends this client's connection, not the proxy.
		if r := recover(); r != nil {
			c.srv.lg.Error("proxy: panic serving a client", "client", c.clientAddr, "panic", r, "stack", string(debug.Stack()))
		}
		c.srv.stats.Clients.Add(-1)
		c.srv.forget(c)
		_ = c.cc.Close()
		if c.pinned != nil {
			// It may hold a transaction, locks or temporary tables: closing ends them.
			c.pinned.close()
			c.pinned = nil
		}
	}()
	if err := c.handshake(); err != nil {
		c.srv.lg.Debug("proxy: handshake", "client", c.clientAddr, "err", err)
		return
	}
	for {
		c.cc.ResetSeq()
		pkt, err := c.cc.ReadPacket()
		if err != nil {
			if errors.Is(err, wire.ErrPacketTooLarge) {
				_ = c.writeErr(wire.NewError(wire.ErNetPacketTooLarge, "08S01", "Got a packet bigger than 'max_allowed_packet' bytes"))
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.srv.lg.Debug("proxy: read from client", "client", c.clientAddr, "err", err)
			}
			return
		}
		if len(pkt) == 0 {
			_ = c.writeErr(wire.NewError(wire.ErMalformedPacket, "", "Malformed communication packet"))
			return
		}
		if pkt[0] == wire.ComQuit {
			return
		}
		if err := c.command(pkt); err != nil {
			c.srv.lg.Debug("proxy: session ends", "client", c.clientAddr, "err", err)
			return
		}
	}
}

// command serves one client command. An error ends the session.
func (c *session) command(pkt []byte) error {
	switch pkt[0] {
	case wire.ComQuery:
		return c.statement(pkt, string(pkt[1:]))
	case wire.ComInitDB:
		return c.statement(pkt, "USE "+quoteIdent(string(pkt[1:])))
	case wire.ComPing:
		return c.writeOK(wire.OK{Status: c.status})
	case wire.ComFieldList:
		return c.fieldList(pkt)
	case wire.ComProcessKill:
		if len(pkt) < 5 {
			return c.writeErr(malformed())
		}
		q := fmt.Sprintf("KILL %d", binary.LittleEndian.Uint32(pkt[1:]))
		return c.statement(append([]byte{wire.ComQuery}, q...), q)
	case wire.ComStmtPrepare:
		return c.prepare(pkt)
	case wire.ComStmtExecute:
		return c.execute(pkt)
	case wire.ComStmtSendLongData:
		c.sendLongData(pkt)
		return nil
	case wire.ComStmtClose:
		c.closeStmt(pkt)
		return nil
	case wire.ComStmtReset:
		return c.resetStmt(pkt)
	case wire.ComResetConnection:
		return c.resetConnection()
	case wire.ComSetOption:
		return c.setOption(pkt)
	case wire.ComChangeUser:
		return c.writeErr(wire.NewError(wire.ErNotSupportedYet, "42000",
			"COM_CHANGE_USER is not supported through the Strata proxy: connect again as the other user"))
	}
	return c.writeErr(wire.NewError(wire.ErUnknownCom, "08S01", "Unknown command 0x%02x", pkt[0]))
}

func malformed() *wire.SQLError {
	return wire.NewError(wire.ErMalformedPacket, "", "Malformed communication packet")
}

// writeOK answers OK.
func (c *session) writeOK(ok wire.OK) error {
	if err := c.cc.WriteFlush(wire.AppendOK(nil, ok)); err != nil {
		return clientError{err}
	}
	return nil
}

// writeErr answers with e.
func (c *session) writeErr(e *wire.SQLError) error {
	if err := c.cc.WriteFlush(wire.AppendErr(nil, e)); err != nil {
		return clientError{err}
	}
	return nil
}

// resetConnection is COM_RESET_CONNECTION: a fresh session on the proxy; the connection the
// session kept is reset at once (it may hold locks or temporary tables).
func (c *session) resetConnection() error {
	c.rs.Reset()
	c.stmts = map[uint32]*clientStmt{}
	if b := c.pinned; b != nil {
		c.pinned = nil
		if err := b.reset(); err != nil {
			b.broken = true
		}
		c.srv.pool.put(b)
	}
	c.lastRW, c.prev = ref{}, ref{}
	c.status = wire.StatusAutocommit
	return c.writeOK(wire.OK{Status: c.status})
}

// setOption is COM_SET_OPTION: only the multi-statement setting the session already has
// (backend connections are opened with it).
func (c *session) setOption(pkt []byte) error {
	if len(pkt) < 3 {
		return c.writeErr(malformed())
	}
	on := binary.LittleEndian.Uint16(pkt[1:]) == 0
	if on != (c.caps&wire.ClientMultiStatements != 0) {
		return c.writeErr(wire.NewError(wire.ErNotSupportedYet, "42000",
			"changing the multi-statement option is not supported through the Strata proxy: set it when connecting"))
	}
	p := []byte{wire.HeaderEOF, 0, 0}
	p = binary.LittleEndian.AppendUint16(p, c.status)
	if c.caps&wire.ClientDeprecateEOF != 0 {
		return c.writeOK(wire.OK{Status: c.status})
	}
	if err := c.cc.WriteFlush(p); err != nil {
		return clientError{err}
	}
	return nil
}

func okResult() route.Result { return route.Result{OK: true} }
