package archive

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The environment variables Open takes the S3 keys from when the spec has none.
const (
	EnvAccessKey = "STRATA_ARCHIVE_ACCESS_KEY"
	EnvSecretKey = "STRATA_ARCHIVE_SECRET_KEY"
)

// Open returns the Store that spec names:
//
//	/path/to/dir, dir, file:///path/to/dir       a local directory (created if missing)
//	s3://host:port/bucket?secure=false&...        a bucket of an S3-API endpoint
//
// An s3 spec takes the query parameters access_key and secret_key (else the environment's
// STRATA_ARCHIVE_ACCESS_KEY and STRATA_ARCHIVE_SECRET_KEY), secure (true, the default, for
// HTTPS), region, and create_bucket (false by default). Open checks that the bucket exists
// (or creates it), so an unreachable endpoint fails here, within ctx. No error it returns,
// nor the Store's String, shows a key.
func Open(ctx context.Context, spec string) (*Store, error) {
	return openWith(ctx, spec, os.Getenv)
}

// openWith is Open with getenv in place of os.Getenv.
func openWith(ctx context.Context, spec string, getenv func(string) string) (*Store, error) {
	p, err := parseSpec(spec, getenv)
	if err != nil {
		return nil, err
	}
	var b Backend
	if p.s3 != nil {
		b, err = NewS3(ctx, *p.s3)
	} else {
		b, err = NewLocal(p.dir)
	}
	if err != nil {
		return nil, err
	}
	return NewStore(b), nil
}

// parsedSpec is what a spec names: a local directory or an S3 bucket.
type parsedSpec struct {
	dir string
	s3  *S3Config
}

// s3Params are the query parameters an s3 spec may have.
var s3Params = []string{"access_key", "secret_key", "secure", "region", "create_bucket"}

// parseSpec reads spec, taking missing S3 keys from getenv.
func parseSpec(spec string, getenv func(string) string) (parsedSpec, error) {
	scheme, rest, hasScheme := strings.Cut(spec, "://")
	switch {
	case spec == "":
		return parsedSpec{}, fmt.Errorf("%w: empty", ErrBadSpec)
	case !hasScheme:
		return parsedSpec{dir: filepath.Clean(spec)}, nil
	case scheme == "file":
		return parseFile(spec)
	case scheme == "s3":
		return parseS3(rest, getenv)
	}
	return parsedSpec{}, fmt.Errorf("%w: unknown scheme %q (want a path, file:///path or s3://host:port/bucket)",
		ErrBadSpec, scheme)
}

// parseFile reads file:///path (or file://localhost/path).
func parseFile(spec string) (parsedSpec, error) {
	u, err := url.Parse(spec)
	if err != nil {
		return parsedSpec{}, fmt.Errorf("%w: %s: %w", ErrBadSpec, redact(spec), err)
	}
	if u.Host != "" && u.Host != "localhost" {
		return parsedSpec{}, fmt.Errorf("%w: file spec with host %q: want file:///path", ErrBadSpec, u.Host)
	}
	if u.RawQuery != "" || u.Fragment != "" || !strings.HasPrefix(u.Path, "/") {
		return parsedSpec{}, fmt.Errorf("%w: %s: want file:///absolute/path and nothing after it", ErrBadSpec, redact(spec))
	}
	return parsedSpec{dir: filepath.Clean(filepath.FromSlash(u.Path))}, nil
}

// parseS3 reads host[:port]/bucket[?query]; rest follows "s3://". Its errors never show the
// query, which may hold keys.
func parseS3(rest string, getenv func(string) string) (parsedSpec, error) {
	loc, rawQuery, _ := strings.Cut(rest, "?")
	host, path, _ := strings.Cut(loc, "/")
	shown := "s3://" + loc
	if strings.Contains(host, "@") {
		return parsedSpec{}, fmt.Errorf("%w: s3 spec with user information (not shown): give keys as access_key and secret_key, or in %s and %s",
			ErrBadSpec, EnvAccessKey, EnvSecretKey)
	}
	bucket := strings.TrimSuffix(path, "/")
	if host == "" || bucket == "" || strings.Contains(bucket, "/") {
		return parsedSpec{}, fmt.Errorf("%w: %s: want s3://host:port/bucket", ErrBadSpec, shown)
	}
	if _, err := url.Parse("//" + host); err != nil {
		return parsedSpec{}, fmt.Errorf("%w: %s: bad host %q", ErrBadSpec, shown, host)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return parsedSpec{}, fmt.Errorf("%w: %s: bad query string (not shown: it may hold keys)", ErrBadSpec, shown)
	}
	for name, vals := range q {
		if !slices.Contains(s3Params, name) {
			return parsedSpec{}, fmt.Errorf("%w: %s: unknown parameter %q (known: %s)",
				ErrBadSpec, shown, name, strings.Join(s3Params, ", "))
		}
		if len(vals) != 1 {
			return parsedSpec{}, fmt.Errorf("%w: %s: parameter %q given %d times", ErrBadSpec, shown, name, len(vals))
		}
	}
	cfg := &S3Config{
		Endpoint:  host,
		Bucket:    bucket,
		AccessKey: q.Get("access_key"),
		SecretKey: q.Get("secret_key"),
		Region:    q.Get("region"),
		Secure:    true,
	}
	if cfg.AccessKey == "" {
		cfg.AccessKey = getenv(EnvAccessKey)
	}
	if cfg.SecretKey == "" {
		cfg.SecretKey = getenv(EnvSecretKey)
	}
	for name, dst := range map[string]*bool{"secure": &cfg.Secure, "create_bucket": &cfg.CreateBucket} {
		if !q.Has(name) {
			continue
		}
		v, err := strconv.ParseBool(q.Get(name))
		if err != nil {
			return parsedSpec{}, fmt.Errorf("%w: %s: %s=%q: want true or false", ErrBadSpec, shown, name, q.Get(name))
		}
		*dst = v
	}
	return parsedSpec{s3: cfg}, nil
}

// redact returns spec without what may hold secrets: user information and the query.
func redact(spec string) string {
	spec, _, _ = strings.Cut(spec, "?")
	if scheme, rest, ok := strings.Cut(spec, "://"); ok {
		if i := strings.IndexByte(rest, '@'); i >= 0 && i < strings.IndexByte(rest+"/", '/') {
			rest = rest[i+1:]
		}
		spec = scheme + "://" + rest
	}
	return spec
}
