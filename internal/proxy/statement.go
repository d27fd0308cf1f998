package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"strata/internal/proxy/route"
	"strata/internal/proxy/wire"
)

// exchange sends a command on b and relays the answer.
type exchange func(b *backendConn) (outcome, error)

// errNeedFresh: the connection cannot be brought to the session's state (it has a current
// database and the session has none, which no statement can undo).
var errNeedFresh = errors.New("proxy: the connection needs to be opened again")

// statement routes a COM_QUERY (or a command with the same routing, as COM_INIT_DB) of
// text and relays pkt.
func (c *session) statement(pkt []byte, text string) error {
	if e := c.checkFailover(); e != nil {
		return c.writeErr(e)
	}
	d := c.rs.Route(text)
	return c.run(d, func(b *backendConn) (outcome, error) {
		if err := b.command(pkt); err != nil {
			return outcome{}, err
		}
		return b.readResult(c.cc, nil)
	})
}

// run executes decision d: the proxy's own answer, or ex on a connection of the target,
// then tells route how it went. Only a failure to talk to the client is returned.
func (c *session) run(d route.Decision, ex exchange) error {
	if d.Target == route.Proxy {
		c.srv.stats.ToProxy.Add(1)
		if d.Error != "" {
			c.rs.Done(route.Result{ErrCode: wire.ErWrongValueForVar})
			return c.writeErr(wire.NewError(wire.ErWrongValueForVar, "42000", "%s", d.Error))
		}
		c.rs.Done(okResult())
		return c.writeOK(wire.OK{Status: c.status})
	}
	drainDeadline := time.Now().Add(c.srv.opts.BackendWait)
	for attempt := 0; ; attempt++ {
		b, target, durable, serr := c.acquire(d)
		if serr != nil && serr.Code == wire.ErServerShutdown && time.Now().Before(drainDeadline) {
			// The RW is draining (a switchover) while the session's state was being brought to
			// a connection: nothing of the statement ran.
			if e, again := c.drained(c.srv.rwIdentity(), c.rs.Pinned(), drainDeadline); !again {
				return c.writeErr(e)
			}
			continue
		}
		if serr != nil {
			c.rs.Done(route.Result{ErrCode: serr.Code})
			return c.writeErr(serr)
		}
		c.count(target)
		c.setCur(b)
		out, err := ex(b)
		c.setCur(nil)
		if errors.Is(err, errNodeDraining) && time.Now().Before(drainDeadline) {
			// The node refused the statement unexecuted: it is draining. An autocommit
			// statement goes to the next writer; a transaction open there is gone.
			wasPinned := c.pinned == b
			b.broken = true
			node := b.node
			c.release(b, target)
			if e, again := c.drained(node, wasPinned || c.rs.Pinned(), drainDeadline); !again {
				return c.writeErr(e)
			}
			continue
		}
		if err != nil {
			wasPinned := c.pinned == b
			c.release(b, target)
			if isClientError(err) {
				c.rs.Done(route.Result{Completed: out.completed, ErrCode: wire.CrServerLost})
				return err
			}
			c.srv.lg.Warn("proxy: lost a node's connection during a statement", "node", b.addr, "err", err)
			if wasPinned {
				// The state that lived only on that connection is gone, as after a failover.
				rep := c.rs.Failover()
				c.lastRW, c.prev = ref{}, ref{}
				msg := "Lost connection to the read-write node during the statement"
				if rep.RolledBack {
					msg += "; the transaction was rolled back"
				}
				return c.writeErr(wire.NewError(wire.CrServerLost, "08S01", "%s", msg))
			}
			if !out.sent && d.Resendable && attempt == 0 {
				continue // nothing reached the client and the statement has no effect: again
			}
			c.rs.Done(route.Result{Completed: out.completed, ErrCode: wire.CrServerLost})
			return c.writeErr(wire.NewError(wire.CrServerLost, "08S01", "Lost connection to the node %s during the statement", b.addr))
		}
		res := route.Result{OK: out.err == nil, Completed: out.completed, DurableLSN: route.LSN(durable)}
		if out.err != nil {
			res.ErrCode = out.err.Code
		} else {
			res.Status, res.HasStatus = out.status, out.hasStatus
		}
		if out.hasStatus {
			c.status = out.status
		}
		c.rs.Done(res)
		c.release(b, target)
		return nil
	}
}

// drained handles a statement that a draining node refused unexecuted: it waits (until
// deadline) for the proxy to know another RW than node, then says whether to send the
// statement again (again) or to answer e. A session pinned to the old RW (a transaction,
// or state that lived on that connection) lost that state: it is told, as after a failover.
func (c *session) drained(node string, pinned bool, deadline time.Time) (e *wire.SQLError, again bool) {
	c.srv.stats.Drained.Add(1)
	c.srv.awaitRWChange(node, deadline)
	if !pinned {
		return nil, true
	}
	rep := c.rs.Failover()
	if c.pinned != nil {
		c.pinned.close()
		c.pinned = nil
	}
	c.lastRW, c.prev, c.rwNode = ref{}, ref{}, ""
	if rep.RolledBack {
		return wire.NewError(1213, "40001", "The read-write node changed (switchover): the transaction was rolled back; restart it"), false
	}
	return wire.NewError(wire.CrServerLost, "08S01", "The read-write node changed (switchover): the session's state on it (%s) is gone", strings.Join(rep.Lost, ", ")), false
}

func (c *session) count(t route.Target) {
	if t == route.RO {
		c.srv.stats.ToRO.Add(1)
	} else {
		c.srv.stats.ToRW.Add(1)
	}
}

// acquire finds the connection for d, brought to the session's state: an RO that meets the
// decision's LSN, else the RW. durable is the LSN fetched for d.NeedDurable.
func (c *session) acquire(d route.Decision) (*backendConn, route.Target, uint64, *wire.SQLError) {
	if d.Target == route.RO {
		if b, durable, ok := c.pickRO(d); ok {
			return b, route.RO, durable, nil
		}
		if len(c.srv.Topology().ROs) > 0 {
			c.srv.stats.ROFallback.Add(1)
		}
	}
	b, serr := c.rwConn(d)
	return b, route.RW, 0, serr
}

// rwConn returns a connection to the RW for d: the session's pinned one, the one d.Conn
// asks for if nobody took it, a pooled one, or a new one.
func (c *session) rwConn(d route.Decision) (*backendConn, *wire.SQLError) {
	ctx, cancel := context.WithTimeout(context.Background(), c.srv.opts.BackendWait)
	defer cancel()
	rw, ok := c.srv.rw(ctx, time.Now().Add(c.srv.opts.BackendWait))
	if !ok {
		return nil, c.noBackend(fmt.Errorf("no read-write node is up (waited %v)", c.srv.opts.BackendWait))
	}
	if b := c.pinned; b != nil {
		return b, nil
	}
	var b *backendConn
	switch {
	case d.Conn == route.Previous && c.prev.target == route.RW && c.prev.b.addr == rw.Addr && c.srv.pool.takeSame(c.prev.b, c.prev.lease):
		b = c.prev.b
	case c.lastRW.b != nil && c.lastRW.b.addr == rw.Addr && c.srv.pool.takeSame(c.lastRW.b, c.lastRW.lease):
		b = c.lastRW.b
	default:
		b = c.srv.pool.take(c.key(rw.Addr), c)
	}
	for range 3 {
		if b == nil {
			var err error
			if b, err = c.dialRW(ctx, c.login()); err != nil {
				var se *wire.SQLError
				if errors.As(err, &se) {
					return nil, se
				}
				return nil, c.noBackend(err)
			}
		}
		err := c.sync(b, route.RW)
		if err == nil {
			return b, nil
		}
		if errors.Is(err, errNodeDraining) {
			b.broken = true
			c.srv.pool.put(b)
			return nil, wire.NewError(wire.ErServerShutdown, "08S01", "The read-write node is handing over")
		}
		b.broken = b.broken || !isSQLError(err)
		if errors.Is(err, errNeedFresh) {
			b.broken = true
		}
		c.srv.pool.put(b)
		b = nil
		var se *wire.SQLError
		if errors.As(err, &se) {
			return nil, wire.NewError(se.Code, se.State, "Could not restore the session's state on the read-write node: %s", se.Message)
		}
	}
	return nil, c.noBackend(errors.New("cannot open a usable connection"))
}

func isSQLError(err error) bool {
	var se *wire.SQLError
	return errors.As(err, &se)
}

// sync brings b to the session's state for target: nothing if it is there already, else a
// reset (unless b is fresh) and route's Replay.
func (c *session) sync(b *backendConn, target route.Target) error {
	gen := c.rs.Generation()
	if b.owner == c && b.gen == gen {
		return c.closeStale(b)
	}
	db := c.rs.Database()
	if b.used || b.owner != nil && (b.owner != c || b.gen != gen) {
		if db == "" && b.db != "" {
			return errNeedFresh
		}
		if err := b.reset(); err != nil {
			b.broken = true
			return err
		}
	} else if db == "" && b.db != "" {
		return errNeedFresh
	}
	for _, q := range c.rs.Replay(target) {
		if _, err := b.exec(q); err != nil {
			b.used = true
			return err
		}
	}
	b.owner, b.gen, b.db, b.used = c, gen, db, true
	return nil
}

// release gives b back after a statement: it stays the session's while route pins the
// session, else it goes to the pool with the session's claim on it.
func (c *session) release(b *backendConn, target route.Target) {
	if target == route.RO && b.ro != nil {
		b.ro.inFlight.Add(-1)
	}
	if b.broken {
		if c.pinned == b {
			c.pinned = nil
		}
		b.close()
		return
	}
	b.owner, b.gen, b.db, b.used = c, c.rs.Generation(), c.rs.Database(), true
	r := ref{b: b, lease: b.lease, target: target}
	c.prev = r
	if target == route.RW {
		c.rwNode = b.node
		c.lastRW = r
		if c.rs.Pinned() {
			c.pinned = b
			return
		}
		if c.pinned == b {
			c.pinned = nil
		}
	}
	c.srv.pool.put(b)
}

// checkFailover notices that the RW changed since the session last used it: the state that
// lived on the old RW's connection is dropped (route.Session.Failover), and a session that
// was in a transaction gets error 1213 (SQLSTATE 40001, which applications retry) once.
func (c *session) checkFailover() *wire.SQLError {
	if c.rwNode == "" {
		return nil
	}
	cur := c.srv.rwIdentity()
	if cur == "" || cur == c.rwNode {
		return nil
	}
	rep := c.rs.Failover()
	if c.pinned != nil {
		c.pinned.close()
		c.pinned = nil
	}
	c.lastRW, c.prev, c.rwNode = ref{}, ref{}, ""
	c.srv.lg.Info("proxy: a session's read-write node changed", "client", c.clientAddr, "rolled-back", rep.RolledBack, "lost", rep.Lost)
	if rep.RolledBack {
		return wire.NewError(1213, "40001", "The read-write node changed (failover): the transaction was rolled back; restart it")
	}
	return nil
}

// fieldList is COM_FIELD_LIST, routed as SHOW COLUMNS of its table.
func (c *session) fieldList(pkt []byte) error {
	table, _, _ := bytes.Cut(pkt[1:], []byte{0})
	if e := c.checkFailover(); e != nil {
		return c.writeErr(e)
	}
	d := c.rs.Route("SHOW COLUMNS FROM " + quoteIdent(string(table)))
	return c.run(d, func(b *backendConn) (outcome, error) {
		if err := b.command(pkt); err != nil {
			return outcome{}, err
		}
		return b.relayUntilEOF(c.cc)
	})
}

// relayUntilEOF relays packets up to an EOF or ERR packet (COM_FIELD_LIST's answer).
func (b *backendConn) relayUntilEOF(client *wire.Conn) (outcome, error) {
	var out outcome
	for {
		p, err := b.wc.ReadPacket()
		if err != nil {
			b.broken = true
			return out, fmt.Errorf("proxy: read from %s: %w", b.addr, err)
		}
		out.sent = true
		if err := client.WritePacket(p); err != nil {
			b.broken = true
			return out, clientError{err}
		}
		if wire.IsErr(p) {
			out.err = wire.ParseErr(p)
			break
		}
		if wire.IsEOF(p) {
			out.completed = 1
			break
		}
	}
	if err := client.Flush(); err != nil {
		return out, clientError{err}
	}
	return out, nil
}
