package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"strata/internal/archive"
	"strata/internal/meta"
)

// recordArchive records a new cluster's default archive, changes the recorded settings with
// the flags given alone, leaves an archive turned off as it is, and refuses bad values.
func TestRecordArchive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tmp := t.TempDir()
	ms, err := meta.StartServer(ctx, meta.ServerOptions{Dir: filepath.Join(tmp, "meta"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	mc, err := meta.Dial(ctx, meta.ClientOptions{Endpoints: ms.Endpoints(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	record := func(args ...string) (meta.Archive, error) {
		t.Helper()
		cmd := &cobra.Command{}
		addArchiveFlags(cmd)
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		if err := recordArchive(ctx, cmd, mc, tmp); err != nil {
			return meta.Archive{}, err
		}
		return mc.Archive(ctx)
	}
	def := meta.Archive{Spec: filepath.Join(tmp, "archive"), ChunkDelay: archive.DefaultChunkDelay, BaseBytes: meta.DefaultBaseBytes}
	if a, err := record(); err != nil || a != def {
		t.Fatalf("a new cluster: %+v, %v; want %+v", a, err, def)
	}
	want := def
	want.ChunkDelay = 2 * time.Second
	if a, err := record("--archive-delay", "2s"); err != nil || a != want {
		t.Fatalf("--archive-delay alone: %+v, %v; want %+v", a, err, want)
	}
	want.Keep = 48 * time.Hour
	if a, err := record("--archive-keep", "48h"); err != nil || a != want {
		t.Fatalf("--archive-keep alone: %+v, %v; want %+v", a, err, want)
	}
	if a, err := record(); err != nil || a != want {
		t.Fatalf("no flags: %+v, %v; want the recorded %+v", a, err, want)
	}
	if _, err := record("--archive-keep", "-1h"); err == nil {
		t.Fatal("a negative --archive-keep was taken")
	}
	if a, err := record("--archive", "none"); err != nil || a != (meta.Archive{}) {
		t.Fatalf("--archive none: %+v, %v", a, err)
	}
	if a, err := record("--archive-keep", "1h"); err != nil || a != (meta.Archive{}) {
		t.Fatalf("--archive-keep on a cluster without an archive: %+v, %v", a, err)
	}
}
