package sqlstore

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/server"

	"strata/internal/localdb"
)

// rawClient speaks the MySQL protocol over a socket, packet by packet.
type rawClient struct {
	t      testing.TB
	c      net.Conn
	seq    byte
	salt   []byte
	useTLS bool // login asks for TLS first
}

// packet is one packet the server sent.
type packet struct {
	seq     byte
	payload []byte
}

func (p packet) String() string {
	if len(p.payload) == 0 {
		return fmt.Sprintf("#%d empty", p.seq)
	}
	return fmt.Sprintf("#%d 0x%02x len %d", p.seq, p.payload[0], len(p.payload))
}

// isErr reports whether p is an ERR packet with the code.
func (p packet) isErr(code uint16) bool {
	return len(p.payload) >= 3 && p.payload[0] == 0xff && binary.LittleEndian.Uint16(p.payload[1:]) == code
}

func (p packet) isOK() bool { return len(p.payload) > 0 && p.payload[0] == 0 }

// errText is an ERR packet's message.
func (p packet) errText() string {
	if len(p.payload) < 9 || p.payload[0] != 0xff {
		return ""
	}
	return string(p.payload[9:])
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c}
}

// read returns the next packet; ok is false once the server closed the connection.
func (r *rawClient) read() (packet, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var h [4]byte
	if _, err := io.ReadFull(r.c, h[:]); err != nil {
		return packet{}, err
	}
	n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	p := packet{seq: h[3], payload: make([]byte, n)}
	if _, err := io.ReadFull(r.c, p.payload); err != nil {
		return packet{}, err
	}
	r.seq = h[3] + 1
	return p, nil
}

func (r *rawClient) mustRead() packet {
	r.t.Helper()
	p, err := r.read()
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return p
}

// write sends one packet with the next sequence number.
func (r *rawClient) write(payload []byte) {
	r.t.Helper()
	if err := r.tryWrite(payload); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// tryWrite is write, returning the error.
func (r *rawClient) tryWrite(payload []byte) error {
	n := len(payload)
	b := append([]byte{byte(n), byte(n >> 8), byte(n >> 16), r.seq}, payload...)
	r.seq++
	_ = r.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := r.c.Write(b)
	return err
}

// command sends a command (sequence 0) and returns the first packet of the answer.
func (r *rawClient) command(payload []byte) (packet, error) {
	r.seq = 0
	r.write(payload)
	return r.read()
}

// greeting reads the server's handshake and keeps its salt.
func (r *rawClient) greeting() packet {
	r.t.Helper()
	p := r.mustRead()
	d := p.payload
	if len(d) == 0 || d[0] != 10 {
		r.t.Fatalf("not a handshake: %v", p)
	}
	pos := 1 + strings.IndexByte(string(d[1:]), 0) + 1 + 4
	salt := append([]byte{}, d[pos:pos+8]...)
	pos += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10
	salt = append(salt, d[pos:pos+12]...)
	r.salt = salt
	return p
}

const (
	capProtocol41   = 0x200
	capSecureConn   = 0x8000
	capPluginAuth   = 0x80000
	capLongPassword = 0x1
)

// login does the handshake as user with password, asking for plugin, and returns every
// packet the server sent after the greeting (auth switch, more data, OK or ERR).
func (r *rawClient) login(user, password, plugin string) []packet {
	r.t.Helper()
	r.greeting()
	flags := uint32(capProtocol41 | capSecureConn | capPluginAuth | capLongPassword)
	if r.useTLS {
		flags |= clientSSL
	}
	b := binary.LittleEndian.AppendUint32(nil, flags)
	b = binary.LittleEndian.AppendUint32(b, 1<<24)
	b = append(b, 33)
	b = append(b, make([]byte, 23)...)
	if r.useTLS {
		r.write(b)
		tc := tls.Client(r.c, &tls.Config{InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			r.t.Fatalf("TLS: %v", err)
		}
		r.c = tc
	}
	b = append(b, user...)
	b = append(b, 0)
	auth := scramble(plugin, r.salt, password)
	b = append(b, byte(len(auth)))
	b = append(b, auth...)
	b = append(b, plugin...)
	b = append(b, 0)
	r.write(b)
	var out []packet
	for {
		p, err := r.read()
		if err != nil {
			return out
		}
		out = append(out, p)
		switch {
		case len(p.payload) > 0 && p.payload[0] == 0xfe: // auth switch
			name := p.payload[1 : 1+strings.IndexByte(string(p.payload[1:]), 0)]
			salt := p.payload[2+len(name):]
			if len(salt) > 0 && salt[len(salt)-1] == 0 {
				salt = salt[:len(salt)-1]
			}
			r.salt = salt
			r.write(scramble(string(name), salt, password))
		case len(p.payload) > 0 && p.payload[0] == 0x01: // more data
			if len(p.payload) > 1 && p.payload[1] == 3 {
				continue // fast auth success, OK follows
			}
			r.write(append([]byte(password), 0))
		default:
			return out
		}
	}
}

// mustLogin logs in and fails the test unless the server says OK.
func (r *rawClient) mustLogin(user, password string) {
	r.t.Helper()
	got := r.login(user, password, "mysql_native_password")
	if len(got) == 0 || !got[len(got)-1].isOK() {
		r.t.Fatalf("login: %v", got)
	}
}

func scramble(plugin string, salt []byte, password string) []byte {
	if password == "" {
		return nil
	}
	if plugin == "caching_sha2_password" {
		// Any 32 bytes: the server cannot check them without a cache and asks for more.
		return make([]byte, 32)
	}
	h1 := sha1.Sum([]byte(password))
	h2 := sha1.Sum(h1[:])
	s := sha1.New()
	s.Write(salt)
	s.Write(h2[:])
	out := s.Sum(nil)
	for i := range out {
		out[i] ^= h1[i]
	}
	return out
}

// guardedServer is a server over a fresh store whose log is kept.
type guardedServer struct {
	addr string
	srv  *server.Server
	eng  *sqle.Engine
	log  *syncBuffer
}

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startGuarded(t testing.TB, o ServeOptions) *guardedServer {
	return startGuardedOn(t, o, nil)
}

// startGuardedOn serves on wrap(a loopback listener), or on the listener itself.
func startGuardedOn(t testing.TB, o ServeOptions, wrap func(net.Listener) net.Listener) *guardedServer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	buf := &syncBuffer{}
	lg := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	db, err := localdb.Open(ctx, localdb.Options{Dir: dir, Logger: lg, PoolFrames: 256})
	if err != nil {
		t.Fatal(err)
	}
	st, err := Open(ctx, db.DB, lg)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := st.NewSQLEngine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var l net.Listener
	l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if wrap != nil {
		l = wrap(l)
	}
	srv, err := st.ServeWith(eng, l, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Close()
		db.Close()
	})
	return &guardedServer{addr: addr, srv: srv, eng: eng, log: buf}
}
