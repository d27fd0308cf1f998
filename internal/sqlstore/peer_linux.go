package sqlstore

import (
	"errors"
	"syscall"
)

// peerClosed reports whether the client has closed its side of the connection: a peek at
// the socket finds its end (or an error other than "nothing to read yet"). It consumes
// nothing, so pipelined commands stay for vitess to read.
func (g *guardConn) peerClosed() bool {
	sc, ok := g.Conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	_ = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = (n == 0 && err == nil) || (err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR))
		return true
	})
	return closed
}
