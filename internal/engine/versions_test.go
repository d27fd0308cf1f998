package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// A key with many versions (old snapshots keep them) reads right at every snapshot, forward
// and reverse, over the whole tree and over ranges: a forward iterator seeks past the versions
// it does not need instead of stepping over each (seekAfter), and must land on the same rows.
func TestIterManyVersions(t *testing.T) {
	db := openMem(t, &memEnv{}, 256)
	ctx := context.Background()
	tree := mustTree(t, db, "t")
	keys := []string{"a", "b", "b\x00", "c", "d"}
	const rounds = 40
	// want[i] is what a snapshot taken after round i sees, as scanStr prints it.
	var want []string
	var snaps []*Txn
	state := map[string]string{}
	for r := range rounds {
		tx := begin(t, db, TxnOptions{})
		for i, k := range keys {
			switch {
			case k == "c" && r%10 == 5: // deleted now and then, and written again
				if err := tx.Delete(ctx, tree, []byte(k)); err != nil {
					t.Fatal(err)
				}
				delete(state, k)
			case k == "d" && r > 3 && r < 30: // not written in the middle rounds
			case i%2 == 0 || r%3 != 0:
				v := fmt.Sprintf("%s%d", k, r)
				if err := tx.Put(ctx, tree, []byte(k), []byte(v)); err != nil {
					t.Fatal(err)
				}
				state[k] = v
			}
		}
		mustCommit(t, tx)
		var b strings.Builder
		for _, k := range keys {
			if v, ok := state[k]; ok {
				fmt.Fprintf(&b, "%s=%s ", k, v)
			}
		}
		want = append(want, b.String())
		snaps = append(snaps, begin(t, db, TxnOptions{ReadOnly: true}))
		if _, _, err := snaps[r].Get(ctx, tree, []byte("a")); err != nil { // takes its snapshot now
			t.Fatal(err)
		}
	}
	if n := countVersions(t, db, tree); n < rounds*len(keys)/2 {
		t.Fatalf("only %d versions kept: the test needs many", n)
	}
	reverse := func(s string) string {
		f := strings.Fields(s)
		for i, j := 0, len(f)-1; i < j; i, j = i+1, j-1 {
			f[i], f[j] = f[j], f[i]
		}
		if len(f) == 0 {
			return ""
		}
		return strings.Join(f, " ") + " "
	}
	inRange := func(s, lo, hi string) string {
		var out []string
		for _, kv := range strings.Fields(s) {
			k := kv[:strings.IndexByte(kv, '=')]
			if k >= lo && (hi == "" || k < hi) {
				out = append(out, kv)
			}
		}
		if len(out) == 0 {
			return ""
		}
		return strings.Join(out, " ") + " "
	}
	for r, tx := range snaps {
		for _, rg := range [][2]string{{"", ""}, {"b", "c"}, {"b\x00", ""}, {"c", "d"}, {"a", "b"}} {
			w := inRange(want[r], rg[0], rg[1])
			lo := rg[0]
			if lo == "" {
				lo = "\x00" // scanStr's "" is no bound; the keys are all above it
			}
			if got := scanStr(t, tx, tree, lo, rg[1], false); got != w {
				t.Fatalf("snapshot %d, [%q, %q) forward: %q, want %q", r, rg[0], rg[1], got, w)
			}
			if got := scanStr(t, tx, tree, lo, rg[1], true); got != reverse(w) {
				t.Fatalf("snapshot %d, [%q, %q) reverse: %q, want %q", r, rg[0], rg[1], got, reverse(w))
			}
		}
		tx.Rollback()
	}
}

// BenchmarkHotKeyScan reads one key that has 500 versions (open snapshots keep them) through
// an iterator over its one-key range: at the newest snapshot (its newest version, then the
// older ones to step over or seek past) and at the oldest (the newer ones first). The baseline
// reads a key with one version in the same engine.
//
//	go test ./internal/engine -run '^$' -bench HotKeyScan -benchtime 2000x -count 3
func BenchmarkHotKeyScan(b *testing.B) {
	db := openMem(b, &memEnv{}, 1024)
	ctx := context.Background()
	tree := mustTree(b, db, "t")
	tx := begin(b, db, TxnOptions{})
	for _, k := range []string{"cold", "hot", "hot2"} {
		if err := tx.Put(ctx, tree, []byte(k), []byte("v0")); err != nil {
			b.Fatal(err)
		}
	}
	mustCommit(b, tx)
	oldest := begin(b, db, TxnOptions{ReadOnly: true})
	if _, _, err := oldest.Get(ctx, tree, []byte("hot")); err != nil {
		b.Fatal(err)
	}
	const versions = 500
	var held []*Txn
	for i := range versions - 1 {
		tx := begin(b, db, TxnOptions{})
		if err := tx.Put(ctx, tree, []byte("hot"), []byte(fmt.Sprintf("v%d", i+1))); err != nil {
			b.Fatal(err)
		}
		mustCommit(b, tx)
		if i%50 == 0 { // snapshots along the way keep the versions between them
			h := begin(b, db, TxnOptions{ReadOnly: true})
			if _, _, err := h.Get(ctx, tree, []byte("hot")); err != nil {
				b.Fatal(err)
			}
			held = append(held, h)
		}
	}
	defer func() {
		for _, h := range held {
			h.Rollback()
		}
		oldest.Rollback()
	}()
	newest := begin(b, db, TxnOptions{ReadOnly: true})
	defer newest.Rollback()
	read := func(b *testing.B, tx *Txn, key, want string) {
		for b.Loop() {
			if got := scanStr(b, tx, tree, key, key+"\x00", false); got != key+"="+want+" " {
				b.Fatalf("%s: %q, want %s", key, got, want)
			}
		}
	}
	b.Run("newest", func(b *testing.B) { read(b, newest, "hot", fmt.Sprintf("v%d", versions-1)) })
	b.Run("oldest", func(b *testing.B) { read(b, oldest, "hot", "v0") })
	b.Run("baseline=one-version", func(b *testing.B) { read(b, newest, "cold", "v0") })
}
