package pagestore

import (
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// EventListener receives a store's events, as pebble's does: any field may be nil. A callback
// runs on the goroutine of its event, so it must be quick.
type EventListener struct {
	// GetPage is called when a GetPage call returns.
	GetPage func(GetPageInfo)
}

// GetPageInfo describes one GetPage call.
type GetPageInfo struct {
	// Duration includes the wait for the store to persist the log up to the asked LSN.
	Duration time.Duration
	Err      error
}

// PebbleMetrics returns the metrics of the pebble database under the store.
func (s *Store) PebbleMetrics() (*pebble.Metrics, error) {
	var m *pebble.Metrics
	err := s.withDB(func(db *pebble.DB) error {
		m = db.Metrics()
		return nil
	})
	return m, err
}
