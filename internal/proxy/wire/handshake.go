package wire

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
)

// Handshake is the server's initial handshake (protocol 10).
type Handshake struct {
	ServerVersion string
	ConnectionID  uint32
	// Salt is the 20-byte auth plugin data (without its terminating zero).
	Salt         []byte
	Capabilities uint32
	Charset      byte
	Status       uint16
	AuthPlugin   string
}

// NewSalt returns 20 random bytes, none of them zero or '$' (clients cut the salt at a
// zero byte).
func NewSalt() ([]byte, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("wire: salt: %w", err)
	}
	for i := range b {
		b[i] = b[i]&0x7f | 1 // printable-ish, never zero
		if b[i] == '$' {
			b[i] = '%'
		}
	}
	return b, nil
}

// AppendHandshake appends h as a HandshakeV10 packet.
func AppendHandshake(b []byte, h Handshake) []byte {
	salt := h.Salt
	if len(salt) < 20 {
		salt = append(append([]byte(nil), salt...), make([]byte, 20-len(salt))...)
	}
	b = append(b, 10)
	b = append(b, h.ServerVersion...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint32(b, h.ConnectionID)
	b = append(b, salt[:8]...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(h.Capabilities))
	b = append(b, h.Charset)
	b = binary.LittleEndian.AppendUint16(b, h.Status)
	b = binary.LittleEndian.AppendUint16(b, uint16(h.Capabilities>>16))
	b = append(b, 21)
	b = append(b, make([]byte, 10)...)
	b = append(b, salt[8:20]...)
	b = append(b, 0)
	b = append(b, h.AuthPlugin...)
	return append(b, 0)
}

// ParseHandshake reads a server's HandshakeV10 packet.
func ParseHandshake(p []byte) (Handshake, error) {
	var h Handshake
	r := NewReader(p)
	if v := r.Byte(); r.Err == nil && v != 10 {
		if v == HeaderErr {
			return h, ParseErr(p)
		}
		return h, fmt.Errorf("wire: handshake protocol %d, want 10", v)
	}
	h.ServerVersion = r.NulString()
	h.ConnectionID = r.Uint32()
	salt := r.Bytes(8)
	r.Skip(1)
	h.Capabilities = uint32(r.Uint16())
	if r.Len() > 0 {
		h.Charset = r.Byte()
		h.Status = r.Uint16()
		h.Capabilities |= uint32(r.Uint16()) << 16
		authLen := int(r.Byte())
		r.Skip(10)
		if h.Capabilities&ClientSecureConnection != 0 {
			n := max(13, authLen-8)
			rest := r.Bytes(n)
			if len(rest) > 0 && rest[len(rest)-1] == 0 {
				rest = rest[:len(rest)-1]
			}
			salt = append(salt, rest...)
		}
		if h.Capabilities&ClientPluginAuth != 0 && r.Len() > 0 {
			h.AuthPlugin = r.NulString()
			if r.Err != nil { // some servers omit the final zero
				r.Err = nil
				h.AuthPlugin = ""
			}
		}
	}
	if r.Err != nil {
		return Handshake{}, fmt.Errorf("wire: handshake: %w", r.Err)
	}
	h.Salt = salt
	return h, nil
}

// Response is a client's HandshakeResponse41.
type Response struct {
	Capabilities uint32
	MaxPacket    uint32
	Charset      byte
	User         string
	AuthData     []byte
	DB           string
	AuthPlugin   string
	// Attrs is the raw connection attributes block (length-encoded), if any.
	Attrs []byte
	// SSLRequest: the packet was an SSL request (the client wants TLS first).
	SSLRequest bool
}

// ParseResponse reads a client's HandshakeResponse41 (or an SSL request).
func ParseResponse(p []byte) (Response, error) {
	var c Response
	r := NewReader(p)
	c.Capabilities = r.Uint32()
	if r.Err == nil && c.Capabilities&ClientProtocol41 == 0 {
		return c, fmt.Errorf("wire: only protocol 4.1 clients are served")
	}
	c.MaxPacket = r.Uint32()
	c.Charset = r.Byte()
	r.Skip(23)
	if r.Err != nil {
		return Response{}, fmt.Errorf("wire: handshake response: %w", r.Err)
	}
	if r.Len() == 0 && c.Capabilities&ClientSSL != 0 {
		c.SSLRequest = true
		return c, nil
	}
	c.User = r.NulString()
	switch {
	case c.Capabilities&ClientPluginAuthLenenc != 0:
		c.AuthData = r.LenencBytes()
	case c.Capabilities&ClientSecureConnection != 0:
		c.AuthData = r.Bytes(int(r.Byte()))
	default:
		c.AuthData = []byte(r.NulString())
	}
	if c.Capabilities&ClientConnectWithDB != 0 && r.Len() > 0 {
		c.DB = r.NulString()
	}
	if c.Capabilities&ClientPluginAuth != 0 && r.Len() > 0 {
		c.AuthPlugin = r.NulString()
	}
	if c.Capabilities&ClientConnectAttrs != 0 && r.Len() > 0 {
		c.Attrs = r.Rest()
	}
	if r.Err != nil {
		return Response{}, fmt.Errorf("wire: handshake response: %w", r.Err)
	}
	return c, nil
}

// AppendResponse appends c as a HandshakeResponse41 (with CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA).
func AppendResponse(b []byte, c Response) []byte {
	caps := c.Capabilities | ClientProtocol41 | ClientSecureConnection | ClientPluginAuth | ClientPluginAuthLenenc
	if c.DB != "" {
		caps |= ClientConnectWithDB
	} else {
		caps &^= ClientConnectWithDB
	}
	if len(c.Attrs) == 0 {
		caps &^= ClientConnectAttrs
	}
	b = binary.LittleEndian.AppendUint32(b, caps)
	b = binary.LittleEndian.AppendUint32(b, c.MaxPacket)
	b = append(b, c.Charset)
	b = append(b, make([]byte, 23)...)
	b = append(b, c.User...)
	b = append(b, 0)
	b = AppendLenencBytes(b, c.AuthData)
	if caps&ClientConnectWithDB != 0 {
		b = append(b, c.DB...)
		b = append(b, 0)
	}
	b = append(b, c.AuthPlugin...)
	b = append(b, 0)
	if caps&ClientConnectAttrs != 0 {
		b = append(b, c.Attrs...)
	}
	return b
}

// AppendAuthSwitch appends an auth switch request to plugin with data.
func AppendAuthSwitch(b []byte, plugin string, data []byte) []byte {
	b = append(b, HeaderEOF)
	b = append(b, plugin...)
	b = append(b, 0)
	return append(b, data...)
}

// ScrambleNative is mysql_native_password's answer to salt for password.
func ScrambleNative(salt []byte, password string) []byte {
	if password == "" {
		return nil
	}
	h1 := sha1.Sum([]byte(password))
	h2 := sha1.Sum(h1[:])
	h := sha1.New()
	h.Write(salt)
	h.Write(h2[:])
	s := h.Sum(nil)
	for i := range s {
		s[i] ^= h1[i]
	}
	return s
}
