package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// DefaultPartSize is the part size of the S3 backend's multipart uploads: objects larger than
// it are sent in parts of it, each held in memory once while it is sent.
const DefaultPartSize = 16 << 20

// S3Config configures an S3 backend.
type S3Config struct {
	// Endpoint is the server's host and port ("host:port"); no scheme.
	Endpoint string
	// Bucket holds the objects.
	Bucket string
	// AccessKey and SecretKey sign the requests; both empty sends them unsigned.
	AccessKey, SecretKey string
	// Secure selects HTTPS (true) or plain HTTP.
	Secure bool
	// Region is the bucket's region; empty asks the server.
	Region string
	// CreateBucket creates the bucket if it is missing; otherwise a missing bucket is an error
	// wrapping ErrNoBucket.
	CreateBucket bool
	// PartSize is the multipart upload part size (at least 5 MiB); 0 means DefaultPartSize.
	PartSize uint64
	// Transport carries the requests; nil uses minio-go's default.
	Transport http.RoundTripper
}

// S3 is a Backend over a bucket of an S3-API endpoint (AWS S3, MinIO, and others).
type S3 struct {
	c    *minio.Client
	cfg  S3Config
	name string // for String: no secrets
}

// NewS3 connects to the endpoint and checks the bucket (creating it if cfg says so). The
// endpoint must answer before ctx is done.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, fmt.Errorf("archive: s3: endpoint and bucket are required")
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, fmt.Errorf("archive: s3: an access key needs a secret key and a secret key an access key")
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	name := "s3://" + cfg.Endpoint + "/" + cfg.Bucket
	if !cfg.Secure {
		name += "?secure=false"
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    cfg.Secure,
		Region:    cfg.Region,
		Transport: cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("archive: %s: %w", name, err)
	}
	s := &S3{c: c, cfg: cfg, name: name}
	exists, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("archive: %s: checking the bucket: %w", name, s.err(ctx, err))
	}
	if !exists {
		if !cfg.CreateBucket {
			return nil, fmt.Errorf("%w: %s (create it, or ask for it to be created)", ErrNoBucket, name)
		}
		err := c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region})
		if err != nil && minio.ToErrorResponse(err).Code != minio.BucketAlreadyOwnedByYou {
			return nil, fmt.Errorf("archive: %s: creating the bucket: %w", name, s.err(ctx, err))
		}
	}
	return s, nil
}

// String implements Backend: the endpoint and bucket, never the keys.
func (s *S3) String() string {
	return s.name
}

// Put implements Backend. Objects larger than the part size go up in parts.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("archive: negative size %d", size)
	}
	er := &exactReader{r: r, left: size}
	_, err := s.c.PutObject(ctx, s.cfg.Bucket, key, er, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		PartSize:    s.cfg.PartSize,
		// minio-go signs an empty body over plain HTTP as an aws-chunked stream sent
		// without a Content-Length, which S3 refuses (411); unsigned, it sends
		// "Content-Length: 0". An empty body has nothing to protect.
		DisableContentSha256: size == 0,
	})
	if er.err != nil {
		return er.err // the reader's error, whatever minio-go made of it
	}
	return s.err(ctx, err)
}

// Get implements Backend.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	rc, _, _, err := minio.Core{Client: s.c}.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.err(ctx, err)
	}
	return rc, nil
}

// Stat implements Backend.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := CheckKey(key); err != nil {
		return Info{}, err
	}
	oi, err := s.c.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s.err(ctx, err)
	}
	return Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// List implements Backend, over ListObjectsV2 (which lists in key order).
func (s *S3) List(ctx context.Context, prefix string, fn func(Info) error) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends minio-go's listing when fn stops early
	for oi := range s.c.ListObjectsIter(lctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if oi.Err != nil {
			return s.err(ctx, oi.Err)
		}
		if err := fn(Info{Key: oi.Key, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Delete implements Backend.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	return s.err(ctx, s.c.RemoveObject(ctx, s.cfg.Bucket, key, minio.RemoveObjectOptions{}))
}

// err wraps an error of minio-go with the package's sentinel errors: ErrNotFound, ErrNoBucket,
// ErrFull, ErrUnreachable.
func (s *S3) err(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	switch minio.ToErrorResponse(err).Code {
	case minio.NoSuchKey:
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case minio.NoSuchBucket:
		return fmt.Errorf("%w: %s: %w", ErrNoBucket, s.name, err)
	case "XMinioStorageFull":
		return fmt.Errorf("%w: %s: %w", ErrFull, s.name, err)
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var urlErr *url.Error
	switch {
	case errors.As(err, &opErr), errors.As(err, &dnsErr):
		return fmt.Errorf("%w: %s: %w", ErrUnreachable, s.cfg.Endpoint, err)
	case errors.Is(ctx.Err(), context.DeadlineExceeded) && (errors.As(err, &urlErr) || errors.Is(err, ctx.Err())):
		return fmt.Errorf("%w: %s: no answer before the deadline: %w", ErrUnreachable, s.cfg.Endpoint, err)
	}
	return err
}

// exactReader passes on exactly left bytes of r and fails if r yields fewer or more; it keeps
// its error so that Put can tell the caller's reader's failure from the endpoint's.
type exactReader struct {
	r    io.Reader
	left int64
	err  error
}

// Read implements io.Reader.
func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left == 0 {
		var extra [1]byte
		if n, _ := io.ReadFull(e.r, extra[:]); n > 0 {
			e.err = fmt.Errorf("%w: reader has more bytes than the size", errInput)
			return 0, e.err
		}
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case errors.Is(err, io.EOF) && e.left > 0:
		e.err = fmt.Errorf("%w: reader ended %d bytes short of the size", errInput, e.left)
	case err != nil && !errors.Is(err, io.EOF):
		e.err = err
	}
	if e.err != nil {
		return n, e.err
	}
	return n, nil
}
