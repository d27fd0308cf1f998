package proxyauth

import (
	"bytes"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	salt := []byte("01234567890123456789")
	for _, tok := range []Token{
		{Mode: Password, ClientAddr: "10.0.0.7:5123", Salt: []byte("abcdefghijabcdefghij"), Scramble: bytes.Repeat([]byte{7}, 20)},
		{Mode: Password, ClientAddr: "127.0.0.1:1"},
		{Mode: Trusted, ClientAddr: "[::1]:3306"},
	} {
		b, err := Encode("s3cret", salt, "bob", tok)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode("s3cret", salt, "bob", b)
		if err != nil {
			t.Fatalf("%+v: %v", tok, err)
		}
		if got.Mode != tok.Mode || got.ClientAddr != tok.ClientAddr || !bytes.Equal(got.Salt, tok.Salt) || !bytes.Equal(got.Scramble, tok.Scramble) {
			t.Fatalf("decoded %+v, want %+v", got, tok)
		}
		// Any change of the secret, the node's salt, the user or a byte is refused.
		if _, err := Decode("other", salt, "bob", b); err == nil {
			t.Fatal("another secret accepted")
		}
		if _, err := Decode("s3cret", []byte("01234567890123456780"), "bob", b); err == nil {
			t.Fatal("another handshake's salt accepted (replay)")
		}
		if _, err := Decode("s3cret", salt, "root", b); err == nil {
			t.Fatal("another user accepted")
		}
		for i := range b {
			c := bytes.Clone(b)
			c[i] ^= 1
			if _, err := Decode("s3cret", salt, "bob", c); err == nil {
				t.Fatalf("byte %d flipped: accepted", i)
			}
		}
		for n := range len(b) {
			if _, err := Decode("s3cret", salt, "bob", b[:n]); err == nil {
				t.Fatalf("truncated to %d: accepted", n)
			}
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	if _, err := Encode("", nil, "u", Token{Mode: Trusted}); err == nil {
		t.Fatal("no secret")
	}
	if _, err := Encode("s", nil, "u", Token{Mode: 9}); err == nil {
		t.Fatal("bad mode")
	}
	if _, err := Encode("s", nil, "u", Token{Mode: Trusted, Scramble: []byte{1}}); err == nil {
		t.Fatal("trusted with a scramble")
	}
	if _, err := Encode("s", nil, "u", Token{Mode: Password, ClientAddr: string(make([]byte, 300))}); err == nil {
		t.Fatal("oversized field")
	}
	if _, err := Decode("", nil, "u", make([]byte, 64)); err == nil {
		t.Fatal("decode without a secret")
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := Encode("k", []byte("salt"), "u", Token{Mode: Password, ClientAddr: "1.2.3.4:5", Scramble: []byte{1, 2}})
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Decode("k", []byte("salt"), "u", data)
	})
}
