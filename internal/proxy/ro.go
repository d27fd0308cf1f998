package proxy

import (
	"context"
	"fmt"

	"strata/internal/proxy/route"
)

// pickRO finds an RO connection for the read d, brought to the session's state: the
// previous statement's connection for d.Conn == Previous, else the RO route.Choose picks,
// after waiting (STRATA_WAIT_LSN, at most LSNWait) for it to apply the LSN the read needs
// when the proxy does not know it has. ok is false when the read must go to the RW.
func (c *session) pickRO(d route.Decision) (b *backendConn, durable uint64, ok bool) {
	topo := c.srv.Topology()
	if len(topo.ROs) == 0 {
		return nil, 0, false
	}
	if d.Conn == route.Previous && c.prev.target == route.RO && c.srv.pool.takeSame(c.prev.b, c.prev.lease) {
		b := c.prev.b
		if err := c.sync(b, route.RO); err == nil {
			return c.onRO(b), 0, true
		}
		c.srv.pool.put(b)
	}
	if d.NeedDurable {
		v, err := c.durableFor(d)
		if err != nil {
			c.srv.lg.Debug("proxy: no LSN for a read; it goes to the RW", "err", err)
			return nil, 0, false
		}
		durable = v
	}
	// The ROs in an order that starts at the session's own turn, so that Choose's ties (the
	// first of the least loaded) spread sessions over the ROs while each session keeps to
	// one, and to the backend connection already brought to its state.
	n := len(topo.ROs)
	first := int(c.roTurn % uint64(n))
	backends := make([]route.Backend, n)
	for i := range n {
		ro := topo.ROs[(first+i)%n]
		st := c.srv.roLoad(ro.ID)
		backends[i] = route.Backend{ID: ro.ID, Applied: route.LSN(st.applied.Load()), InFlight: int(st.inFlight.Load()),
			Last: ro.ID == c.lastRO}
	}
	ch := route.Choose(d, route.LSN(durable), backends)
	if ch.Index < 0 {
		return nil, durable, false
	}
	ro := topo.ROs[(first+ch.Index)%n]
	c.lastRO = ro.ID
	st := c.srv.roLoad(ro.ID)
	b, err := c.roConn(ro)
	if err != nil {
		c.srv.lg.Debug("proxy: RO unreachable; the read goes to the RW", "ro", ro.ID, "err", err)
		return nil, durable, false
	}
	if need := uint64(ch.Need); need > st.applied.Load() {
		c.srv.stats.LSNWaits.Add(1)
		v, err := b.execUint(fmt.Sprintf("SELECT STRATA_WAIT_LSN(%d, %.3f)", need, c.srv.opts.LSNWait.Seconds()))
		if err == nil {
			raise(&st.applied, v)
		}
		if err != nil || v < need {
			if err != nil && !isSQLError(err) {
				b.broken = true
			}
			c.srv.pool.put(b)
			return nil, durable, false
		}
	}
	if err := c.sync(b, route.RO); err != nil {
		if !isSQLError(err) {
			b.broken = true
		}
		c.srv.pool.put(b)
		return nil, durable, false
	}
	return c.onRO(b), durable, true
}

// onRO counts a statement in flight on b's RO until release.
func (c *session) onRO(b *backendConn) *backendConn {
	b.ro = c.srv.roLoad(b.node)
	b.ro.inFlight.Add(1)
	return b
}

// roConn takes a pooled connection to ro or opens one.
func (c *session) roConn(ro Node) (*backendConn, error) {
	key := c.key(ro.Addr)
	if b := c.srv.pool.take(key, c); b != nil {
		return b, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.srv.opts.ConnectTimeout)
	defer cancel()
	b, err := c.srv.dial(ctx, ro.Addr, c.login())
	if err != nil {
		return nil, err
	}
	b.key, b.node = key, ro.ID
	return b, nil
}

// durableFor returns the LSN a read that d.NeedDurable must see: under session consistency
// the session's last commit, asked of the RW connection that made it
// (STRATA_LAST_COMMIT_LSN) if nobody took it since; otherwise the RW's durable LSN
// (STRATA_DURABLE_LSN), which covers every acknowledged commit.
func (c *session) durableFor(d route.Decision) (uint64, error) {
	if d.Consistency == route.SessionConsistency {
		if b := c.pinned; b != nil {
			if v, err := b.execUint("SELECT STRATA_LAST_COMMIT_LSN()"); err == nil && v > 0 {
				return v, nil
			}
		} else if r := c.lastRW; r.b != nil && c.srv.pool.takeSame(r.b, r.lease) {
			v, err := r.b.execUint("SELECT STRATA_LAST_COMMIT_LSN()")
			if err != nil && !isSQLError(err) {
				r.b.broken = true
			}
			c.lastRW.lease = r.b.lease
			c.srv.pool.put(r.b)
			if err == nil && v > 0 {
				return v, nil
			}
		}
	}
	var v uint64
	err := c.withRW(func(b *backendConn) error {
		var err error
		v, err = b.execUint("SELECT STRATA_DURABLE_LSN()")
		return err
	})
	return v, err
}

// withRW runs f on an RW connection in any state (the pinned one, a pooled or a new one).
func (c *session) withRW(f func(b *backendConn) error) error {
	if b := c.pinned; b != nil {
		return f(b)
	}
	rw, ok := c.srv.currentRW()
	if !ok {
		return fmt.Errorf("no read-write node is up")
	}
	b := c.srv.pool.take(c.key(rw.Addr), c)
	if b == nil {
		ctx, cancel := context.WithTimeout(context.Background(), c.srv.opts.ConnectTimeout)
		defer cancel()
		var err error
		if b, err = c.srv.dial(ctx, rw.Addr, c.login()); err != nil {
			return err
		}
		b.key, b.node = c.key(rw.Addr), nodeIdentity(rw)
	}
	err := f(b)
	if err != nil && !isSQLError(err) {
		b.broken = true
	}
	c.srv.pool.put(b)
	return err
}
