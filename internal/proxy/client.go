package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"strata/internal/proxy/wire"
)

// DefaultServerVersion is the version the proxy announces before it has talked to a node.
const DefaultServerVersion = "8.0.33-strata"

// offeredCaps are the capability flags the proxy offers clients (no TLS, no compression,
// no session tracking: the compute nodes have neither of the last two).
const offeredCaps = baseCaps | forwardCaps | wire.ClientConnectWithDB | wire.ClientConnectAttrs | wire.ClientNoSchema

// handshake greets the client, checks its password through the RW (the first backend
// connection, which the session keeps) and answers OK, or the node's error (1045 for a
// wrong password), or 2003 when no RW can be reached in time.
func (c *session) handshake() error {
	deadline := time.Now().Add(c.srv.opts.ClientHandshakeTimeout)
	if err := c.cc.SetDeadline(deadline); err != nil {
		return err
	}
	salt, err := wire.NewSalt()
	if err != nil {
		return err
	}
	hs := wire.Handshake{ServerVersion: c.srv.serverVersion(), ConnectionID: c.id, Salt: salt,
		Capabilities: offeredCaps, Charset: 255, Status: wire.StatusAutocommit, AuthPlugin: wire.NativePassword}
	if err := c.cc.WriteFlush(wire.AppendHandshake(nil, hs)); err != nil {
		return err
	}
	p, err := c.cc.ReadPacket()
	if err != nil {
		return err
	}
	resp, err := wire.ParseResponse(p)
	if err != nil {
		return c.fail(wire.NewError(wire.ErHandshake, "08S01", "Bad handshake"))
	}
	if resp.SSLRequest {
		return c.fail(wire.NewError(wire.ErHandshake, "08S01", "The Strata proxy does not offer TLS"))
	}
	scramble := resp.AuthData
	if resp.Capabilities&wire.ClientPluginAuth != 0 && resp.AuthPlugin != "" && resp.AuthPlugin != wire.NativePassword {
		// caching_sha2_password and others: ask for mysql_native_password over the same salt.
		if err := c.cc.WriteFlush(wire.AppendAuthSwitch(nil, wire.NativePassword, append(bytes.Clone(salt), 0))); err != nil {
			return err
		}
		if scramble, err = c.cc.ReadPacket(); err != nil {
			return err
		}
	}
	if len(scramble) == 1 && scramble[0] == 0 {
		scramble = nil
	}
	if len(scramble) > 64 { // mysql_native_password's is 20 bytes
		c.srv.stats.LoginFails.Add(1)
		return c.fail(wire.NewError(wire.ErAccessDenied, "28000", "Access denied for user '%s'@'%s' (using password: YES)", resp.User, hostOf(c.clientAddr)))
	}
	c.user, c.charset = resp.User, resp.Charset
	c.caps = resp.Capabilities & offeredCaps
	c.cc.Limit = c.srv.opts.MaxPacket
	l := c.login()
	l.trusted, l.salt, l.scramble, l.db = false, salt, scramble, resp.DB
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	b, err := c.dialRW(ctx, l)
	if err != nil {
		var se *wire.SQLError
		if errors.As(err, &se) {
			c.srv.stats.LoginFails.Add(1)
			return c.fail(se)
		}
		return c.fail(c.noBackend(err))
	}
	c.srv.stats.Logins.Add(1)
	if resp.DB != "" {
		c.rs.Route("USE " + quoteIdent(resp.DB))
		c.rs.Done(okResult())
	}
	b.owner, b.gen, b.used = c, c.rs.Generation(), false
	c.rwNode = b.node
	c.lastRW = ref{b: b, lease: b.lease}
	c.srv.pool.put(b)
	if err := c.writeOK(wire.OK{Status: c.status}); err != nil {
		return err
	}
	return c.cc.SetDeadline(time.Time{})
}

// fail answers the client with e and ends the session.
func (c *session) fail(e *wire.SQLError) error {
	_ = c.cc.WriteFlush(wire.AppendErr(nil, e))
	return fmt.Errorf("proxy: login refused: %w", e)
}

// login is how backend connections of this session log in.
func (c *session) login() login {
	return login{user: c.user, clientAddr: c.clientAddr, charset: c.charset, caps: c.caps & forwardCaps, trusted: true}
}

// noBackend is the error for a node the proxy could not reach in time.
func (c *session) noBackend(err error) *wire.SQLError {
	c.srv.stats.NoBackend.Add(1)
	c.srv.lg.Warn("proxy: no read-write node reachable", "client", c.clientAddr, "err", err)
	return wire.NewError(wire.CrConnHostError, "HY000",
		"Can't connect to the read-write node through the Strata proxy: %v", err)
}

// dialRW opens a connection to the RW for l, retrying until ctx's deadline or
// BackendWait: the RW may be restarting or not yet published.
func (c *session) dialRW(ctx context.Context, l login) (*backendConn, error) {
	deadline := time.Now().Add(c.srv.opts.BackendWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var last error
	for {
		rw, ok := c.srv.rw(ctx, deadline)
		if !ok {
			if last == nil {
				last = fmt.Errorf("no read-write node is up (waited %v)", c.srv.opts.BackendWait)
			}
			return nil, last
		}
		b, err := c.srv.dial(ctx, rw.Addr, l)
		if err == nil {
			b.key, b.node = c.key(rw.Addr), nodeIdentity(rw)
			return b, nil
		}
		var se *wire.SQLError
		if errors.As(err, &se) {
			return nil, err
		}
		last = err
		c.srv.refreshNow(ctx) // the RW may have changed (a failover) since the last poll
		wait := min(100*time.Millisecond, time.Until(deadline))
		if wait <= 0 || !sleepUntil(ctx, c.srv.stop, wait) {
			return nil, last
		}
	}
}

// sleepUntil waits d unless ctx ends or stop closes; it reports whether d passed.
func sleepUntil(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-stop:
	}
	return false
}

// dial opens a backend connection to addr for l.
func (s *Server) dial(ctx context.Context, addr string, l login) (*backendConn, error) {
	b, err := dialBackend(ctx, addr, s.opts.Secret, l, s.opts.ConnectTimeout)
	if err != nil {
		return nil, err
	}
	s.stats.Dials.Add(1)
	s.version.Store(b.version)
	return b, nil
}

// serverVersion is the version of the nodes, as the last connection to one said.
func (s *Server) serverVersion() string {
	if v, _ := s.version.Load().(string); v != "" {
		return v
	}
	return DefaultServerVersion
}

// quoteIdent quotes a name with backticks.
func quoteIdent(s string) string {
	return "`" + string(bytes.ReplaceAll([]byte(s), []byte("`"), []byte("``"))) + "`"
}
