package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// decodePartChunks wraps h so that an UploadPart request whose body is aws-chunked (streaming
// SigV4, as minio-go sends over plain HTTP) reaches it decoded: gofakes3 v1.2.0 decodes such
// bodies for PutObject only and would store a part's chunk headers and signatures as its data.
// Signatures are not checked, as gofakes3 checks none.
func decodePartChunks(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sha := r.Header.Get("X-Amz-Content-Sha256")
		q := r.URL.Query()
		if r.Method == http.MethodPut && q.Has("partNumber") && q.Has("uploadId") &&
			strings.HasPrefix(sha, "STREAMING-") {
			n, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
			if err != nil || n < 0 {
				http.Error(w, "bad X-Amz-Decoded-Content-Length", http.StatusBadRequest)
				return
			}
			r.Body = &chunkedBody{r: bufio.NewReader(r.Body), c: r.Body}
			r.ContentLength = n
			r.Header.Set("Content-Length", strconv.FormatInt(n, 10))
			r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		}
		h.ServeHTTP(w, r)
	})
}

// chunkedBody reads the data of an aws-chunked body: chunks "hex-size[;extensions]\r\n" data
// "\r\n", ended by a chunk of size 0 and optional trailer lines up to an empty line.
type chunkedBody struct {
	r    *bufio.Reader
	c    io.Closer
	left int64 // data bytes left in the current chunk
	done bool
}

// Read implements io.Reader.
func (b *chunkedBody) Read(p []byte) (int, error) {
	for b.left == 0 {
		if b.done {
			return 0, io.EOF
		}
		if err := b.nextChunk(); err != nil {
			return 0, err
		}
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left == 0 && err == nil {
		err = b.expectCRLF()
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// nextChunk reads a chunk's header line; after the last chunk, the trailer.
func (b *chunkedBody) nextChunk() error {
	line, err := b.r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("chunk header: %w", err)
	}
	sizeHex, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ";")
	size, err := strconv.ParseInt(sizeHex, 16, 64)
	if err != nil || size < 0 {
		return fmt.Errorf("chunk header %q", line)
	}
	if size > 0 {
		b.left = size
		return nil
	}
	b.done = true
	for { // trailer lines, up to an empty line or the body's end
		line, err := b.r.ReadString('\n')
		if err != nil || strings.TrimRight(line, "\r\n") == "" {
			return nil
		}
	}
}

// expectCRLF reads the "\r\n" that ends a chunk's data.
func (b *chunkedBody) expectCRLF() error {
	var crlf [2]byte
	if _, err := io.ReadFull(b.r, crlf[:]); err != nil {
		return fmt.Errorf("chunk end: %w", err)
	}
	if string(crlf[:]) != "\r\n" {
		return fmt.Errorf("chunk end %q", crlf[:])
	}
	return nil
}

// Close implements io.Closer.
func (b *chunkedBody) Close() error {
	return b.c.Close()
}
