package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/wal"
)

func newLogCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "log", Short: "Inspect the redo log of a data directory"}
	var dir string
	var from uint64
	var limit int
	dump := &cobra.Command{
		Use:   "dump",
		Short: "Print the redo records of the local log, one per line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := singleDataDir(dir); err != nil {
				return fmt.Errorf("strata log dump: %w", err)
			}
			return dumpLog(cmd.Context(), cmd.OutOrStdout(), filepath.Join(dir, "wal"), page.LSN(from), limit)
		},
	}
	dump.Flags().StringVar(&dir, "data", "strata-data", "data directory")
	dump.Flags().Uint64Var(&from, "from", 0, "first LSN to print (default: the first retained)")
	dump.Flags().IntVar(&limit, "limit", 1000, "stop after this many records (0: no limit)")
	cmd.AddCommand(dump)
	return cmd
}

func dumpLog(ctx context.Context, w io.Writer, dir string, from page.LSN, limit int) error {
	l, err := wal.Open(wal.Options{Dir: dir})
	if err != nil {
		return err
	}
	defer l.Close()
	if from == 0 || from < l.First() {
		from = l.First()
	}
	end := l.Durable()
	fmt.Fprintf(w, "# log %s: LSN %d to %d\n", dir, l.First(), end)
	var carry []byte
	pos, n := from, 0
	for pos+page.LSN(len(carry)) < end {
		b, err := l.Read(ctx, pos+page.LSN(len(carry)), 1<<20)
		if err != nil {
			return err
		}
		carry = append(carry, b...)
		off := 0
		for {
			r, size, err := redo.Decode(carry[off:])
			if errors.Is(err, redo.ErrShort) {
				break
			}
			if err != nil {
				return fmt.Errorf("LSN %d: %w", pos+page.LSN(off), err)
			}
			end := ""
			if r.GroupEnd() {
				end = " end"
			}
			fmt.Fprintf(w, "%d %s page=%d len=%d%s\n", pos+page.LSN(off), r.Type, r.Page, len(r.Payload), end)
			off += size
			if n++; limit > 0 && n >= limit {
				return nil
			}
		}
		pos += page.LSN(off)
		carry = append(carry[:0], carry[off:]...)
	}
	return nil
}
