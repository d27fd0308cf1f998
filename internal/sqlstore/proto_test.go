package sqlstore

import (
	"crypto/tls"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// setGlobal sets a global variable for the test and restores it afterwards (GMS's globals are
// the process's).
func setGlobal(t *testing.T, db *sql.DB, name string, v any) {
	t.Helper()
	var old string
	if err := db.QueryRow("SELECT @@global." + name).Scan(&old); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, fmt.Sprintf("SET GLOBAL %s = %v", name, v))
	t.Cleanup(func() { _, _ = db.Exec(fmt.Sprintf("SET GLOBAL %s = %s", name, old)) })
}

func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// noPanics fails the test if vitess caught a panic since before, or the log holds a stack.
func noPanics(t *testing.T, s *guardedServer, before uint64) {
	t.Helper()
	if n := caughtPanics.Load() - before; n != 0 {
		t.Errorf("%d panics caught; log:\n%s", n, s.log.String())
	}
	if strings.Contains(s.log.String(), "goroutine ") {
		t.Errorf("a stack in the log:\n%s", s.log.String())
	}
}

// TestCommandsThatPanicked sends, after login, each command that made vitess or GMS panic:
// each gets MySQL's error packet, and the connection stays usable where MySQL keeps it.
func TestCommandsThatPanicked(t *testing.T) {
	s := startGuarded(t, ServeOptions{})
	before := caughtPanics.Load()
	c := dialRaw(t, s.addr)
	c.mustLogin("root", "")

	usable := func(what string) {
		t.Helper()
		p, err := c.command([]byte{0x0e}) // COM_PING
		if err != nil || !p.isOK() {
			t.Fatalf("after %s: ping: %v %v", what, p, err)
		}
	}
	expect := func(what string, payload []byte, code uint16) {
		t.Helper()
		p, err := c.command(payload)
		if err != nil || !p.isErr(code) {
			t.Fatalf("%s: want error %d, got %v %q %v", what, code, p, p.errText(), err)
		}
	}
	// Connection pools reset a connection before its first query.
	if p, err := c.command([]byte{0x1f}); err != nil || !p.isOK() {
		t.Fatalf("COM_RESET_CONNECTION first: %v %v", p, err)
	}
	usable("COM_RESET_CONNECTION")
	expect("empty packet", nil, 1047)
	usable("an empty packet")
	expect("COM_STMT_RESET of an unknown statement", []byte{0x1a, 7, 0, 0, 0}, 1243)
	usable("COM_STMT_RESET")
	expect("short COM_STMT_RESET", []byte{0x1a, 7}, 1835)
	usable("a short COM_STMT_RESET")
	expect("malformed COM_REGISTER_REPLICA", []byte{0x15, 1, 0, 0, 0, 200, 'h'}, 1835)
	usable("COM_REGISTER_REPLICA")
	// A prepared statement can be reset.
	p, err := c.command(append([]byte{0x16}, "SELECT ?"...))
	if err != nil || !p.isOK() {
		t.Fatalf("prepare: %v %v", p, err)
	}
	id := binary.LittleEndian.Uint32(p.payload[1:])
	cols, params := binary.LittleEndian.Uint16(p.payload[5:]), binary.LittleEndian.Uint16(p.payload[7:])
	for _, n := range []uint16{params, cols} { // definitions, then an EOF
		for range n + min(n, 1) {
			c.mustRead()
		}
	}
	if p, err := c.command(binary.LittleEndian.AppendUint32([]byte{0x1a}, id)); err != nil || !p.isOK() {
		t.Fatalf("COM_STMT_RESET of a prepared statement: %v %v", p, err)
	}
	usable("COM_STMT_RESET of a prepared statement")
	// A binary log dump ends the session, well formed or not.
	expect("malformed COM_BINLOG_DUMP_GTID", []byte{0x1e, 4, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f}, 1835)
	if _, err := c.read(); err == nil {
		t.Fatal("the connection stayed open after COM_BINLOG_DUMP_GTID")
	}
	c = dialRaw(t, s.addr)
	c.mustLogin("root", "")
	dump := []byte{0x1e, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0}
	dump = append(dump, 4, 0, 0, 0, 0, 0, 0, 0)             // position
	dump = append(dump, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) // an empty GTID set
	expect("COM_BINLOG_DUMP_GTID", dump, 1236)
	noPanics(t, s, before)
}

// TestCommandsThatPanickedOverTLS: a TLS connection's packets are not read below vitess, so
// an empty packet still makes vitess panic and close the connection, but the log gets one
// line; COM_RESET_CONNECTION first and COM_BINLOG_DUMP_GTID are answered by guardHandler.
func TestCommandsThatPanickedOverTLS(t *testing.T) {
	tlsCfg, err := LoadOrCreateTLS(t.TempDir(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	s := startGuarded(t, ServeOptions{TLS: tlsCfg})
	before := caughtPanics.Load()
	login := func() *rawClient {
		c := dialRaw(t, s.addr)
		c.useTLS = true
		c.mustLogin("root", "")
		return c
	}
	c := login()
	if p, err := c.command([]byte{0x1f}); err != nil || !p.isOK() {
		t.Fatalf("COM_RESET_CONNECTION first: %v %v", p, err)
	}
	dump := []byte{0x1e, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0}
	dump = append(dump, 4, 0, 0, 0, 0, 0, 0, 0)
	dump = append(dump, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	if p, err := c.command(dump); err != nil || !p.isErr(1236) {
		t.Fatalf("COM_BINLOG_DUMP_GTID: %v %v", p, err)
	}
	if caughtPanics.Load() != before {
		t.Fatalf("panics: %s", s.log.String())
	}
	c = login()
	if p, err := c.command(nil); err == nil {
		t.Logf("an empty packet over TLS was answered: %v", p)
	}
	deadline := time.Now().Add(10 * time.Second)
	for caughtPanics.Load() == before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := caughtPanics.Load() - before; n != 1 {
		t.Fatalf("%d panics caught, want the empty packet's", n)
	}
	if lines := strings.Count(s.log.String(), "panicked"); lines != 1 || strings.Contains(s.log.String(), "goroutine") {
		t.Fatalf("want one log line, got:\n%s", s.log.String())
	}
	login() // the server still serves
}

// TestMaxAllowedPacket: the default is MySQL's 64 MiB; a longer packet gets 1153 and the
// connection closes, before the server has read (or allocated) the packet.
func TestMaxAllowedPacket(t *testing.T) {
	s := startGuarded(t, ServeOptions{})
	root := openDB(t, fmt.Sprintf("root@tcp(%s)/?timeout=5s", s.addr))
	var v int64
	if err := root.QueryRow("SELECT @@global.max_allowed_packet").Scan(&v); err != nil || v != 64<<20 {
		t.Fatalf("max_allowed_packet = %d, %v; want 64 MiB", v, err)
	}
	setGlobal(t, root, "max_allowed_packet", 1<<20)

	// The header alone of a 2 MiB COM_QUERY is answered.
	c := dialRaw(t, s.addr)
	c.mustLogin("root", "")
	n := 2 << 20
	if _, err := c.c.Write([]byte{byte(n), byte(n >> 8), byte(n >> 16), 0, 0x03}); err != nil {
		t.Fatal(err)
	}
	p, err := c.read()
	if err != nil || !p.isErr(1153) {
		t.Fatalf("want 1153, got %v %q %v", p, p.errText(), err)
	}
	if _, err := c.read(); err == nil {
		t.Fatal("the connection stayed open")
	}

	// Through the driver: a query under the limit runs, one over it fails.
	db := openDB(t, fmt.Sprintf("root@tcp(%s)/?timeout=5s&maxAllowedPacket=16777216", s.addr))
	db.SetMaxIdleConns(0)
	small := "SELECT LENGTH('" + strings.Repeat("x", 512<<10) + "')"
	if err := db.QueryRow(small).Scan(&v); err != nil || v != 512<<10 {
		t.Fatalf("a 512 KiB query: %d %v", v, err)
	}
	big := "SELECT LENGTH('" + strings.Repeat("x", 2<<20) + "')"
	if err := db.QueryRow(big).Scan(&v); err == nil {
		t.Fatal("a 2 MiB query ran")
	} else {
		t.Logf("a 2 MiB query: %v", err) // 1153, or a write error if the server closed first
	}
	// Multi-packet: 17 MiB in two packets, over a 16 MiB + 1 limit in total.
	setGlobal(t, root, "max_allowed_packet", 16<<20+1024)
	c = dialRaw(t, s.addr)
	c.mustLogin("root", "")
	chunk := make([]byte, 1<<24-1)
	chunk[0] = 0x03
	c.seq = 0
	c.write(chunk)
	n = 1 << 20
	if _, err := c.c.Write([]byte{byte(n), byte(n >> 8), byte(n >> 16), 1}); err != nil {
		t.Fatal(err)
	}
	if p, err := c.read(); err != nil || !p.isErr(1153) {
		t.Fatalf("multi-packet: want 1153, got %v %v", p, err)
	}
	if err := root.Ping(); err != nil {
		t.Fatal(err)
	}
}

// TestMaxAllowedPacketOverTLS: over TLS the packet is read by vitess, but the statement does
// not run.
func TestMaxAllowedPacketOverTLS(t *testing.T) {
	tlsCfg, err := LoadOrCreateTLS(t.TempDir(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	s := startGuarded(t, ServeOptions{TLS: tlsCfg})
	root := openDB(t, fmt.Sprintf("root@tcp(%s)/?timeout=5s&tls=skip-verify", s.addr))
	setGlobal(t, root, "max_allowed_packet", 1<<20)
	db := openDB(t, fmt.Sprintf("root@tcp(%s)/?timeout=5s&tls=skip-verify&maxAllowedPacket=16777216", s.addr))
	var v int64
	big := "SELECT LENGTH('" + strings.Repeat("x", 2<<20) + "')"
	if err := db.QueryRow(big).Scan(&v); mysqlCode(err) != 1153 {
		t.Fatalf("a 2 MiB query over TLS: want 1153, got %d %v", v, err)
	}
}

// TestLoginDoesNotRevealUsers: an unknown user and a known one with a wrong password get the
// same packets and the same 1045, whatever plugin the client asks for.
func TestLoginDoesNotRevealUsers(t *testing.T) {
	s := startGuarded(t, ServeOptions{})
	root := openDB(t, fmt.Sprintf("root@tcp(%s)/?timeout=5s", s.addr))
	mustExec(t, root, "CREATE USER 'nat'@'%' IDENTIFIED WITH mysql_native_password BY 'pw1'")
	mustExec(t, root, "CREATE USER 'sha'@'%' IDENTIFIED WITH caching_sha2_password BY 'pw2'")

	for _, user := range []string{"nat", "sha", "xyz"} {
		for _, pw := range []string{"wrong", ""} {
			db := openDB(t, fmt.Sprintf("%s:%s@tcp(%s)/?timeout=5s", user, pw, s.addr))
			err := db.Ping()
			using := map[bool]string{true: "YES", false: "NO"}[pw != ""]
			want := fmt.Sprintf("Access denied for user '%s'@'127.0.0.1' (using password: %s)", user, using)
			if mysqlCode(err) != 1045 || !strings.Contains(err.Error(), want) {
				t.Errorf("%s with password %q: want 1045 %q, got %v", user, pw, want, err)
			}
		}
	}

	shape := func(user, plugin string) string {
		c := dialRaw(t, s.addr)
		var parts []string
		for _, p := range c.login(user, "wrong", plugin) {
			parts = append(parts, p.String()+" "+strings.ReplaceAll(p.errText(), user, "U"))
		}
		return strings.Join(parts, "; ")
	}
	for _, plugin := range []string{"mysql_native_password", "caching_sha2_password"} {
		known, unknown := shape("nat", plugin), shape("xyz", plugin) // names of one length
		if known != unknown || !strings.Contains(known, "Access denied for user 'U'@'127.0.0.1' (using password: YES)") {
			t.Errorf("client asking %s:\n known:   %s\n unknown: %s", plugin, known, unknown)
		}
	}
	// The right password still works, for both plugins (caching_sha2_password needs TLS).
	if err := openDB(t, fmt.Sprintf("nat:pw1@tcp(%s)/?timeout=5s", s.addr)).Ping(); err != nil {
		t.Fatal(err)
	}
}

// TestLoginCachingSha2OverTLS: over TLS a caching_sha2_password user logs in, and a wrong
// password gets the same 1045 as an unknown user.
func TestLoginCachingSha2OverTLS(t *testing.T) {
	tlsCfg, err := LoadOrCreateTLS(t.TempDir(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	s := startGuarded(t, ServeOptions{TLS: tlsCfg})
	root := openDB(t, fmt.Sprintf("root@tcp(%s)/?timeout=5s&tls=skip-verify", s.addr))
	mustExec(t, root, "CREATE USER 'sha'@'%' IDENTIFIED WITH caching_sha2_password BY 'pw2'")
	if err := openDB(t, fmt.Sprintf("sha:pw2@tcp(%s)/?timeout=5s&tls=skip-verify", s.addr)).Ping(); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"sha", "nobody"} {
		err := openDB(t, fmt.Sprintf("%s:bad@tcp(%s)/?timeout=5s&tls=skip-verify", user, s.addr)).Ping()
		want := fmt.Sprintf("Access denied for user '%s'@'127.0.0.1' (using password: YES)", user)
		if mysqlCode(err) != 1045 || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want 1045 %q, got %v", user, want, err)
		}
	}
}

// failingListener fails Accept with EMFILE while failing is set.
type failingListener struct {
	net.Listener
	failing atomic.Bool
	fails   atomic.Int64
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.failing.Load() {
		l.fails.Add(1)
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestAcceptSurvivesErrors: accept errors (out of file descriptors) make the server unhealthy
// while they last, and it accepts again afterwards.
func TestAcceptSurvivesErrors(t *testing.T) {
	var fl *failingListener
	s := startGuardedOn(t, ServeOptions{}, func(l net.Listener) net.Listener {
		fl = &failingListener{Listener: l}
		fl.failing.Store(true)
		return fl
	})
	if p, ok := s.srv.Listener.(*protocolListener); ok {
		p.gl.unhealthyAfter = 0
	}
	deadline := time.Now().Add(20 * time.Second)
	for ServerHealth(s.srv) == nil || fl.fails.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("still healthy after %d accept errors", fl.fails.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	fl.failing.Store(false)
	db := openDB(t, fmt.Sprintf("root@tcp(%s)/?timeout=10s", s.addr))
	if err := db.Ping(); err != nil {
		t.Fatalf("after accept errors: %v", err)
	}
	if err := ServerHealth(s.srv); err != nil {
		t.Fatalf("accepting again but unhealthy: %v", err)
	}
	s.srv.Close()
	for ServerHealth(s.srv) == nil {
		if time.Now().After(deadline) {
			t.Fatal("a closed server is healthy")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConnectTimeout: a connection that does not authenticate within connect_timeout is
// closed; an authenticated one is not.
func TestConnectTimeout(t *testing.T) {
	s := startGuarded(t, ServeOptions{})
	root := openDB(t, fmt.Sprintf("root@tcp(%s)/?timeout=5s", s.addr))
	setGlobal(t, root, "connect_timeout", 2)
	conn, err := root.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := dialRaw(t, s.addr)
	c.greeting()
	start := time.Now()
	_, err = c.read() // bounded by the client's 30 s deadline
	if !errors.Is(err, io.EOF) {
		t.Fatalf("an idle unauthenticated connection: want EOF, got %v after %v", err, time.Since(start))
	}
	if err := conn.PingContext(t.Context()); err != nil {
		t.Fatalf("an authenticated connection older than connect_timeout: %v", err)
	}
}

// TestMaxConnections: beyond max_connections a client gets 1040, except for one more
// connection kept for a user with SUPER (root); once one closes, a new one gets in.
func TestMaxConnections(t *testing.T) {
	s := startGuarded(t, ServeOptions{})
	root := openDB(t, fmt.Sprintf("root@tcp(%s)/?timeout=5s", s.addr))
	root.SetMaxOpenConns(1)
	mustExec(t, root, "CREATE USER 'app'@'%' IDENTIFIED BY 'pw'")
	setGlobal(t, root, "max_connections", 3)
	db := openDB(t, fmt.Sprintf("app:pw@tcp(%s)/?timeout=5s", s.addr))
	db.SetMaxIdleConns(0)
	var conns []*sql.Conn
	for range 2 {
		c, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	if _, err := db.Conn(t.Context()); mysqlCode(err) != 1040 || !strings.Contains(err.Error(), "Too many connections") {
		t.Fatalf("connection 4 of 3, no SUPER: want 1040, got %v", err)
	}
	admin := openDB(t, fmt.Sprintf("root@tcp(%s)/?timeout=5s", s.addr))
	admin.SetMaxIdleConns(0)
	// The refused connection's end on the server follows the client's error: poll.
	var extra *sql.Conn
	deadline := time.Now().Add(20 * time.Second)
	for {
		var err error
		if extra, err = admin.Conn(t.Context()); err == nil {
			break
		}
		if mysqlCode(err) != 1040 || time.Now().After(deadline) {
			t.Fatalf("connection 4 of 3 with SUPER: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := admin.Conn(t.Context()); mysqlCode(err) != 1040 {
		t.Fatalf("connection 5 of 3: want 1040, got %v", err)
	}
	extra.Close()
	conns[0].Close()
	for {
		c, err := db.Conn(t.Context())
		if err == nil {
			c.Close()
			break
		}
		if mysqlCode(err) != 1040 || time.Now().After(deadline) {
			t.Fatalf("after a close: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// prepare prepares q on c and returns its statement id, having read the whole answer.
func (c *rawClient) prepare(q string) uint32 {
	c.t.Helper()
	p, err := c.command(append([]byte{0x16}, q...))
	if err != nil || !p.isOK() {
		c.t.Fatalf("prepare %q: %v %q %v", q, p, p.errText(), err)
	}
	cols, params := binary.LittleEndian.Uint16(p.payload[5:]), binary.LittleEndian.Uint16(p.payload[7:])
	for _, n := range []uint16{params, cols} {
		for range n + min(n, 1) {
			c.mustRead()
		}
	}
	return binary.LittleEndian.Uint32(p.payload[1:])
}

// TestLongDataLimit: COM_STMT_SEND_LONG_DATA, which vitess appends without a limit, is held
// to max_allowed_packet per parameter: the execution gets MySQL's error, and the connection
// and the statement stay usable. A reset between long data does not panic.
func TestLongDataLimit(t *testing.T) {
	s := startGuarded(t, ServeOptions{})
	before := caughtPanics.Load()
	root := openDB(t, fmt.Sprintf("root@tcp(%s)/?timeout=5s", s.addr))
	setGlobal(t, root, "max_allowed_packet", 1<<20)
	c := dialRaw(t, s.addr)
	c.mustLogin("root", "")
	id := c.prepare("SELECT LENGTH(?)")
	long := func(n int) {
		c.seq = 0
		c.write(append(binary.LittleEndian.AppendUint32([]byte{0x18}, id), append([]byte{0, 0}, make([]byte, n)...)...))
	}
	// Execute with the parameter bound (type VARCHAR), its value from long data.
	execute := func() packet {
		p, err := c.command(append(binary.LittleEndian.AppendUint32([]byte{0x17}, id), 0, 1, 0, 0, 0, 0, 1, 0x0f, 0))
		if err != nil {
			t.Fatal(err)
		}
		if p.isErr(0) || p.payload[0] == 0xff || p.isOK() {
			return p
		}
		// A result set: column definitions and an EOF, rows and an EOF.
		for eofs := 0; eofs < 2; {
			q := c.mustRead()
			if len(q.payload) > 0 && q.payload[0] == 0xfe && len(q.payload) < 9 {
				eofs++
			}
		}
		return p
	}
	for range 3 {
		long(400 << 10)
	}
	if p := execute(); !p.isErr(1105) || !strings.Contains(p.errText(), "max_allowed_packet") {
		t.Fatalf("1.2 MiB of long data: want 1105, got %v %q", p, p.errText())
	}
	long(100 << 10)
	if p := execute(); p.payload[0] == 0xff {
		t.Fatalf("100 KiB of long data: %q", p.errText())
	}
	// Long data, reset, long data again.
	long(10)
	if p, err := c.command(binary.LittleEndian.AppendUint32([]byte{0x1a}, id)); err != nil || !p.isOK() {
		t.Fatalf("reset: %v %v", p, err)
	}
	long(10)
	if p := execute(); p.payload[0] == 0xff {
		t.Fatalf("after a reset: %q", p.errText())
	}
	if p, err := c.command([]byte{0x0e}); err != nil || !p.isOK() {
		t.Fatalf("ping: %v %v", p, err)
	}
	noPanics(t, s, before)
}

// TestPreAuthLimit: before authentication a client may send at most 1 MiB, TLS or not
// (vitess would buffer a TLS handshake packet of any size).
func TestPreAuthLimit(t *testing.T) {
	tlsCfg, err := LoadOrCreateTLS(t.TempDir(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	s := startGuarded(t, ServeOptions{TLS: tlsCfg})
	// Only the limit, not connect_timeout, may end the connection within the test's bounds.
	setGlobal(t, openDB(t, fmt.Sprintf("root@tcp(%s)/?timeout=5s", s.addr)), "connect_timeout", 600)
	c := dialRaw(t, s.addr)
	c.useTLS = true
	c.greeting()
	b := binary.LittleEndian.AppendUint32(nil, capProtocol41|capSecureConn|capPluginAuth|clientSSL)
	b = binary.LittleEndian.AppendUint32(b, 1<<24)
	b = append(b, 33)
	c.write(append(b, make([]byte, 23)...))
	tc := tls.Client(c.c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	// A handshake response of 2 MiB + 1 in chunks of 2^24-1: vitess reads it whole.
	chunk := make([]byte, 1<<20)
	_ = tc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	n := 1<<24 - 1
	if _, err := tc.Write([]byte{byte(n), byte(n >> 8), byte(n >> 16), 2}); err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := 0; i < 16 && werr == nil; i++ {
		_, werr = tc.Write(chunk)
	}
	if werr == nil {
		_ = tc.SetReadDeadline(time.Now().Add(60 * time.Second))
		_, werr = tc.Read(make([]byte, 1))
	}
	var ne net.Error
	if werr == nil || errors.As(werr, &ne) && ne.Timeout() {
		t.Fatalf("16 MiB before authentication were taken: %v", werr)
	}
	if err := openDB(t, fmt.Sprintf("root@tcp(%s)/?timeout=5s&tls=skip-verify", s.addr)).Ping(); err != nil {
		t.Fatal(err)
	}
}
