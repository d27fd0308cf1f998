package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// History is the cluster's history settings: how far back the database can be read (AS OF,
// point-in-time restore). docs/history.md.
type History struct {
	// Window is the history window: the Page Stores keep what reading any moment this far
	// back needs. 0 keeps only what running transactions need.
	Window time.Duration `json:"window"`
}

// DefaultHistoryWindow is the history window of a cluster that recorded none.
const DefaultHistoryWindow = time.Hour

// MaxHistoryWindow bounds the history window (a year).
const MaxHistoryWindow = 366 * 24 * time.Hour

func (k keys) history() string { return k.prefix + "history" }

// History returns the history settings; ErrNotFound when none were recorded.
func (c *Client) History(ctx context.Context) (History, error) {
	var h History
	return h, c.getJSON(ctx, c.k.history(), &h)
}

// SetHistory records the history settings.
func (c *Client) SetHistory(ctx context.Context, h History) error {
	if h.Window < 0 || h.Window > MaxHistoryWindow {
		return fmt.Errorf("meta: a history window of %s is not in [0, %s]", h.Window, MaxHistoryWindow)
	}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if _, err := c.c.Put(ctx, c.k.history(), string(b)); err != nil {
		return fmt.Errorf("meta: record the history settings: %w", err)
	}
	return nil
}

// HistoryWindow returns the recorded history window, or def when none was recorded.
func (c *Client) HistoryWindow(ctx context.Context, def time.Duration) (time.Duration, error) {
	h, err := c.History(ctx)
	if errors.Is(err, ErrNotFound) {
		return def, nil
	}
	return h.Window, err
}
