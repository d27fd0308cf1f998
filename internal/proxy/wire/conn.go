// Package wire is the MySQL client/server protocol as the Strata proxy needs it on both of
// its sides: packet framing with sequence numbers, length-encoded values, the OK, ERR and
// EOF packets, the handshake of protocol 4.1, and the capability and status flags. It
// parses bytes from the network, so every reader checks lengths and returns an error (never
// panics) on malformed input.
package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// MaxPayload is the largest payload of one physical packet; a logical packet of this size
// or more continues in the next one.
const MaxPayload = 1<<24 - 1

// ErrPacketTooLarge is returned for a logical packet beyond the connection's limit.
var ErrPacketTooLarge = errors.New("wire: packet larger than max_allowed_packet")

// Conn reads and writes packets on a network connection, numbering them. It is not safe for
// concurrent use.
type Conn struct {
	nc  net.Conn
	r   *bufio.Reader
	w   *bufio.Writer
	seq uint8
	// Limit bounds a logical packet read (0: no bound).
	Limit int
}

// NewConn wraps nc.
func NewConn(nc net.Conn) *Conn {
	return &Conn{nc: nc, r: bufio.NewReaderSize(nc, 16<<10), w: bufio.NewWriterSize(nc, 16<<10)}
}

// NetConn is the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// ResetSeq starts a new command: the next packet written or read has sequence number 0.
func (c *Conn) ResetSeq() { c.seq = 0 }

// Seq is the sequence number of the next packet.
func (c *Conn) Seq() uint8 { return c.seq }

// SetSeq sets the sequence number of the next packet.
func (c *Conn) SetSeq(s uint8) { c.seq = s }

// SetDeadline sets the deadline of reads and writes (zero: none).
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// ReadPacket reads one logical packet (joining continuation packets). The returned slice is
// the caller's.
func (c *Conn) ReadPacket() ([]byte, error) {
	var out []byte
	for {
		var h [4]byte
		if _, err := io.ReadFull(c.r, h[:]); err != nil {
			return nil, err
		}
		n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
		if h[3] != c.seq {
			return nil, fmt.Errorf("wire: packet sequence %d, expected %d", h[3], c.seq)
		}
		c.seq++
		if c.Limit > 0 && len(out)+n > c.Limit {
			return nil, ErrPacketTooLarge
		}
		start := len(out)
		out = append(out, make([]byte, n)...)
		if _, err := io.ReadFull(c.r, out[start:]); err != nil {
			return nil, err
		}
		if n < MaxPayload {
			if out == nil {
				out = []byte{}
			}
			return out, nil
		}
	}
}

// WritePacket writes p as one logical packet (split as the protocol requires), buffered:
// Flush sends it.
func (c *Conn) WritePacket(p []byte) error {
	for {
		n := min(len(p), MaxPayload)
		h := [4]byte{byte(n), byte(n >> 8), byte(n >> 16), c.seq}
		c.seq++
		if _, err := c.w.Write(h[:]); err != nil {
			return err
		}
		if _, err := c.w.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
		if n < MaxPayload {
			return nil
		}
	}
}

// Flush sends what is buffered.
func (c *Conn) Flush() error { return c.w.Flush() }

// WriteFlush writes p and flushes.
func (c *Conn) WriteFlush(p []byte) error {
	if err := c.WritePacket(p); err != nil {
		return err
	}
	return c.Flush()
}

// Alive reports whether an idle connection still looks open: nothing has arrived on it (a
// node that went away has closed it, or sent an error) within a moment.
func (c *Conn) Alive() bool {
	if c.r.Buffered() > 0 {
		return false
	}
	if err := c.nc.SetReadDeadline(time.Now().Add(100 * time.Microsecond)); err != nil {
		return false
	}
	_, err := c.r.Peek(1)
	if derr := c.nc.SetReadDeadline(time.Time{}); derr != nil {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
