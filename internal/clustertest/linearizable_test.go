package clustertest

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// regInput is one operation on register key: a read, a write of value, or a compare-and-set
// from expect to value.
type regInput struct {
	op     byte // 'r', 'w', 'c'
	key    int
	value  int
	expect int
}

// regOutput is its answer; unknown: the client does not know whether it took effect.
type regOutput struct {
	value   int
	ok      bool
	unknown bool
}

// registerModel is a set of integer registers (one partition per key), starting at 0.
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		by := map[int][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(regInput).key
			by[k] = append(by[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range by {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return 0 },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(int), input.(regInput), output.(regOutput)
		switch in.op {
		case 'r':
			return out.value == s, s
		case 'w':
			return true, in.value // an unknown write may be placed last: no one saw it
		default: // 'c'
			switch {
			case out.unknown:
				if s == in.expect {
					return true, in.value
				}
				return true, s
			case out.ok:
				return s == in.expect, in.value
			default:
				return s != in.expect, s
			}
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(regInput), output.(regOutput)
		res := fmt.Sprint(out.ok)
		if out.unknown {
			res = "unknown"
		}
		switch in.op {
		case 'r':
			return fmt.Sprintf("get(%d) -> %d", in.key, out.value)
		case 'w':
			return fmt.Sprintf("put(%d, %d) -> %s", in.key, in.value, res)
		default:
			return fmt.Sprintf("cas(%d, %d→%d) -> %s", in.key, in.expect, in.value, res)
		}
	},
}

// history collects operations.
type history struct {
	mu   sync.Mutex
	base time.Time
	ops  []porcupine.Operation
	n    map[string]int
}

func (h *history) count(kind string) {
	h.mu.Lock()
	h.n[kind]++
	h.mu.Unlock()
}

func (h *history) add(op porcupine.Operation, kind string) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.n[kind]++
	h.mu.Unlock()
}

// registerClient runs operations on keys [0, keys) through its own connection pool until ctx
// ends. Reads that fail are dropped (they changed nothing); writes that fail before reaching
// the server are dropped; other failed writes are unknown, with no return (they may take
// effect at any time after their call).
func registerClient(ctx context.Context, db *sql.DB, id, keys int, h *history) {
	rng := rand.New(rand.NewPCG(uint64(id), 99))
	seq := 0
	for ctx.Err() == nil {
		seq++
		in := regInput{key: rng.IntN(keys), value: id*10_000_000 + seq}
		switch r := rng.IntN(10); {
		case r < 4:
			in.op = 'r'
		case r < 7:
			in.op = 'w'
		default:
			in.op = 'c'
		}
		var out regOutput
		var err error
		call := time.Since(h.base).Nanoseconds()
		switch in.op {
		case 'r':
			err = db.QueryRow("SELECT v FROM reg WHERE k = ?", in.key).Scan(&out.value)
		case 'w':
			_, err = db.Exec("UPDATE reg SET v = ? WHERE k = ?", in.value, in.key)
			out.ok = err == nil
		case 'c':
			// Expect what a recent read of this client might see: the current value.
			var cur int
			if err = db.QueryRow("SELECT v FROM reg WHERE k = ?", in.key).Scan(&cur); err != nil {
				h.count("failed read")
				time.Sleep(20 * time.Millisecond)
				continue
			}
			in.expect = cur
			call = time.Since(h.base).Nanoseconds()
			var res sql.Result
			res, err = db.Exec("UPDATE reg SET v = ? WHERE k = ? AND v = ?", in.value, in.key, in.expect)
			if err == nil {
				n, aerr := res.RowsAffected()
				if aerr != nil {
					err = aerr
				}
				out.ok = n == 1
			}
		}
		ret := time.Since(h.base).Nanoseconds()
		switch {
		case err == nil:
			h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret}, "ok")
		case in.op == 'r':
			h.count("failed read")
		case notSent(err):
			h.count("write not sent")
		default:
			out.unknown = true
			h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: math.MaxInt64}, "unknown")
		}
		if err != nil {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
	}
}

// TestLinearizable runs register clients through SQL for ~25 s (minutes with -long) while
// a Log Store, a Page Store and the compute node are SIGKILLed in turn; porcupine must find
// the history linearizable.
func TestLinearizable(t *testing.T) {
	dur := 25 * time.Second
	if *long {
		dur = 3 * time.Minute
	}
	c := startCluster(t)
	h := runRegisters(c, c.newDatabase(0), 5, 6, dur, []string{"logstore", "pagestore", "rw"}, nil)
	checkLinearizable(t, h)
}

// TestLinearizableHotKeys runs many writers on two registers, and transactions that write two
// rows at once, for ~15 s (minutes with -long) while the compute node is SIGKILLed every few
// seconds: each kill finds commits whose groups are durable and others not yet, sharing the
// Log Stores' fsyncs and having released their row locks. Porcupine must find the registers'
// history linearizable; every snapshot, before and after each kill, must see both rows of a
// pair with the same value (a transaction takes effect whole or not at all).
func TestLinearizableHotKeys(t *testing.T) {
	dur := 15 * time.Second
	if *long {
		dur = 2 * time.Minute
	}
	c := startCluster(t)
	db := c.newDatabase(0)
	c.exec(db, "CREATE TABLE pair (k INT PRIMARY KEY, v BIGINT NOT NULL)")
	c.exec(db, "INSERT INTO pair VALUES (0, 0), (1, 0)")
	var torn atomic.Int64
	var pairCommits atomic.Int64
	check := func(db *sql.DB) {
		var lo, hi int64
		if err := db.QueryRow("SELECT MIN(v), MAX(v) FROM pair").Scan(&lo, &hi); err == nil && lo != hi {
			torn.Add(1)
			t.Errorf("a snapshot sees the pair torn: %d and %d", lo, hi)
		}
	}
	pairs := func(ctx context.Context, db *sql.DB, id int) {
		for seq := 1; ctx.Err() == nil; seq++ {
			v := int64(id)*10_000_000 + int64(seq)
			tx, err := db.BeginTx(ctx, nil)
			if err == nil {
				_, err = tx.Exec("UPDATE pair SET v = ? WHERE k = 0", v)
				if err == nil {
					_, err = tx.Exec("UPDATE pair SET v = ? WHERE k = 1", v)
				}
				if err == nil {
					err = tx.Commit()
				} else {
					_ = tx.Rollback()
				}
			}
			if err == nil {
				pairCommits.Add(1)
			} else {
				time.Sleep(20 * time.Millisecond)
			}
			check(db)
		}
	}
	h := runRegisters(c, db, 2, 12, dur, []string{"rw"}, func(ctx context.Context, wg *sync.WaitGroup) {
		for i := 0; i < 6; i++ {
			pdb := c.db("d")
			pdb.SetMaxOpenConns(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				pairs(ctx, pdb, 100+i)
			}()
		}
	})
	check(db)
	t.Logf("pair transactions committed: %d, torn snapshots: %d", pairCommits.Load(), torn.Load())
	if pairCommits.Load() == 0 {
		t.Fatal("no pair transaction committed")
	}
	checkLinearizable(t, h)
}

// runRegisters runs register clients on keys [0, keys) of a table it makes in db for dur, and
// whatever more starts (if set), while the victims are SIGKILLed in turn every few seconds (a Log Store or a
// Page Store picked at random, or the compute node, "rw"); it returns once every node is up
// again, with the registers' history.
func runRegisters(c *cluster, db *sql.DB, keys, clients int, dur time.Duration, victims []string, more func(context.Context, *sync.WaitGroup)) *history {
	c.exec(db, "CREATE TABLE reg (k INT PRIMARY KEY, v BIGINT NOT NULL)")
	for k := 0; k < keys; k++ {
		c.exec(db, "INSERT INTO reg VALUES (?, 0)", k)
	}
	h := &history{base: time.Now(), n: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		cdb := c.db("d")
		cdb.SetMaxOpenConns(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			registerClient(ctx, cdb, i, keys, h)
		}()
	}
	if more != nil {
		more(ctx, &wg)
	}
	stopClients := func() {
		cancel()
		wg.Wait()
	}
	defer stopClients()

	// Faults, in turn, every few seconds until the end.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	end := time.Now().Add(dur)
	time.Sleep(3 * time.Second)
	for i := 0; time.Now().Before(end.Add(-5 * time.Second)); i++ {
		v := victims[i%len(victims)]
		if v != "rw" {
			v = fmt.Sprintf("%s-%d", v, 1+rng.IntN(3))
		}
		c.waitAllUp(30 * time.Second)
		c.kill(v)
		time.Sleep(5 * time.Second)
	}
	time.Sleep(time.Until(end))
	stopClients()
	c.waitAllUp(30 * time.Second)
	return h
}

// checkLinearizable fails the test unless porcupine finds h linearizable.
func checkLinearizable(t *testing.T, h *history) {
	t.Helper()
	h.mu.Lock()
	ops := h.ops
	t.Logf("history: %d operations (%v)", len(ops), h.n)
	h.mu.Unlock()
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(registerModel, ops, 2*time.Minute)
	t.Logf("porcupine: %s in %v", res, time.Since(start).Round(time.Millisecond))
	switch res {
	case porcupine.Ok:
	case porcupine.Illegal:
		path := filepath.Join(os.TempDir(), fmt.Sprintf("strata-linearizability-%d.html", time.Now().Unix()))
		if err := porcupine.VisualizePath(registerModel, info, path); err == nil {
			t.Errorf("visualization of the anomaly: %s", path)
		}
		t.Fatal("porcupine found a history that is not linearizable")
	default:
		t.Fatalf("porcupine could not decide within 2 minutes (%s)", res)
	}
}

// TestRegisterModel checks the checker: a stale read is an anomaly; a write whose outcome is
// unknown may or may not have happened.
func TestRegisterModel(t *testing.T) {
	op := func(in regInput, out regOutput, call, ret int64) porcupine.Operation {
		return porcupine.Operation{Input: in, Output: out, Call: call, Return: ret}
	}
	stale := []porcupine.Operation{
		op(regInput{op: 'w', key: 1, value: 5}, regOutput{ok: true}, 0, 10),
		op(regInput{op: 'r', key: 1}, regOutput{value: 0}, 20, 30),
	}
	if porcupine.CheckOperations(registerModel, stale) {
		t.Fatal("a read of an overwritten value after the write returned passed")
	}
	lostCAS := []porcupine.Operation{
		op(regInput{op: 'c', key: 1, expect: 0, value: 7}, regOutput{ok: true}, 0, 10),
		op(regInput{op: 'c', key: 1, expect: 0, value: 8}, regOutput{ok: true}, 20, 30),
	}
	if porcupine.CheckOperations(registerModel, lostCAS) {
		t.Fatal("two successful compare-and-sets from the same value passed")
	}
	unknown := []porcupine.Operation{
		op(regInput{op: 'w', key: 1, value: 5}, regOutput{unknown: true}, 0, math.MaxInt64),
		op(regInput{op: 'r', key: 1}, regOutput{value: 0}, 20, 30),
		op(regInput{op: 'r', key: 1}, regOutput{value: 5}, 40, 50),
	}
	if !porcupine.CheckOperations(registerModel, unknown) {
		t.Fatal("a write with an unknown outcome seen late failed")
	}
	unknownThenGone := append(unknown[:2:2], op(regInput{op: 'r', key: 1}, regOutput{value: 5}, 40, 50),
		op(regInput{op: 'r', key: 1}, regOutput{value: 0}, 60, 70))
	if porcupine.CheckOperations(registerModel, unknownThenGone) {
		t.Fatal("a write seen and then gone passed")
	}
}
