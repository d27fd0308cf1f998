package sqlstore

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dolthub/go-mysql-server/server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"

	"strata/internal/retry"
)

// The listener handed to vitess.
//
// Vitess's accept loop (mysql.Listener.Accept) returns for good on the first error of the
// net.Listener, it never times out a handshake, and its own connection limit makes clients
// wait instead of refusing them. So the net.Listener it gets is a guardListener: its Accept
// retries every error but the listener's closing (backing off like net/http's Server), refuses
// a connection beyond max_connections (+1, see authServer) with error 1040, and gives each connection
// connect_timeout seconds to authenticate (see guardConn).

const (
	erConCount        = 1040 // ER_CON_COUNT_ERROR
	acceptBackoffMin  = 5 * time.Millisecond
	acceptBackoffMax  = time.Second
	acceptFailingLong = 2 * time.Second // accept errors for this long make the server unhealthy
)

// guardListener is the net.Listener vitess accepts from.
type guardListener struct {
	net.Listener
	lg    *slog.Logger
	tls   bool   // the server offers TLS: the framing of a connection that asks for it is not read
	drain *Drain // a drained server's connections linger after Close (nil: never drained)
	done  chan struct{}
	close sync.Once

	unhealthyAfter time.Duration // accept errors for this long make the server unhealthy

	open         atomic.Int64 // accepted connections not yet closed
	connsMu      sync.Mutex
	conns        map[*guardConn]struct{} // the open connections, closed with the listener
	failingSince atomic.Int64            // UnixNano of the first of the current run of accept errors; 0: none
	lastErr      atomic.Value            // error: the last accept error
}

func newGuardListener(l net.Listener, tls bool, lg *slog.Logger) *guardListener {
	return &guardListener{Listener: l, lg: lg, tls: tls, done: make(chan struct{}), unhealthyAfter: acceptFailingLong}
}

// Close implements net.Listener.
func (l *guardListener) Close() error {
	err := net.ErrClosed
	l.close.Do(func() {
		close(l.done)
		err = l.Listener.Close()
		// The server stops: its connections go with it, rather than keep running
		// statements against an engine that is closing (a writer that steps down for a
		// switchover, a node that stops).
		//
		// A drained server's connections linger a while instead: a statement that finished
		// as the drain began may still be writing its answer, and a client (the proxy) that
		// sends one now is better told it was not run (1053, by the drain) than cut off with
		// its outcome unknown.
		if l.drain.Draining() {
			time.AfterFunc(drainLinger, l.closeConns)
			return
		}
		l.closeConns()
	})
	return err
}

// drainLinger is how long a drained server's connections stay open after it closes.
const drainLinger = 5 * time.Second

// closeConns closes the open connections.
func (l *guardListener) closeConns() {
	l.connsMu.Lock()
	open := make([]*guardConn, 0, len(l.conns))
	for g := range l.conns {
		open = append(open, g)
	}
	l.connsMu.Unlock()
	for _, g := range open {
		_ = g.Close()
	}
}

// track records an open connection; untrack forgets it. A connection accepted after Close is
// closed at once.
func (l *guardListener) track(g *guardConn) {
	l.connsMu.Lock()
	defer l.connsMu.Unlock()
	select {
	case <-l.done:
		_ = g.Conn.Close()
		return
	default:
	}
	if l.conns == nil {
		l.conns = map[*guardConn]struct{}{}
	}
	l.conns[g] = struct{}{}
}

func (l *guardListener) untrack(g *guardConn) {
	l.connsMu.Lock()
	delete(l.conns, g)
	l.connsMu.Unlock()
}

// Accept implements net.Listener: it returns an error only once the listener is closed.
func (l *guardListener) Accept() (net.Conn, error) {
	backoff := retry.NewBackoff(acceptBackoffMin, acceptBackoffMax)
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.done:
				return nil, err
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			// EMFILE, ENFILE, ECONNABORTED...: wait and try again.
			if l.failingSince.CompareAndSwap(0, time.Now().UnixNano()) {
				l.lg.Warn("sqlstore: accept failed; retrying", "err", err)
			}
			l.lastErr.Store(err)
			t := time.NewTimer(backoff.Next())
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				return nil, net.ErrClosed
			}
			continue
		}
		if since := l.failingSince.Swap(0); since != 0 {
			l.lg.Info("sqlstore: accepting again", "after", time.Since(time.Unix(0, since)).Round(time.Millisecond))
		}
		backoff.Reset()
		// One more than max_connections, kept for SUPER or CONNECTION_ADMIN (authServer).
		if n := l.open.Load(); n > globalInt("max_connections", 151) {
			refuse(c, erConCount, "08004", "Too many connections")
			continue
		}
		l.open.Add(1)
		return newGuardConn(c, l), nil
	}
}

// refuse answers a connection with an error packet instead of the server greeting, as MySQL
// does, and closes it.
func refuse(c net.Conn, code uint16, state, msg string) {
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(errorPacket(0, code, state, msg))
	_ = c.Close()
}

// errorPacket is a MySQL ERR packet (protocol 4.1) with sequence number seq.
func errorPacket(seq byte, code uint16, state, msg string) []byte {
	n := 1 + 2 + 1 + 5 + len(msg)
	b := make([]byte, 0, 4+n)
	b = append(b, byte(n), byte(n>>8), byte(n>>16), seq, 0xff, byte(code), byte(code>>8), '#')
	b = append(b, state...)
	return append(b, msg...)
}

// globalInt returns a global system variable as an integer, or def.
func globalInt(name string, def int64) int64 {
	_, v, ok := sql.SystemVariables.GetGlobal(name)
	if !ok {
		return def
	}
	switch v := v.(type) {
	case int64:
		return v
	case uint64:
		return int64(v)
	case int:
		return int64(v)
	case int32:
		return int64(v)
	case uint32:
		return int64(v)
	case int8:
		return int64(v)
	}
	return def
}

// protocolListener is vitess's listener, watched: it knows whether the accept loop runs.
type protocolListener struct {
	server.ProtocolListener
	gl    *guardListener
	state atomic.Int32 // 0: not started, 1: accepting, 2: stopped
}

// Accept implements server.ProtocolListener: it runs vitess's accept loop.
func (p *protocolListener) Accept() {
	p.state.Store(1)
	defer p.state.Store(2)
	p.ProtocolListener.Accept()
}

// health reports why the server does not accept connections, or nil.
func (p *protocolListener) health() error {
	if p.state.Load() == 2 {
		return errors.New("sqlstore: the MySQL accept loop has stopped")
	}
	if since := p.gl.failingSince.Load(); since != 0 {
		if d := time.Since(time.Unix(0, since)); d >= p.gl.unhealthyAfter {
			err, _ := p.gl.lastErr.Load().(error)
			return fmt.Errorf("sqlstore: accepting MySQL connections has failed for %v: %w", d.Round(time.Second), err)
		}
	}
	return nil
}

// ServerHealth reports why srv, a server from Serve, does not accept connections (its accept
// loop ended, or accepting has failed for a while, for instance for lack of file
// descriptors), or nil when it does.
func ServerHealth(srv *server.Server) error {
	p, ok := srv.Listener.(*protocolListener)
	if !ok {
		return errors.New("sqlstore: not a server from Serve")
	}
	return p.health()
}

// protocolListenerFactory makes GMS build vitess's listener over gl, with our auth server.
func protocolListenerFactory(gl *guardListener, proxySecret string) server.ProtocolListenerFunc {
	return func(cfg server.Config, lc mysql.ListenerConfig, sel server.ServerEventListener) (server.ProtocolListener, error) {
		lc.Listener = gl
		lc.AuthServer = newAuthServer(lc.AuthServer, proxySecret)
		lc.MaxConns = 0 // the guard refuses what is beyond max_connections
		pl, err := server.MySQLProtocolListenerFactory(cfg, lc, sel)
		if err != nil {
			return nil, err
		}
		return &protocolListener{ProtocolListener: pl, gl: gl}, nil
	}
}

// guardProtocol returns the handler wrapper and the listener factory that put the guards
// (guardListener, guardConn, authServer, guardHandler) around GMS's server on l.
// proxySecret, when set, lets the Strata proxy log in for its clients (proxyauth.go).
func (s *Store) guardProtocol(wrap server.HandlerWrapper, l net.Listener, tls bool, proxySecret string, kill func(connID uint32), drain *Drain) (server.HandlerWrapper, server.ProtocolListenerFunc) {
	registerVariables()
	panicLogger.Store(s.lg)
	guarded := func(h mysql.Handler) (mysql.Handler, error) {
		h, err := wrap(h)
		if err != nil {
			return nil, err
		}
		return &guardHandler{Handler: h, kill: kill, widths: newTinyintWidths(s), drain: drain}, nil
	}
	gl := newGuardListener(l, tls, s.lg)
	gl.drain = drain
	return guarded, protocolListenerFactory(gl, proxySecret)
}
