package pageclient_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"strata/internal/page"
	"strata/internal/pageapi/pageserverpb"
	"strata/internal/pageclient"
	"strata/internal/pageserver/pstest"
	"strata/internal/storage"
)

// BenchmarkGetPage measures GetPage@LSN latency (p50, p99) in one run: on the in-process
// store, through the loopback gRPC service with a bare client, and through pageclient over
// three replicas (hedging, checksum verification). "latest" reads random pages at the log's
// end (the buffer pool's miss); "history" reads them at random positions.
func BenchmarkGetPage(b *testing.B) {
	w := pstest.NewWorkload(7, 1, 64)
	if err := w.Groups(3000); err != nil {
		b.Fatal(err)
	}
	end := w.Log.End()
	var reps []*pstest.Replica
	var addrs []string
	for range 3 {
		r := pstest.StartReplica(b, w.Log, secret, nil)
		r.WaitConsumed(b, end)
		reps, addrs = append(reps, r), append(addrs, r.Addr)
	}
	cl, err := pageclient.New(pageclient.Options{Placement: pageclient.Static{Default: addrs}, Secret: secret, Logger: pstest.Discard})
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	bare := pageserverpb.NewPageStoreClient(pstest.Dial(b, reps[0].Addr, secret))
	sources := []struct {
		name string
		src  storage.PageSource
	}{
		{"local", reps[0].Store},
		{"grpc", bareSource{bare}},
		{"pageclient", cl},
	}
	for _, at := range []string{"latest", "history"} {
		for _, s := range sources {
			b.Run(at+"/"+s.name, func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				ctx := context.Background()
				var p page.Page
				lat := make([]time.Duration, 0, 1<<16)
				for b.Loop() {
					id := w.IDs[rng.IntN(len(w.IDs))]
					lsn := end
					if at == "history" {
						lsn = w.Ends[rng.IntN(len(w.Ends))]
					}
					start := time.Now()
					err := s.src.GetPage(ctx, id, lsn, &p)
					lat = append(lat, time.Since(start))
					if err != nil && !errorsIsNotFound(err) {
						b.Fatal(err)
					}
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
			})
		}
	}
}

// bareSource is GetPage through the generated client alone, without pageclient.
type bareSource struct{ c pageserverpb.PageStoreClient }

func (s bareSource) GetPage(ctx context.Context, id page.ID, lsn page.LSN, dst *page.Page) error {
	resp, err := s.c.GetPage(ctx, &pageserverpb.GetPageRequest{Page: uint64(id), Lsn: uint64(lsn)})
	if err != nil {
		return err
	}
	copy(dst[:], resp.GetPage())
	return nil
}

// errorsIsNotFound accepts a page that had no version yet at a historical position, from
// the store or through gRPC.
func errorsIsNotFound(err error) bool {
	return errors.Is(err, storage.ErrPageNotFound) || status.Code(err) == codes.NotFound
}
