package archive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
)

// The frame of every object a Store writes:
//
//	header  16 bytes: magic "SARC", version (1), 3 zero bytes, payload length (uint64, big-endian)
//	payload the bytes given to Put
//	trailer  4 bytes: CRC32C (Castagnoli) of the payload (uint32, big-endian)
const (
	headerLen  = 16
	trailerLen = 4
	// Overhead is what the frame adds to a payload's length.
	Overhead = headerLen + trailerLen

	frameVersion = 1
)

// frameMagic opens every framed object.
var frameMagic = [4]byte{'S', 'A', 'R', 'C'}

// castagnoli is the CRC32C table.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeHeader returns the header of a payload of size bytes.
func encodeHeader(size int64) [headerLen]byte {
	var h [headerLen]byte
	copy(h[:4], frameMagic[:])
	h[4] = frameVersion
	binary.BigEndian.PutUint64(h[8:], uint64(size))
	return h
}

// decodeHeader returns the payload length that h announces, or why h is no header.
func decodeHeader(h []byte) (int64, error) {
	if [4]byte(h[:4]) != frameMagic {
		return 0, fmt.Errorf("bad magic %x (want %x)", h[:4], frameMagic[:])
	}
	if h[4] != frameVersion {
		return 0, fmt.Errorf("unknown format version %d (want %d)", h[4], frameVersion)
	}
	if h[5] != 0 || h[6] != 0 || h[7] != 0 {
		return 0, fmt.Errorf("reserved header bytes %x not zero", h[5:8])
	}
	n := binary.BigEndian.Uint64(h[8:])
	if n > 1<<62 {
		return 0, fmt.Errorf("payload length %d out of range", n)
	}
	return int64(n), nil
}

// errInput is what framer returns when its source yields a number of bytes other than the
// size given to Put.
var errInput = errors.New("archive: reader length differs from size")

// framer reads as the framed object: header, the size bytes of src, trailer. It fails if src
// yields fewer or more bytes than size, so that a backend stores nothing.
type framer struct {
	src    io.Reader
	size   int64
	header [headerLen]byte
	off    int64 // bytes of the framed object read so far
	crc    hash.Hash32
	tail   []byte // the trailer, once the payload is read
	err    error
}

// newFramer frames the size bytes of src.
func newFramer(src io.Reader, size int64) *framer {
	return &framer{src: src, size: size, header: encodeHeader(size), crc: crc32.New(castagnoli)}
}

// Read implements io.Reader.
func (f *framer) Read(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if f.off < headerLen {
		n := copy(p, f.header[f.off:])
		f.off += int64(n)
		return n, nil
	}
	if rest := headerLen + f.size - f.off; rest > 0 {
		if int64(len(p)) > rest {
			p = p[:rest]
		}
		n, err := f.src.Read(p)
		f.crc.Write(p[:n])
		f.off += int64(n)
		switch {
		case errors.Is(err, io.EOF) && f.off < headerLen+f.size:
			f.err = fmt.Errorf("%w: reader ended after %d bytes, size is %d",
				errInput, f.off-headerLen, f.size)
			return n, f.err
		case err != nil && !errors.Is(err, io.EOF):
			f.err = fmt.Errorf("archive: reading the payload: %w", err)
			return n, f.err
		}
		return n, nil
	}
	if f.tail == nil {
		// The payload is all read: the source must have nothing more.
		var extra [1]byte
		n, err := io.ReadFull(f.src, extra[:])
		if n > 0 {
			f.err = fmt.Errorf("%w: reader has more than size %d bytes", errInput, f.size)
			return 0, f.err
		}
		if err != nil && !errors.Is(err, io.EOF) {
			f.err = fmt.Errorf("archive: reading the payload: %w", err)
			return 0, f.err
		}
		f.tail = binary.BigEndian.AppendUint32(nil, f.crc.Sum32())
	}
	n := copy(p, f.tail)
	f.tail = f.tail[n:]
	if len(f.tail) == 0 {
		f.err = io.EOF
	}
	return n, nil
}

// verifier reads a framed object from src and yields its payload. It fails with ErrDamaged if
// src ends early or goes on past the trailer, or the CRC differs; it checks the trailer when
// it reaches the payload's last byte, and returns that last read's bytes only if all is well,
// so a caller that reads exactly the payload's length is told of damage too.
type verifier struct {
	src  io.ReadCloser
	key  string
	size int64 // payload length from the header
	left int64 // payload bytes not yet read
	crc  hash.Hash32
	err  error
}

// readHeader reads and checks the header of the framed object in src.
func readHeader(src io.Reader, key string) (int64, error) {
	var h [headerLen]byte
	n, err := io.ReadFull(src, h[:])
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, damaged(key, "%d bytes, shorter than the %d-byte header", n, headerLen)
		}
		return 0, fmt.Errorf("archive: read %s: %w", key, err)
	}
	size, err := decodeHeader(h[:])
	if err != nil {
		return 0, damaged(key, "%v", err)
	}
	return size, nil
}

// newVerifier returns the reader of the payload of src, whose header announced size bytes.
func newVerifier(src io.ReadCloser, key string, size int64) *verifier {
	return &verifier{src: src, key: key, size: size, left: size, crc: crc32.New(castagnoli)}
}

// Read implements io.Reader.
func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.left == 0 {
		// An empty payload, or the payload's end already checked.
		if err := v.finish(); err != nil {
			return 0, err
		}
		v.err = io.EOF
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > v.left {
		p = p[:v.left]
	}
	n, err := v.src.Read(p)
	v.crc.Write(p[:n])
	v.left -= int64(n)
	if v.left == 0 {
		if ferr := v.finish(); ferr != nil {
			return 0, ferr
		}
		v.err = io.EOF
		return n, nil
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			v.err = damaged(v.key, "payload ends after %d bytes, header says %d",
				v.size-v.left, v.size)
		} else {
			v.err = fmt.Errorf("archive: read %s: %w", v.key, err)
		}
		return n, v.err
	}
	return n, nil
}

// finish reads and checks the trailer once the payload is read, and that nothing follows it.
func (v *verifier) finish() error {
	if v.err != nil {
		return v.err
	}
	var t [trailerLen + 1]byte
	n, err := io.ReadFull(v.src, t[:])
	switch {
	case err == nil:
		v.err = damaged(v.key, "longer than its %d-byte payload and trailer", v.size)
	case errors.Is(err, io.ErrUnexpectedEOF) && n == trailerLen:
		want := binary.BigEndian.Uint32(t[:trailerLen])
		if got := v.crc.Sum32(); got != want {
			v.err = damaged(v.key, "CRC32C of the %d-byte payload is %08x, trailer says %08x",
				v.size, got, want)
		}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		v.err = damaged(v.key, "trailer is %d bytes, want %d", n, trailerLen)
	default:
		v.err = fmt.Errorf("archive: read %s: %w", v.key, err)
	}
	return v.err
}

// Close implements io.Closer: it closes the backend's reader.
func (v *verifier) Close() error {
	return v.src.Close()
}

// damaged returns an error wrapping ErrDamaged that names the key and what is wrong.
func damaged(key, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrDamaged, key, fmt.Sprintf(format, args...))
}
