package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// errShort is the error of a packet that ends too early.
var errShort = errors.New("wire: packet too short")

// Reader reads the fields of one packet. Once a read fails, Err is set and every later read
// returns zero values.
type Reader struct {
	b   []byte
	pos int
	Err error
}

// NewReader reads b from its start.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

func (r *Reader) need(n int) bool {
	if r.Err != nil {
		return false
	}
	if n < 0 || len(r.b)-r.pos < n {
		r.Err = errShort
		return false
	}
	return true
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if !r.need(1) {
		return 0
	}
	r.pos++
	return r.b[r.pos-1]
}

// Uint16 reads a little-endian 16-bit integer.
func (r *Reader) Uint16() uint16 {
	if !r.need(2) {
		return 0
	}
	r.pos += 2
	return binary.LittleEndian.Uint16(r.b[r.pos-2:])
}

// Uint32 reads a little-endian 32-bit integer.
func (r *Reader) Uint32() uint32 {
	if !r.need(4) {
		return 0
	}
	r.pos += 4
	return binary.LittleEndian.Uint32(r.b[r.pos-4:])
}

// Bytes reads n bytes (a copy).
func (r *Reader) Bytes(n int) []byte {
	if !r.need(n) {
		return nil
	}
	r.pos += n
	return append([]byte(nil), r.b[r.pos-n:r.pos]...)
}

// Skip skips n bytes.
func (r *Reader) Skip(n int) {
	if r.need(n) {
		r.pos += n
	}
}

// NulString reads a string ended by a zero byte.
func (r *Reader) NulString() string {
	if r.Err != nil {
		return ""
	}
	for i := r.pos; i < len(r.b); i++ {
		if r.b[i] == 0 {
			s := string(r.b[r.pos:i])
			r.pos = i + 1
			return s
		}
	}
	r.Err = errShort
	return ""
}

// LenencInt reads a length-encoded integer.
func (r *Reader) LenencInt() uint64 {
	switch c := r.Byte(); {
	case r.Err != nil:
		return 0
	case c < 0xfb:
		return uint64(c)
	case c == 0xfc:
		return uint64(r.Uint16())
	case c == 0xfd:
		if !r.need(3) {
			return 0
		}
		r.pos += 3
		return uint64(r.b[r.pos-3]) | uint64(r.b[r.pos-2])<<8 | uint64(r.b[r.pos-1])<<16
	case c == 0xfe:
		if !r.need(8) {
			return 0
		}
		r.pos += 8
		return binary.LittleEndian.Uint64(r.b[r.pos-8:])
	default:
		r.Err = fmt.Errorf("wire: bad length-encoded integer prefix 0x%x", c)
		return 0
	}
}

// LenencBytes reads a length-encoded string.
func (r *Reader) LenencBytes() []byte {
	n := r.LenencInt()
	if r.Err != nil || n > uint64(len(r.b)-r.pos) {
		if r.Err == nil {
			r.Err = errShort
		}
		return nil
	}
	return r.Bytes(int(n))
}

// Rest returns the unread bytes (a copy).
func (r *Reader) Rest() []byte {
	if r.Err != nil {
		return nil
	}
	return r.Bytes(len(r.b) - r.pos)
}

// Len is the number of unread bytes.
func (r *Reader) Len() int {
	if r.Err != nil {
		return 0
	}
	return len(r.b) - r.pos
}

// AppendLenencInt appends n length-encoded.
func AppendLenencInt(b []byte, n uint64) []byte {
	switch {
	case n < 0xfb:
		return append(b, byte(n))
	case n < 1<<16:
		return append(b, 0xfc, byte(n), byte(n>>8))
	case n < 1<<24:
		return append(b, 0xfd, byte(n), byte(n>>8), byte(n>>16))
	}
	b = append(b, 0xfe)
	return binary.LittleEndian.AppendUint64(b, n)
}

// AppendLenencBytes appends s length-encoded.
func AppendLenencBytes(b, s []byte) []byte {
	return append(AppendLenencInt(b, uint64(len(s))), s...)
}

// OK is an OK packet (or an EOF packet, which carries warnings and status only).
type OK struct {
	AffectedRows, LastInsertID uint64
	Status                     uint16
	Warnings                   uint16
	Info                       string
}

// IsEOF reports whether p is an EOF packet, or the OK packet that ends a result set when
// CLIENT_DEPRECATE_EOF is on: header 0xfe and shorter than a length-encoded integer's
// 9-byte form can be (a row's first column can start with 0xfe only in a packet of 16 MiB).
func IsEOF(p []byte) bool {
	return len(p) > 0 && p[0] == HeaderEOF && len(p) < MaxPayload
}

// IsErr reports whether p is an ERR packet.
func IsErr(p []byte) bool { return len(p) > 0 && p[0] == HeaderErr }

// ParseOK reads an OK packet (header 0x00, or 0xfe for one that ends a result set).
func ParseOK(p []byte) (OK, error) {
	r := NewReader(p)
	r.Byte()
	var ok OK
	ok.AffectedRows = r.LenencInt()
	ok.LastInsertID = r.LenencInt()
	ok.Status = r.Uint16()
	ok.Warnings = r.Uint16()
	if r.Err != nil {
		return OK{}, fmt.Errorf("wire: OK packet: %w", r.Err)
	}
	ok.Info = string(r.Rest())
	return ok, nil
}

// ParseEOF reads an EOF packet of 5 bytes (warnings, status); a longer one is an OK.
func ParseEOF(p []byte) (OK, error) {
	if len(p) >= 7 {
		return ParseOK(p)
	}
	r := NewReader(p)
	r.Byte()
	var ok OK
	if len(p) >= 5 {
		ok.Warnings = r.Uint16()
		ok.Status = r.Uint16()
	}
	return ok, r.Err
}

// AppendOK appends an OK packet.
func AppendOK(b []byte, ok OK) []byte {
	b = append(b, HeaderOK)
	b = AppendLenencInt(b, ok.AffectedRows)
	b = AppendLenencInt(b, ok.LastInsertID)
	b = binary.LittleEndian.AppendUint16(b, ok.Status)
	b = binary.LittleEndian.AppendUint16(b, ok.Warnings)
	return append(b, ok.Info...)
}

// SQLError is an ERR packet: a MySQL error.
type SQLError struct {
	Code    uint16
	State   string
	Message string
}

func (e *SQLError) Error() string {
	return fmt.Sprintf("Error %d (%s): %s", e.Code, e.State, e.Message)
}

// NewError is a MySQL error with SQLSTATE HY000 unless state is given.
func NewError(code uint16, state, format string, args ...any) *SQLError {
	if state == "" {
		state = "HY000"
	}
	return &SQLError{Code: code, State: state, Message: fmt.Sprintf(format, args...)}
}

// ParseErr reads an ERR packet.
func ParseErr(p []byte) *SQLError {
	r := NewReader(p)
	r.Byte()
	e := &SQLError{Code: r.Uint16(), State: "HY000"}
	if r.Len() > 0 && r.b[r.pos] == '#' {
		r.Byte()
		e.State = string(r.Bytes(5))
	}
	e.Message = string(r.Rest())
	if r.Err != nil {
		return &SQLError{Code: ErMalformedPacket, State: "HY000", Message: "malformed error packet from a node"}
	}
	return e
}

// AppendErr appends an ERR packet.
func AppendErr(b []byte, e *SQLError) []byte {
	b = append(b, HeaderErr)
	b = binary.LittleEndian.AppendUint16(b, e.Code)
	state := e.State
	if len(state) != 5 {
		state = "HY000"
	}
	b = append(b, '#')
	b = append(b, state...)
	return append(b, e.Message...)
}
