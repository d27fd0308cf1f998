package sqlstore

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/dolthub/vitess/go/mysql"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
)

// The commands guardConn answers itself (see guardConn), after authentication.

// drop discards the current packet (its header is buffered) and answers it.
func (g *guardConn) drop(length int, seq byte, code uint16, state, msg string) {
	g.start += 4
	g.skip = length
	g.reply(seq+1, code, state, msg)
	g.l.lg.Debug("sqlstore: command refused", "remote", g.RemoteAddr(), "code", code, "msg", msg)
}

// command answers the commands that vitess cannot take; false passes the packet on.
func (g *guardConn) command(length int, seq byte) bool {
	cmd := g.buf[g.start+4]
	switch cmd {
	case comStmtExecute, comStmtClose:
		if g.longData == nil || length < 5 || !g.fill(9) {
			return false
		}
		id := binary.LittleEndian.Uint32(g.buf[g.start+5:])
		over := g.forgetLongData(id)
		if over && cmd == comStmtExecute {
			if p := g.mc.PrepareData[id]; p != nil {
				// vitess empties them after an execution; this one does not reach it.
				p.BindVars = make(map[string]*querypb.BindVariable, p.ParamsCount)
			}
			g.drop(length, seq, erUnknown, "HY000",
				"Parameter of prepared statement which is set through mysql_send_long_data() is longer than 'max_allowed_packet' bytes")
			return true
		}
	case comStmtLongData:
		if length < 7 || !g.fill(11) {
			return false
		}
		id := binary.LittleEndian.Uint32(g.buf[g.start+5:])
		if _, ok := g.mc.PrepareData[id]; !ok {
			return false // vitess refuses it
		}
		key := uint64(id)<<16 | uint64(binary.LittleEndian.Uint16(g.buf[g.start+9:]))
		if g.longData == nil {
			g.longData = map[uint64]int64{}
		}
		if n := g.longData[key]; n >= 0 && n+int64(length-7) <= g.maxPacket {
			g.longData[key] = n + int64(length-7)
			return false
		}
		g.longData[key] = -1
		g.start += 4 // dropped; the command has no answer
		g.skip = length
		return true
	case comStmtReset:
		if length < 5 {
			g.drop(length, seq, erMalformed, "HY000", "Malformed communication packet.")
			return true
		}
		if !g.fill(9) {
			return false
		}
		id := binary.LittleEndian.Uint32(g.buf[g.start+5:])
		g.forgetLongData(id)
		p, ok := g.mc.PrepareData[id]
		if !ok {
			g.drop(length, seq, erUnknownStmt, "HY000",
				fmt.Sprintf("Unknown prepared statement handler (%d) given to mysqld_stmt_reset", id))
			return true
		}
		// vitess's reset sets each bound value to nil and keeps the keys; long data sent
		// next would be appended to a nil value. Reset empties the map instead.
		if p.BindVars != nil {
			p.BindVars = make(map[string]*querypb.BindVariable, p.ParamsCount)
		}
	case comRegisterRepl:
		if length > inspectLimit || !g.fill(4+length) || !validRegisterReplica(g.buf[g.start+4:g.start+4+length]) {
			g.drop(length, seq, erMalformed, "HY000", "Malformed communication packet.")
			return true
		}
	case comBinlogDumpG:
		if length > inspectLimit || !g.fill(4+length) || !validBinlogDumpGTID(g.buf[g.start+4:g.start+4+length]) {
			g.drop(length, seq, erMalformed, "HY000", "Malformed communication packet.")
		} else {
			g.drop(length, seq, erBinlogFatal, "HY000", "Binary log is not open")
		}
		// MySQL ends the session of a binary log dump.
		_ = g.Conn.Close()
		g.err = io.EOF
		return true
	}
	return false
}

// forgetLongData forgets the long data counted for statement id, and reports whether some of
// it was over max_allowed_packet.
func (g *guardConn) forgetLongData(id uint32) (over bool) {
	for k, n := range g.longData {
		if uint32(k>>16) == id {
			over = over || n < 0
			delete(g.longData, k)
		}
	}
	return over
}

// validRegisterReplica reports whether a COM_REGISTER_REPLICA packet is well formed: command,
// server id, three length-prefixed strings, port, and at least what vitess reads after them.
func validRegisterReplica(d []byte) bool {
	pos := 5
	for range 3 {
		if pos >= len(d) {
			return false
		}
		pos += 1 + int(d[pos])
	}
	return pos+2 <= len(d)
}

// validBinlogDumpGTID reports whether a COM_BINLOG_DUMP_GTID packet is well formed: command,
// flags, server id, file name, position, and the GTID set's length when the flags announce
// one (the set itself is not parsed: it is refused anyway).
func validBinlogDumpGTID(d []byte) bool {
	pos := 1 + 2 + 4
	if pos+4 > len(d) {
		return false
	}
	flags := binary.LittleEndian.Uint16(d[1:])
	n := int64(binary.LittleEndian.Uint32(d[pos:]))
	pos += 4
	if int64(pos)+n+8 > int64(len(d)) {
		return false
	}
	pos += int(n) + 8
	if flags&mysql.BinlogThroughGTID != 0 {
		if pos+4 > len(d) {
			return false
		}
		m := int64(binary.LittleEndian.Uint32(d[pos:]))
		if int64(pos)+4+m > int64(len(d)) {
			return false
		}
	}
	return true
}
