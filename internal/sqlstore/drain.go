package sqlstore

import (
	"context"
	"sync"

	"github.com/dolthub/vitess/go/mysql"
)

// Drain lets a server stop taking statements while the ones running finish: a writer that
// hands over in a planned switchover drains before it closes, so that no statement is cut
// off in the middle. Once Start is called, every statement, prepare or execute a client
// sends is refused, unexecuted, with error 1053 (ER_SERVER_SHUTDOWN, SQLSTATE 08S01); the
// Strata proxy takes that error as "not executed" and sends an autocommit statement again
// to the next writer. A transaction open on the server is rolled back when its connection
// closes. The zero Drain is ready to use; it is safe for concurrent use.
type Drain struct {
	mu       sync.Mutex
	draining bool
	running  int
	idle     chan struct{} // closed when draining and nothing runs
}

// errDraining is what a statement sent to a draining server gets.
func errDraining() error {
	return mysql.NewSQLError(mysql.ERServerShutdown, mysql.SSNetError, "Server shutdown in progress")
}

// enter counts a statement in, or refuses it (false) once draining.
func (d *Drain) enter() bool {
	if d == nil {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.draining {
		return false
	}
	d.running++
	return true
}

// exit counts a statement out.
func (d *Drain) exit() {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running--
	if d.draining && d.running == 0 && d.idle != nil {
		close(d.idle)
		d.idle = nil
	}
}

// Start refuses every statement from now on, and waits until the statements running
// finish or ctx ends (its error). Calling it again waits again.
func (d *Drain) Start(ctx context.Context) error {
	d.mu.Lock()
	d.draining = true
	if d.running == 0 {
		d.mu.Unlock()
		return nil
	}
	if d.idle == nil {
		d.idle = make(chan struct{})
	}
	idle := d.idle
	d.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Draining reports whether Start was called.
func (d *Drain) Draining() bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.draining
}

// Running is how many statements run now.
func (d *Drain) Running() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running
}
