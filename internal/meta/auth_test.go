package meta

import (
	"context"
	"errors"
	"testing"
)

// TestAuth starts the embedded etcd with a password: a client without it can neither read nor
// bump the epoch, a client with another secret's password cannot connect, and the right one
// works, also after a restart (when the server checks, rather than sets, the password).
func TestAuth(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pw := PasswordFromSecret("s3cret")
	start := func(password string) (*Server, error) {
		return StartServer(ctx, ServerOptions{Dir: dir, Logger: quiet(), Password: password})
	}
	s, err := start(pw)
	if err != nil {
		t.Fatal(err)
	}
	good, err := Dial(ctx, ClientOptions{Endpoints: s.Endpoints(), Logger: quiet(), Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := good.BumpEpoch(ctx); err != nil || e != 1 {
		t.Fatalf("BumpEpoch with the password = %d, %v", e, err)
	}
	good.Close()
	if c, err := Dial(ctx, ClientOptions{Endpoints: s.Endpoints(), Logger: quiet()}); err == nil {
		_, berr := c.BumpEpoch(ctx)
		c.Close()
		t.Fatalf("a client without the password connected (BumpEpoch: %v)", berr)
	}
	if _, err := Dial(ctx, ClientOptions{Endpoints: s.Endpoints(), Logger: quiet(), Password: PasswordFromSecret("other")}); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("Dial with another secret's password = %v, want ErrWrongPassword", err)
	}
	s.Close()

	if _, err := start(PasswordFromSecret("other")); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("restart with another secret = %v, want ErrWrongPassword", err)
	}
	s, err = start(pw)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := Dial(ctx, ClientOptions{Endpoints: s.Endpoints(), Logger: quiet(), Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if e, err := c.Epoch(ctx); err != nil || e != 1 {
		t.Fatalf("epoch after restart = %d, %v", e, err)
	}
}
