package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/quorum"
	"strata/internal/redo"
	"strata/internal/segfile"
)

// stateFile holds the store's durable protocol state: the promised epoch, the history and the
// committed LSN. It is replaced atomically (temporary file, sync, rename, directory sync).
const stateFile = "STATE"

const stateMagic = 0x5354524c // "STRL"

// persisted is what the state file holds.
type persisted struct {
	Promised  uint64
	Committed page.LSN
	History   []quorum.Term
	// Synced is an LSN below which every byte of the log was synced when the file was written
	// (0: unknown). At open, damage below it is bit rot to repair, not a torn tail to cut.
	Synced page.LSN
	// Start is where the log begins when StartAt restarted it (0: redo.StartLSN). Segments
	// below it are leftovers of an interrupted restart, removed at open.
	Start page.LSN
	// FillTo: after StartAt, the writer's committed LSN then; until the log's durable end
	// reaches it the store may lack bytes it acknowledged before it lost its log, and a new
	// writer's recovery does not count it (0: not filling).
	FillTo page.LSN
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encode returns the file image: magic u32, crc32c u32 of the rest, promised u64, committed
// u64, term count u32, then epoch u64 and start u64 per term, then synced u64, then start u64
// and fill-to u64 (absent in files written before they existed, and written only when one of
// them is set).
func (p persisted) encode() []byte {
	b := make([]byte, 8, 52+16*len(p.History))
	b = binary.LittleEndian.AppendUint64(b, p.Promised)
	b = binary.LittleEndian.AppendUint64(b, uint64(p.Committed))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(p.History)))
	for _, t := range p.History {
		b = binary.LittleEndian.AppendUint64(b, t.Epoch)
		b = binary.LittleEndian.AppendUint64(b, uint64(t.Start))
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(p.Synced))
	if p.Start != 0 || p.FillTo != 0 {
		b = binary.LittleEndian.AppendUint64(b, uint64(p.Start))
		b = binary.LittleEndian.AppendUint64(b, uint64(p.FillTo))
	}
	binary.LittleEndian.PutUint32(b, stateMagic)
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(b[8:], castagnoli))
	return b
}

func decodeState(b []byte) (persisted, error) {
	var p persisted
	if len(b) < 28 || binary.LittleEndian.Uint32(b) != stateMagic {
		return p, fmt.Errorf("logstore: state file: bad header (%d bytes)", len(b))
	}
	if got, want := binary.LittleEndian.Uint32(b[4:]), crc32.Checksum(b[8:], castagnoli); got != want {
		return p, fmt.Errorf("logstore: state file: crc %08x, computed %08x", got, want)
	}
	p.Promised = binary.LittleEndian.Uint64(b[8:])
	p.Committed = page.LSN(binary.LittleEndian.Uint64(b[16:]))
	n := binary.LittleEndian.Uint32(b[24:])
	size := 28 + 16*uint64(n)
	switch uint64(len(b)) {
	case size:
	case size + 8:
		p.Synced = page.LSN(binary.LittleEndian.Uint64(b[size:]))
	case size + 24:
		p.Synced = page.LSN(binary.LittleEndian.Uint64(b[size:]))
		p.Start = page.LSN(binary.LittleEndian.Uint64(b[size+8:]))
		p.FillTo = page.LSN(binary.LittleEndian.Uint64(b[size+16:]))
	default:
		return p, fmt.Errorf("logstore: state file: %d terms in %d bytes", n, len(b))
	}
	for i := uint32(0); i < n; i++ {
		o := 28 + 16*int(i)
		p.History = append(p.History, quorum.Term{
			Epoch: binary.LittleEndian.Uint64(b[o:]),
			Start: page.LSN(binary.LittleEndian.Uint64(b[o+8:])),
		})
	}
	if err := quorum.Validate(p.History); err != nil {
		return p, fmt.Errorf("logstore: state file: %w", err)
	}
	return p, nil
}

// state returns what the state file must hold for c: durable is always synced, so it is a valid
// Synced mark whenever the state is written.
func (c *core) state() persisted {
	p := persisted{Promised: c.promised, Committed: c.committed, History: c.history, Synced: c.durable, FillTo: c.fillTo}
	if c.start != redo.StartLSN {
		p.Start = c.start
	}
	return p
}

// readState reads the state file in dir; a missing file is the zero state.
func readState(fs vfs.FS, dir string) (persisted, error) {
	f, err := fs.Open(fs.PathJoin(dir, stateFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return persisted{}, nil
		}
		return persisted{}, fmt.Errorf("logstore: open state: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return persisted{}, fmt.Errorf("logstore: read state: %w", err)
	}
	return decodeState(b)
}

// writeState replaces the state file in dir durably.
func writeState(fs vfs.FS, dir string, p persisted) error {
	path := fs.PathJoin(dir, stateFile)
	tmp := path + ".tmp"
	f, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("logstore: create state: %w", err)
	}
	b := p.encode()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("logstore: write state: %w", err)
	}
	return syncDir(fs, dir)
}

// syncDir makes the creation, renaming or removal of files in dir durable.
func syncDir(fs vfs.FS, dir string) error {
	if err := segfile.SyncDir(fs, dir); err != nil {
		return fmt.Errorf("logstore: %w", err)
	}
	return nil
}
