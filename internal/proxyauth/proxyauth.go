// Package proxyauth is the contract between the Strata proxy and the compute nodes for
// logging in on a client's behalf (docs/proxy.md, "Authentication").
//
// A compute node offers, next to MySQL's own auth methods, the method Plugin. The proxy
// logs in with it as the client's user, and its auth data is a Token: the client's address,
// and either the client's mysql_native_password scramble with the salt the proxy gave the
// client (Password: the node checks the password, as if the client had connected to it
// directly from its own address) or nothing more (Trusted: the client has already been
// checked on this proxy session, and the node only checks that the account exists for that
// address). The token is signed with the cluster secret over the node's own handshake
// salt, so only a holder of the secret can make one, and only for that one handshake.
package proxyauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Plugin is the auth method's name in the MySQL handshake.
const Plugin = "strata_proxy"

// Mode says what a token proves.
type Mode uint8

const (
	// Password carries the client's scramble: the node checks the password.
	Password Mode = 1
	// Trusted says the proxy has already checked the client's password for this session.
	Trusted Mode = 2
)

const (
	version = 1
	macLen  = sha256.Size
	// maxField bounds every variable field, so a token stays small.
	maxField = 255
)

// Token is what the proxy tells a compute node about the client it logs in for.
type Token struct {
	Mode Mode
	// ClientAddr is the client's address as the proxy saw it (host:port): the node matches
	// accounts (user@host) against it.
	ClientAddr string
	// Salt is the salt the proxy sent the client, and Scramble the client's answer
	// (mysql_native_password), in Password mode.
	Salt, Scramble []byte
}

// Encode signs t for the node whose handshake salt is serverSalt and user, with secret.
func Encode(secret string, serverSalt []byte, user string, t Token) ([]byte, error) {
	if secret == "" {
		return nil, errors.New("proxyauth: no cluster secret")
	}
	if t.Mode != Password && t.Mode != Trusted {
		return nil, fmt.Errorf("proxyauth: unknown mode %d", t.Mode)
	}
	if t.Mode == Trusted && (len(t.Salt) > 0 || len(t.Scramble) > 0) {
		return nil, errors.New("proxyauth: a trusted token carries no scramble")
	}
	b := []byte{version, byte(t.Mode)}
	for _, f := range [][]byte{[]byte(t.ClientAddr), t.Salt, t.Scramble} {
		if len(f) > maxField {
			return nil, fmt.Errorf("proxyauth: field of %d bytes", len(f))
		}
		b = append(b, byte(len(f)))
		b = append(b, f...)
	}
	return append(b, mac(secret, serverSalt, user, b)...), nil
}

// Decode checks data, the auth data a login for user brought to a node whose handshake
// salt was serverSalt, against secret and returns its token. Any error means the login
// must fail: the data is malformed, or was not made with the secret for this handshake.
func Decode(secret string, serverSalt []byte, user string, data []byte) (Token, error) {
	var t Token
	if secret == "" {
		return t, errors.New("proxyauth: no cluster secret configured")
	}
	if len(data) < 2+3+macLen {
		return t, errors.New("proxyauth: token too short")
	}
	body, sum := data[:len(data)-macLen], data[len(data)-macLen:]
	if !hmac.Equal(sum, mac(secret, serverSalt, user, body)) {
		return t, errors.New("proxyauth: bad signature")
	}
	if body[0] != version {
		return t, fmt.Errorf("proxyauth: version %d", body[0])
	}
	t.Mode = Mode(body[1])
	if t.Mode != Password && t.Mode != Trusted {
		return t, fmt.Errorf("proxyauth: unknown mode %d", t.Mode)
	}
	rest := body[2:]
	var fields [3][]byte
	for i := range fields {
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return Token{}, errors.New("proxyauth: truncated token")
		}
		n := int(rest[0])
		fields[i], rest = append([]byte(nil), rest[1:1+n]...), rest[1+n:]
	}
	if len(rest) != 0 {
		return Token{}, errors.New("proxyauth: trailing bytes in token")
	}
	t.ClientAddr, t.Salt, t.Scramble = string(fields[0]), fields[1], fields[2]
	if t.Mode == Trusted && (len(t.Salt) > 0 || len(t.Scramble) > 0) {
		return Token{}, errors.New("proxyauth: a trusted token carries no scramble")
	}
	return t, nil
}

// mac is HMAC-SHA256 with the secret over a label, the node's salt, the user and the body,
// each with its length, so no two different inputs sign the same bytes.
func mac(secret string, serverSalt []byte, user string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	for _, f := range [][]byte{[]byte("strata proxy login v1"), serverSalt, []byte(user), body} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write(f)
	}
	return h.Sum(nil)
}
