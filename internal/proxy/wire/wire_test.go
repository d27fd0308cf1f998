package wire

import (
	"bytes"
	"net"
	"testing"
)

func TestHandshakeRoundTrip(t *testing.T) {
	salt, err := NewSalt()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.IndexByte(salt, 0) >= 0 {
		t.Fatal("a zero byte in the salt")
	}
	h := Handshake{ServerVersion: "8.0.33-strata", ConnectionID: 7, Salt: salt, Capabilities: ClientProtocol41 | ClientSecureConnection | ClientPluginAuth,
		Charset: 255, Status: StatusAutocommit, AuthPlugin: NativePassword}
	got, err := ParseHandshake(AppendHandshake(nil, h))
	if err != nil || got.ServerVersion != h.ServerVersion || got.ConnectionID != 7 || !bytes.Equal(got.Salt, salt) || got.AuthPlugin != NativePassword {
		t.Fatalf("%+v %v", got, err)
	}
	r := Response{Capabilities: ClientDeprecateEOF, MaxPacket: 1 << 24, Charset: 45, User: "bob", AuthData: ScrambleNative(salt, "pw"), DB: "d", AuthPlugin: NativePassword}
	gr, err := ParseResponse(AppendResponse(nil, r))
	if err != nil || gr.User != "bob" || gr.DB != "d" || !bytes.Equal(gr.AuthData, r.AuthData) || gr.Charset != 45 || gr.Capabilities&ClientDeprecateEOF == 0 {
		t.Fatalf("%+v %v", gr, err)
	}
	ok, err := ParseOK(AppendOK(nil, OK{AffectedRows: 300, LastInsertID: 1 << 20, Status: 3, Warnings: 2, Info: "x"}))
	if err != nil || ok.AffectedRows != 300 || ok.LastInsertID != 1<<20 || ok.Status != 3 || ok.Warnings != 2 || ok.Info != "x" {
		t.Fatalf("%+v %v", ok, err)
	}
	e := ParseErr(AppendErr(nil, NewError(1045, "28000", "no")))
	if e.Code != 1045 || e.State != "28000" || e.Message != "no" {
		t.Fatalf("%+v", e)
	}
}

// TestLargePacket: a logical packet of 16 MiB or more is split and joined again.
func TestLargePacket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	big := bytes.Repeat([]byte{7}, MaxPayload+10)
	go func() {
		w := NewConn(a)
		_ = w.WriteFlush(big)
		_ = w.WriteFlush(nil)
	}()
	r := NewConn(b)
	p, err := r.ReadPacket()
	if err != nil || !bytes.Equal(p, big) {
		t.Fatalf("%d bytes, %v", len(p), err)
	}
	if p, err := r.ReadPacket(); err != nil || len(p) != 0 {
		t.Fatalf("empty packet: %d %v", len(p), err)
	}
}

// FuzzParse: no input makes a parser panic.
func FuzzParse(f *testing.F) {
	f.Add(AppendHandshake(nil, Handshake{ServerVersion: "v", Salt: make([]byte, 20), Capabilities: ClientSecureConnection | ClientPluginAuth, AuthPlugin: "p"}))
	f.Add(AppendResponse(nil, Response{User: "u", DB: "d", AuthPlugin: "p", AuthData: []byte{1}}))
	f.Add(AppendOK(nil, OK{Info: "i"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseHandshake(b)
		_, _ = ParseResponse(b)
		_, _ = ParseOK(b)
		_, _ = ParseEOF(b)
		_ = ParseErr(b)
		r := NewReader(b)
		r.LenencBytes()
		r.NulString()
	})
}
