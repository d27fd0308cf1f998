package archive

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// secretValue is a secret key the spec tests look for in every message.
const secretValue = "SECRET-VALUE-c0ffee"

// TestParseSpec: local paths and file URLs name a directory; s3 specs name an endpoint,
// bucket, keys (from the query, else the environment), TLS, region and bucket creation; bad
// specs are ErrBadSpec, and no message shows a key.
func TestParseSpec(t *testing.T) {
	env := map[string]string{EnvAccessKey: "env-access", EnvSecretKey: secretValue}
	getenv := func(k string) string { return env[k] }
	noenv := func(string) string { return "" }
	for _, c := range []struct {
		spec   string
		getenv func(string) string
		dir    string
		s3     *S3Config
	}{
		{spec: "/var/archive", dir: "/var/archive"},
		{spec: "rel/dir/", dir: "rel/dir"},
		{spec: "file:///var/archive", dir: "/var/archive"},
		{spec: "file://localhost/var/a%20b", dir: "/var/a b"},
		{spec: "s3://h:9000/bkt", getenv: getenv, s3: &S3Config{Endpoint: "h:9000", Bucket: "bkt",
			AccessKey: "env-access", SecretKey: secretValue, Secure: true}},
		{spec: "s3://h/bkt/", getenv: noenv, s3: &S3Config{Endpoint: "h", Bucket: "bkt", Secure: true}},
		{spec: "s3://h:9000/bkt?secure=false&region=eu-1&create_bucket=true&access_key=A&secret_key=S%2Fx",
			getenv: getenv, s3: &S3Config{Endpoint: "h:9000", Bucket: "bkt", AccessKey: "A", SecretKey: "S/x",
				Region: "eu-1", CreateBucket: true}},
		{spec: "s3://h:9000/bkt?access_key=A", getenv: getenv, s3: &S3Config{Endpoint: "h:9000", Bucket: "bkt",
			AccessKey: "A", SecretKey: secretValue, Secure: true}},
	} {
		if c.getenv == nil {
			c.getenv = noenv
		}
		p, err := parseSpec(c.spec, c.getenv)
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		if c.s3 == nil {
			if p.s3 != nil || p.dir != filepath.FromSlash(c.dir) {
				t.Errorf("%s: %+v, want directory %s", c.spec, p, c.dir)
			}
			continue
		}
		if p.s3 == nil || *p.s3 != *c.s3 {
			t.Errorf("%s: %+v, want %+v", c.spec, p.s3, c.s3)
		}
	}

	for _, spec := range []string{
		"",
		"ftp://h/x",
		"file://otherhost/x",
		"file://relative",
		"file:///x?y=1",
		"s3://h:9000",
		"s3://h:9000/",
		"s3:///bkt",
		"s3://h/bkt/sub",
		"s3://h/bkt?secure=maybe&secret_key=" + secretValue,
		"s3://h/bkt?colour=blue&secret_key=" + secretValue,
		"s3://h/bkt?secret_key=" + secretValue + "&secret_key=" + secretValue,
		"s3://h/bkt?secret_key=%zz" + secretValue,
		"s3://A:" + secretValue + "@h/bkt",
	} {
		_, err := parseSpec(spec, getenv)
		if !errors.Is(err, ErrBadSpec) {
			t.Errorf("%q: %v, want ErrBadSpec", spec, err)
			continue
		}
		if strings.Contains(err.Error(), secretValue) {
			t.Errorf("%q: message shows the secret: %v", spec, err)
		}
	}
}

// TestOpen: Open makes a working store from a local path, a file URL, and an s3 spec with
// keys in the query or the environment; neither its String nor its errors (a missing bucket,
// an unreachable endpoint) show a key.
func TestOpen(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	for _, spec := range []string{filepath.Join(dir, "a"), "file://" + filepath.ToSlash(filepath.Join(dir, "b"))} {
		s, err := Open(ctx, spec)
		if err != nil {
			t.Fatalf("open %s: %v", spec, err)
		}
		put(t, s, "k", []byte("v"))
		if !strings.HasPrefix(s.String(), "file://") {
			t.Errorf("open %s: String %q", spec, s.String())
		}
	}

	f := startFakeS3(t)
	spec := "s3://" + f.addr + "/opened?secure=false&create_bucket=true&access_key=" + testAccessKey +
		"&secret_key=" + testSecretKey
	s, err := Open(ctx, spec)
	if err != nil {
		t.Fatalf("open s3: %v", err)
	}
	put(t, s, "k", []byte("v"))
	if got, err := s.GetAll(ctx, "k", 1); err != nil || string(got) != "v" {
		t.Fatalf("s3 store: %q, %v", got, err)
	}
	if str := s.String(); str != "s3://"+f.addr+"/opened?secure=false" {
		t.Errorf("String %q", str)
	}

	t.Setenv(EnvAccessKey, testAccessKey)
	t.Setenv(EnvSecretKey, testSecretKey)
	s, err = Open(ctx, "s3://"+f.addr+"/opened?secure=false")
	if err != nil {
		t.Fatalf("open s3 with keys from the environment: %v", err)
	}
	if got, err := s.GetAll(ctx, "k", 1); err != nil || string(got) != "v" {
		t.Fatalf("s3 store opened with keys from the environment: %q, %v", got, err)
	}
	b := s.Backend().(*S3)
	if b.cfg.AccessKey != testAccessKey || b.cfg.SecretKey != testSecretKey {
		t.Fatalf("keys not taken from the environment")
	}

	for what, c := range map[string]struct {
		spec string
		want error
	}{
		"missing bucket": {"s3://" + f.addr + "/not-there?secure=false&secret_key=" + testSecretKey, ErrNoBucket},
		"unreachable":    {"s3://" + closedPort(t) + "/b-x?secure=false&secret_key=" + testSecretKey, ErrUnreachable},
	} {
		_, err := Open(ctx, c.spec)
		if !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", what, err, c.want)
		}
		if strings.Contains(err.Error(), testSecretKey) || strings.Contains(err.Error(), testAccessKey) {
			t.Errorf("%s: message shows a key: %v", what, err)
		}
	}
}
