package pageapi

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"strata/internal/page"
	"strata/internal/pageapi/pageserverpb"
)

// TestCodec checks that the codec encodes like proto, decodes a page answer into a pooled page,
// and decodes anything else (other messages, odd sizes, unknown fields) like proto.
func TestCodec(t *testing.T) {
	c := NewCodec()
	p := c.Page()
	for i := range p {
		p[i] = byte(i * 7)
	}
	want := bytes.Clone(p[:])
	resp := &pageserverpb.GetPageResponse{Page: p[:]}
	b, err := c.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Page != nil {
		t.Fatal("Marshal kept the page in the response after giving it back to the pool")
	}
	std, _ := proto.Marshal(&pageserverpb.GetPageResponse{Page: want})
	if !bytes.Equal(b, std) {
		t.Fatal("the codec's encoding differs from proto's")
	}
	var got pageserverpb.GetPageResponse
	if err := c.Unmarshal(b, &got); err != nil || !bytes.Equal(got.Page, want) {
		t.Fatalf("Unmarshal of a page answer: %v, equal %v", err, bytes.Equal(got.Page, want))
	}
	c.Release((*page.Page)(got.Page))

	short, _ := proto.Marshal(&pageserverpb.GetPageResponse{Page: []byte("abc")})
	if err := c.Unmarshal(short, &got); err != nil || string(got.Page) != "abc" {
		t.Fatalf("Unmarshal of a short page: %q, %v", got.Page, err)
	}
	extra := protowire.AppendVarint(protowire.AppendTag(bytes.Clone(std), 9, protowire.VarintType), 5)
	if err := c.Unmarshal(extra, &got); err != nil || !bytes.Equal(got.Page, want) {
		t.Fatalf("Unmarshal with an unknown field: %v", err)
	}
	if err := c.Unmarshal([]byte{0x0a, 0xff}, &got); err == nil {
		t.Fatal("Unmarshal of a truncated message succeeded")
	}
	st := &pageserverpb.StatusResponse{Consumed: 5, Segments: []uint64{1, 2}}
	sb, err := c.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var st2 pageserverpb.StatusResponse
	if err := c.Unmarshal(sb, &st2); err != nil || !proto.Equal(st, &st2) {
		t.Fatalf("Status round trip: %v, %v", &st2, err)
	}
	if _, err := c.Marshal(42); err == nil {
		t.Fatal("Marshal of a non-message succeeded")
	}
}

// FuzzCodecUnmarshal checks that no bytes from a peer make the codec panic, and that a page
// it accepts is exactly the bytes of the message's page field.
func FuzzCodecUnmarshal(f *testing.F) {
	full, _ := proto.Marshal(&pageserverpb.GetPageResponse{Page: make([]byte, page.Size)})
	f.Add(full)
	f.Add([]byte{0x0a, 0x80, 0x80, 0x01})
	f.Add([]byte{0x0a, 0x03, 'a', 'b', 'c'})
	f.Add([]byte{})
	c := NewCodec()
	f.Fuzz(func(t *testing.T, b []byte) {
		var r pageserverpb.GetPageResponse
		if err := c.Unmarshal(b, &r); err != nil {
			return
		}
		var std pageserverpb.GetPageResponse
		if err := proto.Unmarshal(b, &std); err != nil {
			t.Fatalf("the codec accepted what proto refuses: %v", err)
		}
		if !bytes.Equal(r.Page, std.Page) {
			t.Fatal("the codec decoded a different page than proto")
		}
		var st pageserverpb.StatusResponse
		_ = c.Unmarshal(b, &st)
	})
}
