package proxy

import (
	"net"
	"sync"
	"time"
)

// poolKey says which backend connections can serve a client: the same node, user, client
// host (accounts are user@host), character set and capability flags.
type poolKey struct {
	addr       string
	user, host string
	charset    byte
	caps       uint32
}

// pool keeps idle backend connections. It is safe for concurrent use.
type pool struct {
	mu      sync.Mutex
	idle    map[poolKey][]*backendConn
	maxIdle int           // per key
	maxAge  time.Duration // how long a connection may stay idle
	closed  bool
}

func newPool(maxIdle int, maxAge time.Duration) *pool {
	return &pool{idle: map[poolKey][]*backendConn{}, maxIdle: maxIdle, maxAge: maxAge}
}

// checkAfter is how long a connection may be idle before it is checked (wire.Conn.Alive)
// when taken: a node that restarted closed it.
const checkAfter = time.Second

// takeSame takes b back if it is idle and nobody took it since lease.
func (p *pool) takeSame(b *backendConn, lease uint64) bool {
	if b == nil {
		return false
	}
	p.mu.Lock()
	if b.inUse || b.lease != lease || b.broken {
		p.mu.Unlock()
		return false
	}
	found := false
	list := p.idle[b.key]
	for i, c := range list {
		if c == b {
			p.idle[b.key] = append(list[:i], list[i+1:]...)
			b.inUse = true
			b.lease++
			found = true
			break
		}
	}
	p.mu.Unlock()
	if found && time.Since(b.idleAt) > checkAfter && !b.wc.Alive() {
		b.close()
		return false
	}
	return found
}

// take takes an idle connection for key, preferring one last used by s; nil when none is
// idle.
func (p *pool) take(key poolKey, s *session) *backendConn {
	for {
		p.mu.Lock()
		list := p.idle[key]
		if len(list) == 0 {
			p.mu.Unlock()
			return nil
		}
		pick := len(list) - 1 // the most recently used
		for i := len(list) - 1; i >= 0; i-- {
			if list[i].owner == s {
				pick = i
				break
			}
		}
		b := list[pick]
		p.idle[key] = append(list[:pick], list[pick+1:]...)
		b.inUse = true
		b.lease++
		p.mu.Unlock()
		if time.Since(b.idleAt) > checkAfter && !b.wc.Alive() {
			b.close()
			continue
		}
		return b
	}
}

// put returns b; a broken connection, or one beyond maxIdle, is closed.
func (p *pool) put(b *backendConn) {
	if b == nil {
		return
	}
	p.mu.Lock()
	if b.broken || p.closed || len(p.idle[b.key]) >= p.maxIdle {
		p.mu.Unlock()
		b.close()
		return
	}
	b.inUse = false
	b.idleAt = time.Now()
	p.idle[b.key] = append(p.idle[b.key], b)
	p.mu.Unlock()
}

// prune closes idle connections older than maxAge or to nodes keep rejects.
func (p *pool) prune(now time.Time, keep func(addr string) bool) {
	var drop []*backendConn
	p.mu.Lock()
	for k, list := range p.idle {
		kept := list[:0]
		for _, b := range list {
			if now.Sub(b.idleAt) > p.maxAge || !keep(b.addr) {
				drop = append(drop, b)
				continue
			}
			kept = append(kept, b)
		}
		if len(kept) == 0 {
			delete(p.idle, k)
		} else {
			p.idle[k] = kept
		}
	}
	p.mu.Unlock()
	for _, b := range drop {
		b.close()
	}
}

// close closes every idle connection; later puts close theirs.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = map[poolKey][]*backendConn{}
	p.mu.Unlock()
	for _, list := range idle {
		for _, b := range list {
			b.close()
		}
	}
}

// idleCount is the number of idle connections (metrics, tests).
func (p *pool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.idle {
		n += len(l)
	}
	return n
}

// hostOf is the host part of a host:port address.
func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}
