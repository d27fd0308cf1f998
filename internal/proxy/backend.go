package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"strata/internal/proxy/wire"
	"strata/internal/proxyauth"
)

// forwardCaps are the client's capability flags a backend connection copies: they change
// what the node sends (found rows, EOF packets, several result sets) or allows (several
// statements, LOAD DATA LOCAL).
const forwardCaps = wire.ClientFoundRows | wire.ClientMultiStatements | wire.ClientMultiResults |
	wire.ClientPSMultiResults | wire.ClientDeprecateEOF | wire.ClientLocalFiles | wire.ClientIgnoreSpace |
	wire.ClientInteractive

// baseCaps are what the proxy always asks of a node.
const baseCaps = wire.ClientLongPassword | wire.ClientLongFlag | wire.ClientProtocol41 | wire.ClientTransactions |
	wire.ClientSecureConnection | wire.ClientPluginAuth | wire.ClientPluginAuthLenenc

// login is who a backend connection logs in for.
type login struct {
	user       string
	clientAddr string // the client's host:port
	charset    byte
	caps       uint32 // the client's flags among forwardCaps
	db         string // the database to start in (the first login only)
	// salt and scramble are the client's answer to the proxy's salt (Password mode); nil
	// scramble with trusted means the session has already been checked.
	salt, scramble []byte
	trusted        bool
}

// backendConn is one connection to a compute node.
type backendConn struct {
	wc        *wire.Conn
	addr      string   // the node's address
	node      string   // the node's identity (nodeIdentity) when it was opened
	ro        *roState // an RO's load, while a statement runs on it
	key       poolKey
	caps      uint32 // negotiated
	version   string
	connID    uint32
	deprecate bool // CLIENT_DEPRECATE_EOF is on

	// The pool's bookkeeping (under the pool's lock).
	inUse  bool
	lease  uint64 // bumped whenever the connection is taken
	idleAt time.Time

	// The session state on the connection (the holder's).
	owner  *session
	gen    uint64
	used   bool   // a statement ran on it since it was opened or reset
	db     string // its current database
	stmts  map[uint32]*backendStmt
	broken bool // an I/O error: the connection must be closed
}

// backendStmt is a client's binary-protocol statement prepared on a backend connection.
type backendStmt struct {
	id    uint32 // the node's statement id
	typed bool   // the parameter types were sent with an execute on this connection
}

// dialBackend connects to the node at addr and logs in for l with the cluster secret.
// Errors from the node (a refused login) are *wire.SQLError.
func dialBackend(ctx context.Context, addr, secret string, l login, timeout time.Duration) (*backendConn, error) {
	d := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("proxy: connect to %s: %w", addr, err)
	}
	b := &backendConn{wc: wire.NewConn(nc), addr: addr, stmts: map[uint32]*backendStmt{}}
	if err := b.login(secret, l, time.Now().Add(timeout)); err != nil {
		nc.Close()
		return nil, err
	}
	return b, nil
}

// login runs the handshake.
func (b *backendConn) login(secret string, l login, deadline time.Time) error {
	if err := b.wc.SetDeadline(deadline); err != nil {
		return err
	}
	p, err := b.wc.ReadPacket()
	if err != nil {
		return fmt.Errorf("proxy: read the handshake of %s: %w", b.addr, err)
	}
	hs, err := wire.ParseHandshake(p)
	if err != nil {
		var se *wire.SQLError
		if errors.As(err, &se) {
			return se
		}
		return fmt.Errorf("proxy: handshake of %s: %w", b.addr, err)
	}
	if hs.Capabilities&wire.ClientProtocol41 == 0 || hs.Capabilities&wire.ClientPluginAuth == 0 {
		return fmt.Errorf("proxy: %s does not speak MySQL protocol 4.1 with auth plugins", b.addr)
	}
	b.version, b.connID = hs.ServerVersion, hs.ConnectionID
	tok := proxyauth.Token{Mode: proxyauth.Trusted, ClientAddr: l.clientAddr}
	if !l.trusted {
		tok = proxyauth.Token{Mode: proxyauth.Password, ClientAddr: l.clientAddr, Salt: l.salt, Scramble: l.scramble}
	}
	data, err := proxyauth.Encode(secret, hs.Salt, l.user, tok)
	if err != nil {
		return err
	}
	b.caps = baseCaps | l.caps&forwardCaps&hs.Capabilities
	resp := wire.Response{Capabilities: b.caps, MaxPacket: wire.MaxPayload, Charset: l.charset, User: l.user,
		AuthData: data, DB: l.db, AuthPlugin: proxyauth.Plugin}
	if err := b.wc.WriteFlush(wire.AppendResponse(nil, resp)); err != nil {
		return fmt.Errorf("proxy: log in to %s: %w", b.addr, err)
	}
	if l.db != "" {
		b.caps |= wire.ClientConnectWithDB
	}
	p, err = b.wc.ReadPacket()
	if err != nil {
		return fmt.Errorf("proxy: log in to %s: %w", b.addr, err)
	}
	switch {
	case len(p) > 0 && p[0] == wire.HeaderOK:
	case wire.IsErr(p):
		return wire.ParseErr(p)
	case len(p) > 0 && p[0] == wire.HeaderEOF:
		return wire.NewError(wire.ErNotSupportedAuth, "08004",
			"the compute node at %s does not accept logins from the proxy: start it with the cluster secret", b.addr)
	default:
		return fmt.Errorf("proxy: unexpected login reply from %s (0x%x)", b.addr, firstByte(p))
	}
	b.deprecate = b.caps&wire.ClientDeprecateEOF != 0
	b.db = l.db
	return b.wc.SetDeadline(time.Time{})
}

func firstByte(p []byte) byte {
	if len(p) == 0 {
		return 0
	}
	return p[0]
}

// close closes the connection.
func (b *backendConn) close() {
	_ = b.wc.Close()
}

// command starts a command: it writes pkt as packet 0 and flushes.
func (b *backendConn) command(pkt []byte) error {
	b.wc.ResetSeq()
	if err := b.wc.WriteFlush(pkt); err != nil {
		b.broken = true
		return err
	}
	return nil
}

// exec runs q, a statement of the proxy's own (replay, reset), and reads its whole answer,
// returning the first column of its first row ("" without one) or the node's error.
func (b *backendConn) exec(q string) (string, error) {
	if err := b.command(append([]byte{wire.ComQuery}, q...)); err != nil {
		return "", err
	}
	var first []byte
	out, err := b.readResult(nil, func(row []byte) {
		if first == nil {
			first = row
		}
	})
	if err != nil {
		return "", err
	}
	if out.err != nil {
		return "", out.err
	}
	if first == nil {
		return "", nil
	}
	r := wire.NewReader(first)
	if len(first) > 0 && first[0] == 0xfb {
		return "", nil // NULL
	}
	v := r.LenencBytes()
	return string(v), r.Err
}

// execUint runs q and reads its one value as an unsigned integer.
func (b *backendConn) execUint(q string) (uint64, error) {
	s, err := b.exec(q)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("proxy: %s answered %q", q, s)
	}
	return n, nil
}

// reset runs COM_RESET_CONNECTION: the node gives the connection a new session (keeping
// its current database) and forgets its prepared statements.
func (b *backendConn) reset() error {
	if err := b.command([]byte{wire.ComResetConnection}); err != nil {
		return err
	}
	p, err := b.wc.ReadPacket()
	if err != nil {
		b.broken = true
		return err
	}
	if wire.IsErr(p) {
		return wire.ParseErr(p)
	}
	clear(b.stmts)
	b.used = false
	return nil
}
