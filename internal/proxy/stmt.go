package proxy

import (
	"encoding/binary"
	"fmt"

	"strata/internal/proxy/wire"
)

// clientStmt is a binary-protocol statement as the client knows it: the proxy gives it its
// own id and prepares its text on each backend connection that executes it.
type clientStmt struct {
	text    string
	params  int
	types   []byte   // the parameter types the client last sent (2 bytes each)
	long    [][]byte // COM_STMT_SEND_LONG_DATA packets for the next execute
	longLen int
}

// prepare is COM_STMT_PREPARE: on the RW (which validates it), relayed with the proxy's id.
func (c *session) prepare(pkt []byte) error {
	if e := c.checkFailover(); e != nil {
		return c.writeErr(e)
	}
	id := c.nextStmt + 1
	text := string(pkt[1:])
	d := c.rs.PrepareBinary(id, text)
	var params int
	err := c.run(d, func(b *backendConn) (outcome, error) {
		if err := b.command(pkt); err != nil {
			return outcome{}, err
		}
		bid, n, out, err := b.readPrepare(c.cc, id)
		if err == nil && out.err == nil {
			b.stmts[id] = &backendStmt{id: bid}
			params = n
		}
		return out, err
	})
	if _, ok := c.rs.PreparedText(id); ok {
		c.nextStmt = id
		c.stmts[id] = &clientStmt{text: text, params: params}
	}
	return err
}

// readPrepare reads the answer to COM_STMT_PREPARE: the node's statement id and parameter
// count. With a client, the answer is relayed with the statement id replaced by clientID.
func (b *backendConn) readPrepare(client *wire.Conn, clientID uint32) (id uint32, params int, out outcome, err error) {
	fail := func(err error) (uint32, int, outcome, error) {
		b.broken = true
		return 0, 0, out, err
	}
	p, err := b.wc.ReadPacket()
	if err != nil {
		return fail(fmt.Errorf("proxy: read from %s: %w", b.addr, err))
	}
	send := func(p []byte) error {
		if client == nil {
			return nil
		}
		out.sent = true
		if err := client.WritePacket(p); err != nil {
			return clientError{err}
		}
		return nil
	}
	if wire.IsErr(p) {
		out.err = wire.ParseErr(p)
		if out.err.Code == wire.ErServerShutdown {
			return fail(errNodeDraining)
		}
		if err := send(p); err != nil {
			return fail(err)
		}
		if client != nil {
			if err := client.Flush(); err != nil {
				return fail(clientError{err})
			}
		}
		return 0, 0, out, nil
	}
	if len(p) < 12 || p[0] != wire.HeaderOK {
		return fail(fmt.Errorf("proxy: bad prepare answer from %s", b.addr))
	}
	id = binary.LittleEndian.Uint32(p[1:])
	cols := int(binary.LittleEndian.Uint16(p[5:]))
	params = int(binary.LittleEndian.Uint16(p[7:]))
	binary.LittleEndian.PutUint32(p[1:], clientID)
	if err := send(p); err != nil {
		return fail(err)
	}
	n := params + cols
	if !b.deprecate {
		if params > 0 {
			n++
		}
		if cols > 0 {
			n++
		}
	}
	for range n {
		p, err := b.wc.ReadPacket()
		if err != nil {
			return fail(fmt.Errorf("proxy: read from %s: %w", b.addr, err))
		}
		if err := send(p); err != nil {
			return fail(err)
		}
	}
	if client != nil {
		if err := client.Flush(); err != nil {
			return fail(clientError{err})
		}
	}
	out.completed = 1
	return id, params, out, nil
}

// execute is COM_STMT_EXECUTE, routed by the statement's text; the statement is prepared
// on the chosen connection first if it is not yet, and the parameter types the client sent
// with an earlier execute are added when this connection has not seen them.
func (c *session) execute(pkt []byte) error {
	if len(pkt) < 10 {
		return c.writeErr(malformed())
	}
	id := binary.LittleEndian.Uint32(pkt[1:])
	st := c.stmts[id]
	if st == nil {
		return c.writeErr(wire.NewError(wire.ErUnknownStmt, "HY000", "Unknown prepared statement handler (%d) given to mysqld_stmt_execute", id))
	}
	if pkt[5]&0x07 != 0 {
		return c.writeErr(wire.NewError(wire.ErNotSupportedYet, "42000", "Cursors (COM_STMT_EXECUTE with a cursor type) are not supported through the Strata proxy"))
	}
	bound := -1 // offset of new-params-bound-flag
	if st.params > 0 {
		bound = 10 + (st.params+7)/8
		if len(pkt) <= bound {
			return c.writeErr(malformed())
		}
		if pkt[bound] == 1 {
			if len(pkt) < bound+1+2*st.params {
				return c.writeErr(malformed())
			}
			st.types = append(st.types[:0], pkt[bound+1:bound+1+2*st.params]...)
		}
	}
	if e := c.checkFailover(); e != nil {
		return c.writeErr(e)
	}
	d := c.rs.ExecuteBinary(id)
	long := st.long
	st.long, st.longLen = nil, 0
	return c.run(d, func(b *backendConn) (outcome, error) {
		bs, err := c.preparedOn(b, id, st)
		if err != nil || bs == nil {
			return outcome{err: asSQLError(err)}, c.relayError(err)
		}
		for _, lp := range long {
			lp = append([]byte(nil), lp...)
			binary.LittleEndian.PutUint32(lp[1:], bs.id)
			if err := b.command(lp); err != nil {
				return outcome{}, err
			}
		}
		q := append([]byte(nil), pkt...)
		binary.LittleEndian.PutUint32(q[1:], bs.id)
		if bound >= 0 && q[bound] == 0 && !bs.typed && len(st.types) == 2*st.params {
			q = append(q[:bound:bound], append(append([]byte{1}, st.types...), pkt[bound+1:]...)...)
		}
		if bound >= 0 && q[bound] == 1 {
			bs.typed = true
		}
		if err := b.command(q); err != nil {
			return outcome{}, err
		}
		return b.readResult(c.cc, nil)
	})
}

// preparedOn returns statement id as prepared on b, preparing it there if needed. A node's
// refusal is returned as *wire.SQLError.
func (c *session) preparedOn(b *backendConn, id uint32, st *clientStmt) (*backendStmt, error) {
	if bs := b.stmts[id]; bs != nil {
		return bs, nil
	}
	if err := b.command(append([]byte{wire.ComStmtPrepare}, st.text...)); err != nil {
		return nil, err
	}
	bid, params, out, err := b.readPrepare(nil, 0)
	if err != nil {
		return nil, err
	}
	if out.err != nil {
		return nil, out.err
	}
	if params != st.params {
		return nil, wire.NewError(wire.ErUnknown, "HY000", "the statement has %d parameters on %s, %d where it was prepared", params, b.addr, st.params)
	}
	bs := &backendStmt{id: bid}
	b.stmts[id] = bs
	return bs, nil
}

// relayError answers the client with a node's refusal to prepare (no error for the session:
// the connection is fine), or passes an I/O error on.
func (c *session) relayError(err error) error {
	if se := asSQLError(err); se != nil {
		return c.writeErr(se)
	}
	return err
}

func asSQLError(err error) *wire.SQLError {
	if se, ok := err.(*wire.SQLError); ok {
		return se
	}
	return nil
}

// sendLongData is COM_STMT_SEND_LONG_DATA (no answer): kept for the next execute, which
// sends it on the connection it runs on.
func (c *session) sendLongData(pkt []byte) {
	if len(pkt) < 7 {
		return
	}
	st := c.stmts[binary.LittleEndian.Uint32(pkt[1:])]
	if st == nil || st.longLen+len(pkt) > c.srv.opts.MaxPacket {
		return // as MySQL, the error shows at execute (unknown statement) or is dropped
	}
	st.long = append(st.long, append([]byte(nil), pkt...))
	st.longLen += len(pkt)
}

// closeStmt is COM_STMT_CLOSE (no answer). Backend connections close their copy when the
// session next uses them (closeStale), or forget it when reset.
func (c *session) closeStmt(pkt []byte) {
	if len(pkt) < 5 {
		return
	}
	id := binary.LittleEndian.Uint32(pkt[1:])
	c.rs.CloseBinary(id)
	delete(c.stmts, id)
	if b := c.pinned; b != nil {
		_ = c.closeStale(b)
	}
}

// closeStale closes on b the statements the session has closed.
func (c *session) closeStale(b *backendConn) error {
	for id, bs := range b.stmts {
		if c.stmts[id] != nil {
			continue
		}
		delete(b.stmts, id)
		q := binary.LittleEndian.AppendUint32([]byte{wire.ComStmtClose}, bs.id)
		if err := b.command(q); err != nil {
			return err
		}
	}
	return nil
}

// resetStmt is COM_STMT_RESET: the proxy keeps the long data, so it answers itself.
func (c *session) resetStmt(pkt []byte) error {
	if len(pkt) < 5 {
		return c.writeErr(malformed())
	}
	id := binary.LittleEndian.Uint32(pkt[1:])
	st := c.stmts[id]
	if st == nil {
		return c.writeErr(wire.NewError(wire.ErUnknownStmt, "HY000", "Unknown prepared statement handler (%d) given to mysqld_stmt_reset", id))
	}
	st.long, st.longLen = nil, 0
	return c.writeOK(wire.OK{Status: c.status})
}
