package pagenode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"strata/internal/cluster"
	"strata/internal/meta"
	"strata/internal/pageclient"
	"strata/internal/placement"
)

// AddOptions describe the Page Store Add brings into a cluster.
type AddOptions struct {
	ID           string        // the store's ID ("": the next free pagestore-N)
	Secret       string        // the cluster secret
	StartTimeout time.Duration // how long to wait for the store to run
	Out          io.Writer     // where progress is printed
}

// Add adds a Page Store to the cluster whose control plane mc is, waits for it to run, and
// moves its share of the segments to it, printing each move's progress to opts.Out. Each move:
// the new store copies the segment from its replicas while the database serves, stores its
// redo from the copy position on, and replaces one replica when done. Interrupted, it can be
// run again: it finishes the moves already recorded.
func Add(ctx context.Context, mc *meta.Client, opts AddOptions) error {
	out, secret, id, startWait := opts.Out, opts.Secret, opts.ID, opts.StartTimeout
	p, ok, addrOf, err := cluster.LoadPlacement(ctx, mc)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("the cluster records no segment placement: restart it with this version of strata first")
	}
	if id == "" {
		id = nextPageStoreID(addrOf)
	}
	if _, known := addrOf[id]; !known {
		if err := mc.PutMember(ctx, meta.Member{Role: meta.RolePageStore, ID: id}); err != nil {
			return err
		}
		fmt.Fprintf(out, "added %s to the cluster; waiting for it to run ('strata up' starts it; elsewhere run 'strata pagestore --etcd ... --id %s')\n", id, id)
	}
	addr, err := waitLive(ctx, mc, id, startWait)
	if err != nil {
		return err
	}
	pc, err := pageclient.New(pageclient.Options{Placement: pageclient.Static{Default: []string{addr}},
		SegmentPages: p.SegmentPages, Secret: secret, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer pc.Close()
	var rest []string
	for _, d := range p.Default {
		if a := addrOf[d]; a != "" && d != id {
			rest = append(rest, a)
		}
	}
	used, err := pc.UsedSegments(ctx, rest)
	if err != nil {
		return err
	}
	var planned []uint64
	p, err = mc.UpdatePlacement(ctx, func(cur *placement.Placement, ok bool) error {
		if !ok {
			return errors.New("the placement disappeared")
		}
		next, moves, err := placement.PlanAdd(*cur, used, id)
		if err != nil {
			return err
		}
		*cur, planned = next, moves
		return nil
	})
	if err != nil {
		return err
	}
	var segs []uint64
	for seg, m := range p.Moving {
		if m.To == id {
			segs = append(segs, seg)
		}
	}
	slices.Sort(segs)
	fmt.Fprintf(out, "%s at %s: %d segments in use; moving %d to it: %v (%d newly planned)\n", id, addr, len(used), len(segs), segs, len(planned))
	for i, seg := range segs {
		start := time.Now()
		from := p.Moving[seg].From
		if err := waitCopied(ctx, out, pc, seg); err != nil {
			return err
		}
		if p, err = mc.UpdatePlacement(ctx, func(cur *placement.Placement, _ bool) error { return placement.FinishMove(cur, seg) }); err != nil {
			return err
		}
		fmt.Fprintf(out, "segment %d moved from %s to %s (%d of %d, %.1fs)\n", seg, from, id, i+1, len(segs), time.Since(start).Seconds())
	}
	held := 0
	for _, seg := range used {
		if slices.Contains(p.Replicas(seg), id) {
			held++
		}
	}
	fmt.Fprintf(out, "%s serves %d of the %d segments in use\n", id, held, len(used))
	return nil
}

// nextPageStoreID returns pagestore-N for the first N above every pagestore-M in use.
func nextPageStoreID(addrOf map[string]string) string {
	n := 0
	for id := range addrOf {
		if v, err := strconv.Atoi(strings.TrimPrefix(id, "pagestore-")); err == nil && strings.HasPrefix(id, "pagestore-") {
			n = max(n, v)
		}
	}
	return fmt.Sprintf("pagestore-%d", n+1)
}

// waitLive waits until Page Store id publishes its status and returns its address.
func waitLive(ctx context.Context, mc *meta.Client, id string, d time.Duration) (string, error) {
	deadline := time.Now().Add(d)
	for {
		nodes, err := mc.Nodes(ctx)
		if err != nil {
			return "", err
		}
		for _, n := range nodes {
			if n.Role == meta.RolePageStore && n.ID == id && n.State == meta.StateUp && n.Addr != "" {
				return n.Addr, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("page store %s is not running after %v", id, d)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// waitCopied waits until the store pc talks to serves segment seg, printing the copy's
// progress when it changes.
func waitCopied(ctx context.Context, out io.Writer, pc *pageclient.Client, seg uint64) error {
	last := ""
	for {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st := pc.Status(sctx)[0]
		cancel()
		if st.Err == nil {
			if slices.Contains(st.Segments, seg) {
				return nil
			}
			line := fmt.Sprintf("segment %d: waiting for the copy to start", seg)
			for _, c := range st.Copying {
				if c.Segment == seg {
					line = fmt.Sprintf("segment %d: %d of %d pages copied (as of lsn %d)", seg, c.Copied, c.Total, c.From)
				}
			}
			if line != last {
				fmt.Fprintln(out, line)
				last = line
			}
		} else if ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
