package route

// Backend is what the edge knows of one RO when it routes a read.
type Backend struct {
	// ID names the RO (its node ID).
	ID string
	// Applied is the LSN up to which it has applied the redo (its read view).
	Applied LSN
	// InFlight is the number of statements the proxy has running on it.
	InFlight int
	// Last: the session's previous read went to this RO, whose connection is in the
	// session's state.
	Last bool
}

// Choice is where a read goes.
type Choice struct {
	// Index is the chosen RO in the slice given to Choose, or -1 for the RW.
	Index int
	// Need is the LSN the RO must have applied.
	Need LSN
	// Wait: no RO has reached Need yet; Index is the most caught-up one, and the edge waits
	// a bounded time for it to reach Need before sending the read to the RW instead.
	Wait bool
}

// Choose picks the RO for decision d among those that have applied what d requires: the
// session's last RO, else the least loaded (ties: the first; any of them answers the read
// alike, so the edge gives each session its own order). A session thus keeps to one RO:
// moving it costs its connection's state there (a reset and the session's replay), which
// balancing each read paid at almost every statement. durable is the RW's durable LSN
// the edge fetched when d.NeedDurable. With no RO, or for a decision that is not for an RO,
// it answers the RW.
func Choose(d Decision, durable LSN, ros []Backend) Choice {
	c := Choice{Index: -1, Need: d.MinLSN}
	if d.Target != RO {
		return c
	}
	if d.NeedDurable && durable > c.Need {
		c.Need = durable
	}
	best, behind := -1, -1
	for i, b := range ros {
		if b.Applied < c.Need {
			if behind < 0 || b.Applied > ros[behind].Applied {
				behind = i
			}
			continue
		}
		if best < 0 || b.InFlight < ros[best].InFlight {
			best = i
		}
	}
	if best >= 0 {
		for i, b := range ros {
			if b.Last && b.Applied >= c.Need {
				best = i
			}
		}
	}
	switch {
	case best >= 0:
		c.Index = best
	case behind >= 0:
		c.Index, c.Wait = behind, true
	}
	return c
}
