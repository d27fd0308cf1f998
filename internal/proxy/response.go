package proxy

import (
	"errors"
	"fmt"

	"strata/internal/proxy/wire"
)

// outcome is what a statement's answer said.
type outcome struct {
	// completed counts the statements that succeeded (one OK or one result set each).
	completed int
	err       *wire.SQLError // the node's error, which ended the answer
	status    uint16         // the status flags of the last OK or EOF
	hasStatus bool
	sent      bool // some of the answer went to the client
}

// clientError is a failure to talk to the client (as opposed to the node).
type clientError struct{ err error }

// errNodeDraining: the node refused the command unexecuted because it is draining (a
// writer handing over in a planned switchover answers 1053 to what it no longer runs).
var errNodeDraining = errors.New("proxy: the node is draining")

func (e clientError) Error() string { return "proxy: client: " + e.err.Error() }
func (e clientError) Unwrap() error { return e.err }

// isClientError reports whether err is the client's side failing.
func isClientError(err error) bool {
	var ce clientError
	return errors.As(err, &ce)
}

// relayer moves one answer from a node to the client (or, with client nil, reads it for
// the proxy itself, passing each row of the first result set to onRow).
type relayer struct {
	b      *backendConn
	client *wire.Conn
	onRow  func([]byte)
	out    outcome
	rows   int // result sets read
}

// readResult reads the answer to a COM_QUERY or COM_STMT_EXECUTE: OK, ERR, or result sets,
// as many as the status flags announce, relaying LOAD DATA LOCAL's file from the client.
// Rows are moved one packet at a time, never gathered. An error return means the
// connection to the node or to the client failed mid-answer.
func (b *backendConn) readResult(client *wire.Conn, onRow func([]byte)) (outcome, error) {
	r := &relayer{b: b, client: client, onRow: onRow}
	err := r.results()
	if err != nil && !isClientError(err) {
		b.broken = true
	}
	if err != nil && isClientError(err) {
		b.broken = true // the rest of the answer was not read
	}
	if client != nil && err == nil {
		if ferr := client.Flush(); ferr != nil {
			return r.out, clientError{ferr}
		}
	}
	return r.out, err
}

func (r *relayer) read() ([]byte, error) {
	p, err := r.b.wc.ReadPacket()
	if err != nil {
		return nil, fmt.Errorf("proxy: read from %s: %w", r.b.addr, err)
	}
	return p, nil
}

func (r *relayer) forward(p []byte) error {
	if r.client == nil {
		return nil
	}
	r.out.sent = true
	if err := r.client.WritePacket(p); err != nil {
		return clientError{err}
	}
	return nil
}

func (r *relayer) results() error {
	for {
		p, err := r.read()
		if err != nil {
			return err
		}
		more := false
		switch {
		case len(p) == 0:
			return fmt.Errorf("proxy: empty packet from %s", r.b.addr)
		case p[0] == wire.HeaderErr:
			r.out.err = wire.ParseErr(p)
			if r.out.err.Code == wire.ErServerShutdown && !r.out.sent && r.out.completed == 0 {
				return errNodeDraining // not relayed: the statement goes to the next node
			}
			return r.forward(p)
		case p[0] == wire.HeaderOK:
			ok, err := wire.ParseOK(p)
			if err != nil {
				return err
			}
			r.status(ok.Status)
			r.out.completed++
			more = ok.Status&wire.StatusMoreResults != 0
			if err := r.forward(p); err != nil {
				return err
			}
		case p[0] == wire.HeaderLocalInfile:
			if err := r.forward(p); err != nil {
				return err
			}
			if err := r.localInfile(); err != nil {
				return err
			}
			more = true // the OK or ERR of the LOAD DATA follows
		default:
			if more, err = r.resultSet(p); err != nil || r.out.err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
	}
}

func (r *relayer) status(s uint16) {
	r.out.status, r.out.hasStatus = s, true
}

// resultSet reads one result set whose column count packet is p.
func (r *relayer) resultSet(p []byte) (more bool, err error) {
	rd := wire.NewReader(p)
	n := rd.LenencInt()
	if rd.Err != nil || n == 0 || n > 1<<16 {
		return false, fmt.Errorf("proxy: bad column count from %s", r.b.addr)
	}
	if err := r.forward(p); err != nil {
		return false, err
	}
	defs := int(n)
	if !r.b.deprecate {
		defs++ // the EOF after the definitions
	}
	for range defs {
		p, err := r.read()
		if err != nil {
			return false, err
		}
		if wire.IsErr(p) {
			r.out.err = wire.ParseErr(p)
			return false, r.forward(p)
		}
		if err := r.forward(p); err != nil {
			return false, err
		}
	}
	first := r.rows == 0
	r.rows++
	for {
		p, err := r.read()
		if err != nil {
			return false, err
		}
		switch {
		case wire.IsErr(p):
			r.out.err = wire.ParseErr(p)
			return false, r.forward(p)
		case wire.IsEOF(p):
			ok, err := wire.ParseEOF(p)
			if err != nil {
				return false, err
			}
			r.status(ok.Status)
			r.out.completed++
			return ok.Status&wire.StatusMoreResults != 0, r.forward(p)
		}
		if first && r.onRow != nil {
			r.onRow(p)
		}
		if err := r.forward(p); err != nil {
			return false, err
		}
	}
}

// localInfile moves the client's file for LOAD DATA LOCAL to the node: packets until an
// empty one. Without a client (the proxy's own statements) the file is empty.
func (r *relayer) localInfile() error {
	if r.client == nil {
		return r.b.wc.WriteFlush(nil)
	}
	if err := r.client.Flush(); err != nil {
		return clientError{err}
	}
	r.b.wc.SetSeq(r.client.Seq())
	for {
		p, err := r.client.ReadPacket()
		if err != nil {
			return clientError{err}
		}
		if err := r.b.wc.WritePacket(p); err != nil {
			return err
		}
		if len(p) == 0 {
			if err := r.b.wc.Flush(); err != nil {
				return err
			}
			r.client.SetSeq(r.b.wc.Seq())
			return nil
		}
	}
}
