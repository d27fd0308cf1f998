package sqlstore

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// fuzzSentinel is what the query sent after the fuzzed commands returns.
const fuzzSentinel = "fuzz-sentinel-7f3a"

// FuzzCommand sends random commands to a real server over loopback, after a real login and
// two prepared statements (ids 1: "SELECT ?", 2: "SELECT ?, ?"). An input is a sequence of
// commands, each a length byte and that many bytes (the first byte is the command). The
// server must never panic, must answer every command or close the connection (a query sent
// after them must come back, unless the connection closed), and must serve a new connection
// afterwards (the next input logs in again).
func FuzzCommand(f *testing.F) {
	s := startGuarded(f, ServeOptions{})
	seq := func(cmds ...[]byte) []byte {
		var b []byte
		for _, c := range cmds {
			b = append(b, byte(len(c)))
			b = append(b, c...)
		}
		return b
	}
	u32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	exec := func(id uint32, tail ...byte) []byte {
		return cat([]byte{0x17}, u32(id), []byte{0}, u32(1), tail)
	}
	long8 := []byte{0x08, 0x00}
	val8 := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	seeds := [][]byte{
		seq([]byte{}),                 // an empty packet
		seq([]byte{0x1f}),             // COM_RESET_CONNECTION first
		seq([]byte{0x1a, 7, 0, 0, 0}), // COM_STMT_RESET, unknown id
		seq([]byte{0x1a, 7}),          // COM_STMT_RESET, short
		seq([]byte{0x1a, 1, 0, 0, 0}), // COM_STMT_RESET, known id
		seq([]byte{0x1e, 4, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f}), // COM_BINLOG_DUMP_GTID, malformed
		seq(cat([]byte{0x1e, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0}, val8, []byte{8, 0, 0, 0}, make([]byte, 8))),
		seq([]byte{0x15, 1, 0, 0, 0, 200, 'h'}), // COM_REGISTER_REPLICA, malformed
		seq(append([]byte{0x03}, "SELECT 1"...)),
		seq(append([]byte{0x03}, "SELECT * FROM mysql.user WHERE user = 'root'"...)),
		seq(append([]byte{0x16}, "SELECT ?, ?, ?"...)),
		seq(exec(1, 0, 1, 0x08, 0x00, 1, 0, 0, 0, 0, 0, 0, 0)),        // one parameter, as prepared
		seq(exec(2, 0, 1, 0x08, 0x00, 1, 0, 0, 0, 0, 0, 0, 0)),        // two prepared, one sent
		seq(exec(1, cat([]byte{0, 1}, long8, long8, long8, val8)...)), // one prepared, three sent
		seq(exec(2, 0)),          // no bound-parameters flag
		seq(exec(1)),             // no null bitmap
		seq(exec(9, 0, 1, 0x08)), // unknown statement
		seq(cat([]byte{0x17}, u32(1), []byte{1}, u32(1), []byte{0, 1}, long8, val8), cat([]byte{0x1c}, u32(1), u32(1))),                                           // cursor, fetch
		seq(cat([]byte{0x18}, u32(1), []byte{0, 0}, []byte("long data")), exec(1, 0, 0)),                                                                          // send long data, execute
		seq(cat([]byte{0x18}, u32(2), []byte{5, 0}, []byte("bad param"))),                                                                                         // send long data, bad param
		seq(cat([]byte{0x18}, u32(1), []byte{0, 0}, []byte("x")), cat([]byte{0x1a}, u32(1)), cat([]byte{0x18}, u32(1), []byte{0, 0}, []byte("y")), exec(1, 0, 0)), // long data, reset, long data
		seq(cat([]byte{0x19}, u32(1)), exec(1, 0, 1, 0x08, 0x00, 1, 0, 0, 0, 0, 0, 0, 0)),                                                                         // close, execute
		seq([]byte{0x04, 't', 0}),             // COM_FIELD_LIST
		seq([]byte{0x04}),                     // COM_FIELD_LIST, short
		seq(append([]byte{0x02}, "mysql"...)), // COM_INIT_DB
		seq(append([]byte{0x02}, "nodb"...)),  // COM_INIT_DB, unknown
		seq([]byte{0x0e}),                     // COM_PING
		seq([]byte{0x1b, 0, 0}, []byte{0x1b}), // COM_SET_OPTION, good and short
		seq([]byte{0x1c, 1}),                  // COM_STMT_FETCH, short
		seq([]byte{0x09}, []byte{0x0a}, []byte{0x11, 'r', 0}, []byte{0x12}, []byte{0x00}),
		seq([]byte{0x01}), // COM_QUIT
	}
	for _, sd := range seeds {
		f.Add(sd)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		before := caughtPanics.Load()
		c := dialRaw(t, s.addr)
		c.mustLogin("root", "")
		for _, q := range []string{"SELECT ?", "SELECT ?, ?"} {
			p, err := c.command(append([]byte{0x16}, q...))
			if err != nil || !p.isOK() {
				t.Fatalf("prepare %q: %v %v", q, p, err)
			}
			cols, params := binary.LittleEndian.Uint16(p.payload[5:]), binary.LittleEndian.Uint16(p.payload[7:])
			for _, n := range []uint16{params, cols} {
				for range n + min(n, 1) {
					c.mustRead()
				}
			}
		}
		// A write fails once the server has closed the connection (COM_QUIT...).
		closed := false
		for len(data) > 0 && !closed {
			n := min(int(data[0]), len(data)-1)
			c.seq = 0
			closed = c.tryWrite(data[1:1+n]) != nil
			data = data[1+n:]
		}
		c.seq = 0
		closed = closed || c.tryWrite(append([]byte{0x03}, "SELECT '"+fuzzSentinel+"'"...)) != nil
		for !closed {
			p, err := c.read() // bounded by the client's read deadline
			if err != nil {
				if strings.Contains(err.Error(), "timeout") {
					t.Fatalf("no answer: %v", err)
				}
				break // closed
			}
			if bytes.Contains(p.payload, []byte(fuzzSentinel)) {
				break
			}
			if p.seq == 1 && len(p.payload) > 0 && p.payload[0] == 0xfb {
				c.seq = 2
				c.write(nil) // LOAD DATA LOCAL: no file
			}
		}
		if n := caughtPanics.Load() - before; n != 0 {
			t.Fatalf("%d panics; log:\n%s", n, s.log.String())
		}
		if strings.Contains(s.log.String(), "goroutine ") {
			t.Fatalf("a stack in the log:\n%s", s.log.String())
		}
	})
}
