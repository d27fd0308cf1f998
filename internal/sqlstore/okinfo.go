package sqlstore

import (
	"strings"

	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
)

// OK packets with an info string.
//
// vitess writes an OK packet's info (PREPARE's "Statement prepared", UPDATE's "Rows
// matched: …") after a fixed byte '#' (go/mysql/conn.go, writeOKPacketWithInfo), which a
// client that negotiated CLIENT_SESSION_TRACK (the mysql client does) reads as the info's
// length-encoded size: 35. An info shorter than that makes the client read past the packet
// and fail with "Received malformed packet" (2027). Padding a shorter info with spaces to
// 35 bytes makes the size right; a longer one is read as its first 35 bytes by such a
// client and whole by the others.

// okInfoLen is the info length vitess's '#' announces.
const okInfoLen = '#'

// padOKInfo wraps a result callback so that an OK packet's info is at least okInfoLen
// bytes long.
func padOKInfo(callback mysql.ResultSpoolFn) mysql.ResultSpoolFn {
	return func(res *sqltypes.Result, more bool) error {
		if res != nil && len(res.Fields) == 0 && res.Info != "" && len(res.Info) < okInfoLen {
			res.Info += strings.Repeat(" ", okInfoLen-len(res.Info))
		}
		return callback(res, more)
	}
}
