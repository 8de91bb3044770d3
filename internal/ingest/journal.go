package ingest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moose-go/moose/internal/olap"
)

// Journal is the Sink of the embedded engine: a write-ahead log in front of
// it. Write appends the rows to the log (one write, and one fsync when
// Sync is set, shared by every request that arrived meanwhile) and returns:
// that is the durable acknowledgement. A flusher then moves everything
// appended into the engine in large batches, so a request never waits for
// the engine's part creation (several ms), and the engine sees few, large
// inserts.
//
// Exactly once across crashes: before inserting LSNs a..b the flusher
// records the intent "I a b" in the manifest, inserts each table's rows of
// that range under the token "<journal id>-a-b-<table>", then records
// "D b". After a crash, replay re-inserts an unfinished range with the same
// tokens (the engine drops blocks it already has: olap.DedupWriter) and
// then everything after it. Log segments are deleted once inserted.
//
// Reads see acknowledged rows: Barrier waits until everything appended
// before it was called is in the engine; the analytics routes call it.
type Journal struct {
	dir     string
	w       Engine
	log     *slog.Logger
	opt     JournalOptions
	id      string
	reqs    chan *walReq
	sendMu  sync.RWMutex  // held shared while sending on reqs; Close takes it to close reqs
	stop    chan struct{} // closed when Close gives up waiting: the flusher stops
	done    chan struct{} // closed when the flusher exits
	written chan struct{} // closed when the writer exits

	mu           sync.Mutex
	changed      chan struct{} // closed and replaced on every state change
	pending      []walRecord   // appended, not yet inserted, in LSN order
	pendingBytes int
	appended     uint64 // highest LSN in the log
	inserted     uint64 // highest LSN in the engine
	replayUntil  uint64 // an unfinished range from before a crash ends here
	closing      bool
	broken       error     // a failed log write: refuse writes until restart
	waiters      int       // queries waiting at the barrier
	oldest       time.Time // when the oldest pending record was appended
	segments     []segment

	// Owned by the writer goroutine.
	nextLSN  uint64
	seg      *os.File
	segBytes int64
	segIndex int

	manifest *os.File // flusher only
}

// Engine is what the journal needs of the store.
type Engine interface {
	olap.DedupWriter
}

// JournalOptions tune a Journal. Zero values take the defaults.
type JournalOptions struct {
	// Sync fsyncs each group of appended records before acknowledging them
	// (survives power loss); without it a 200 survives a process crash only.
	Sync bool
	// MaxPendingBytes bounds rows appended but not yet in the engine;
	// writers wait beyond it (backpressure). Default 32 MiB.
	MaxPendingBytes int
	// MaxBatchBytes bounds one engine insert. Default 8 MiB: the engine's
	// memory for an insert grows with it (peak RSS), while inserts of a few
	// MiB already amortise the per-part cost.
	MaxBatchBytes int
	// SegmentBytes is the size at which a log segment is rotated. Default 64 MiB.
	SegmentBytes int64
	// FlushInterval is how long rows may wait to be batched before they
	// are inserted. Each insert makes an engine part, and creating (and
	// fsyncing) a part also stalls the log's own fsyncs on the same file
	// system: fewer, larger parts measured twice the request rate of 200 ms.
	// Readers never see the wait: a query waiting at the barrier,
	// FlushBytes pending, or Close flush at once. Default 1 s; negative
	// means never wait.
	FlushInterval time.Duration
	// FlushBytes pending trigger an insert at once. Default 4 MiB.
	FlushBytes int
	Observe    BatchObserver
	// ObserveAppend, if set, sees each group append: how many requests it
	// acknowledged and how long the write (and fsync) took.
	ObserveAppend func(requests int, d time.Duration)
}

type walRecord struct {
	lsn   uint64
	table string
	rows  []byte
	n     int
}

type walReq struct {
	table string
	rows  []byte
	n     int
	done  chan error
}

type segment struct {
	path   string
	maxLSN uint64
}

var _ Sink = (*Journal)(nil)

// errStopped ends a flush when Close stops waiting for the engine.
var errStopped = errors.New("journal stopped")

// ErrJournalClosed is returned by Write after Close.
var ErrJournalClosed = errors.New("ingest: journal closed")

// OpenJournal opens (or creates) the log in dir, re-inserts into w
// whatever a previous process acknowledged but had not inserted, and starts
// the writer and the flusher.
func OpenJournal(ctx context.Context, dir string, w Engine, log *slog.Logger, opt JournalOptions) (*Journal, error) {
	if opt.MaxPendingBytes <= 0 {
		opt.MaxPendingBytes = 32 << 20
	}
	if opt.MaxBatchBytes <= 0 {
		opt.MaxBatchBytes = 8 << 20
	}
	if opt.SegmentBytes <= 0 {
		opt.SegmentBytes = 64 << 20
	}
	if opt.FlushInterval == 0 {
		opt.FlushInterval = time.Second
	}
	if opt.FlushBytes <= 0 {
		opt.FlushBytes = 4 << 20
	}
	// Writers held back by MaxPendingBytes must not wait out the interval.
	opt.FlushBytes = min(opt.FlushBytes, max(opt.MaxPendingBytes/2, 1))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{dir: dir, w: w, log: log, opt: opt, reqs: make(chan *walReq, 1024),
		done: make(chan struct{}), written: make(chan struct{}), changed: make(chan struct{}),
		stop: make(chan struct{})}
	id, err := journalID(dir)
	if err != nil {
		return nil, err
	}
	j.id = id
	if err := j.recover(); err != nil {
		return nil, err
	}
	if n := len(j.pending); n > 0 {
		log.Info("journal: replaying acknowledged records not yet in the engine", "records", n)
	}
	go j.writer()
	go j.flusher()
	return j, nil
}

func journalID(dir string) (string, error) {
	p := filepath.Join(dir, "journal.id")
	b, err := os.ReadFile(p)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	var r [8]byte
	rand.Read(r[:])
	id := hex.EncodeToString(r[:])
	if err := writeFileSync(p, []byte(id+"\n")); err != nil {
		return "", fmt.Errorf("journal: %w", err)
	}
	return id, nil
}

// writeFileSync writes a file atomically and durably.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Record framing: u32 payload length, u32 CRC-32C of the payload; payload:
// u64 LSN, u16 table length, table, u32 row count, rows.
const recordHeader = 8

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func appendRecord(buf []byte, lsn uint64, table string, rows []byte, n int) []byte {
	plen := 8 + 2 + len(table) + 4 + len(rows)
	start := len(buf)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(plen))
	buf = binary.LittleEndian.AppendUint32(buf, 0)
	p := len(buf)
	buf = binary.LittleEndian.AppendUint64(buf, lsn)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(table)))
	buf = append(buf, table...)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(n))
	buf = append(buf, rows...)
	binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(buf[p:], crcTable))
	return buf
}

// readRecords reads a segment; it returns the records and the offset of the
// end of the last whole, valid record (a torn tail is cut there).
func readRecords(path string) ([]walRecord, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var out []walRecord
	var off int64
	hdr := make([]byte, recordHeader)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return out, off, nil // EOF or a torn header
		}
		plen := binary.LittleEndian.Uint32(hdr)
		sum := binary.LittleEndian.Uint32(hdr[4:])
		if plen < 14 || plen > 1<<30 {
			return out, off, nil
		}
		p := make([]byte, plen)
		if _, err := io.ReadFull(r, p); err != nil {
			return out, off, nil
		}
		if crc32.Checksum(p, crcTable) != sum {
			return out, off, nil
		}
		lsn := binary.LittleEndian.Uint64(p)
		tl := int(binary.LittleEndian.Uint16(p[8:]))
		if 10+tl+4 > len(p) {
			return out, off, nil
		}
		table := string(p[10 : 10+tl])
		n := int(binary.LittleEndian.Uint32(p[10+tl:]))
		out = append(out, walRecord{lsn: lsn, table: table, rows: p[10+tl+4:], n: n})
		off += recordHeader + int64(plen)
	}
}

func segName(i int) string { return fmt.Sprintf("wal-%08d.log", i) }

// recover reads the manifest and the segments, keeps every record after
// the last finished range as pending, and opens a fresh segment.
func (j *Journal) recover() error {
	var lastDone, intentA, intentB uint64
	mpath := filepath.Join(j.dir, "manifest")
	if b, err := os.ReadFile(mpath); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) == 2 && f[0] == "D":
				if v, err := strconv.ParseUint(f[1], 10, 64); err == nil && v > lastDone {
					lastDone = v
				}
			case len(f) == 3 && f[0] == "I":
				a, err1 := strconv.ParseUint(f[1], 10, 64)
				b, err2 := strconv.ParseUint(f[2], 10, 64)
				if err1 == nil && err2 == nil {
					intentA, intentB = a, b
				}
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("journal: %w", err)
	}
	if intentB <= lastDone {
		intentA, intentB = 0, 0
	}
	names, err := filepath.Glob(filepath.Join(j.dir, "wal-*.log"))
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	slices.Sort(names)
	maxLSN := max(lastDone, intentB)
	for i, name := range names {
		recs, end, err := readRecords(name)
		if err != nil {
			return fmt.Errorf("journal: reading %s: %w", name, err)
		}
		if fi, err := os.Stat(name); err == nil && fi.Size() > end {
			if i != len(names)-1 {
				return fmt.Errorf("journal: %s is damaged at byte %d (not at its end): move it away to start, records in it after that point are lost", name, end)
			}
			// A torn tail: a record whose write never finished, so never acknowledged.
			if err := os.Truncate(name, end); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
		}
		var segMax uint64
		for _, r := range recs {
			segMax = max(segMax, r.lsn)
			if r.lsn > lastDone {
				j.pending = append(j.pending, r)
				j.pendingBytes += len(r.rows)
			}
		}
		maxLSN = max(maxLSN, segMax)
		if idx, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(name), "wal-"), ".log")); err == nil {
			j.segIndex = max(j.segIndex, idx)
		}
		j.segments = append(j.segments, segment{path: name, maxLSN: segMax})
	}
	if intentB > 0 {
		j.replayUntil = intentB
		_ = intentA // the range is the pending records up to intentB
	}
	j.nextLSN = maxLSN + 1
	j.appended, j.inserted = maxLSN, lastDone
	if err := j.openSegment(); err != nil {
		return err
	}
	// Compact the manifest to its state.
	m := fmt.Sprintf("D %d\n", lastDone)
	if intentB > 0 {
		m += fmt.Sprintf("I %d %d\n", intentA, intentB)
	}
	if err := writeFileSync(mpath, []byte(m)); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	mf, err := os.OpenFile(mpath, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.manifest = mf
	return nil
}

func (j *Journal) openSegment() error {
	j.segIndex++
	path := filepath.Join(j.dir, segName(j.segIndex))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if j.seg != nil {
		j.seg.Close()
	}
	j.seg, j.segBytes = f, 0
	j.mu.Lock()
	j.segments = append(j.segments, segment{path: path})
	j.mu.Unlock()
	return nil
}

// notify wakes everyone waiting for a state change. Call with mu held.
func (j *Journal) notify() {
	close(j.changed)
	j.changed = make(chan struct{})
}

// Write implements Sink: it returns once the rows are in the log.
func (j *Journal) Write(ctx context.Context, table string, rows []byte, n int) error {
	if n == 0 {
		return nil
	}
	for {
		j.mu.Lock()
		if j.closing {
			j.mu.Unlock()
			return ErrJournalClosed
		}
		if j.broken != nil {
			err := j.broken
			j.mu.Unlock()
			return err
		}
		if j.pendingBytes < j.opt.MaxPendingBytes {
			j.mu.Unlock()
			break
		}
		ch := j.changed // the engine is behind: wait for the flusher
		j.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	req := &walReq{table: table, rows: rows, n: n, done: make(chan error, 1)}
	j.sendMu.RLock()
	j.mu.Lock()
	closing := j.closing
	j.mu.Unlock()
	if closing {
		j.sendMu.RUnlock()
		return ErrJournalClosed
	}
	select {
	case j.reqs <- req:
		j.sendMu.RUnlock()
	case <-ctx.Done():
		j.sendMu.RUnlock()
		return ctx.Err()
	}
	// Wait even if ctx ends: the caller's buffer is in use until the write.
	return <-req.done
}

// writer appends groups of requests to the log: one write (and fsync) per
// group, then acknowledges them all.
func (j *Journal) writer() {
	defer close(j.written)
	batch := make([]*walReq, 0, 256)
	for req := range j.reqs {
		batch = append(batch[:0], req)
	drain:
		for len(batch) < 4096 {
			select {
			case r, ok := <-j.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		// A fresh buffer per group: the pending records point into it (the
		// callers reuse their own buffers once acknowledged), so the rows
		// are held once, until the flusher has inserted them.
		size := 0
		for _, r := range batch {
			size += recordHeader + 14 + len(r.table) + len(r.rows)
		}
		buf := make([]byte, 0, size)
		recs := make([]walRecord, len(batch))
		for i, r := range batch {
			lsn := j.nextLSN
			j.nextLSN++
			buf = appendRecord(buf, lsn, r.table, r.rows, r.n)
			recs[i] = walRecord{lsn: lsn, table: r.table, rows: buf[len(buf)-len(r.rows) : len(buf) : len(buf)], n: r.n}
		}
		start := time.Now()
		err := j.append(buf)
		if j.opt.ObserveAppend != nil {
			j.opt.ObserveAppend(len(batch), time.Since(start))
		}
		if err == nil {
			j.mu.Lock()
			if len(j.pending) == 0 {
				j.oldest = time.Now()
			}
			j.pending = append(j.pending, recs...)
			for _, r := range recs {
				j.pendingBytes += len(r.rows)
			}
			j.appended = recs[len(recs)-1].lsn
			j.segments[len(j.segments)-1].maxLSN = j.appended
			j.notify()
			j.mu.Unlock()
		} else {
			j.mu.Lock()
			j.broken = fmt.Errorf("the write-ahead log failed (%v); restart moose to recover: %w", err, olap.ErrUnavailable)
			err = j.broken
			j.notify()
			j.mu.Unlock()
			j.log.Error("journal: log write failed; refusing writes until restart", "err", err)
		}
		for _, r := range batch {
			r.done <- err
		}
		if err == nil && j.segBytes >= j.opt.SegmentBytes {
			if err := j.openSegment(); err != nil {
				j.log.Error("journal: rotating the log", "err", err)
			}
		}
	}
}

func (j *Journal) append(buf []byte) error {
	if _, err := j.seg.Write(buf); err != nil {
		return err
	}
	j.segBytes += int64(len(buf))
	if j.opt.Sync {
		return j.seg.Sync()
	}
	return nil
}

// flusher moves appended records into the engine, one LSN range at a time.
func (j *Journal) flusher() {
	defer close(j.done)
	for {
		j.mu.Lock()
		for !j.flushDue() {
			if j.closing && len(j.pending) == 0 {
				j.mu.Unlock()
				return
			}
			ch := j.changed
			var wait <-chan time.Time
			if len(j.pending) > 0 {
				wait = time.After(time.Until(j.oldest.Add(j.opt.FlushInterval)))
			}
			j.mu.Unlock()
			select {
			case <-ch:
			case <-wait:
			}
			j.mu.Lock()
		}
		// Take a range: the unfinished one from before a crash exactly, else
		// everything pending up to the batch bound.
		take, size := 0, 0
		for take < len(j.pending) {
			r := j.pending[take]
			if j.replayUntil > 0 {
				if r.lsn > j.replayUntil {
					break
				}
			} else if take > 0 && size+len(r.rows) > j.opt.MaxBatchBytes {
				break
			}
			size += len(r.rows)
			take++
		}
		recs := j.pending[:take:take]
		j.replayUntil = 0
		j.mu.Unlock()

		a, b := recs[0].lsn, recs[len(recs)-1].lsn
		if err := j.mark(fmt.Sprintf("I %d %d\n", a, b)); err != nil {
			j.log.Error("journal: writing the manifest", "err", err)
		}
		if !j.insertRange(a, b, recs) {
			return // stopped: the range stays in the log for the next start
		}
		if err := j.mark(fmt.Sprintf("D %d\n", b)); err != nil {
			j.log.Error("journal: writing the manifest", "err", err)
		}

		j.mu.Lock()
		j.pending = j.pending[take:]
		if len(j.pending) == 0 {
			j.pending = nil // let the backing array go
		} else {
			j.oldest = time.Now() // roughly: the rest waited during the insert
		}
		j.pendingBytes -= size
		j.inserted = b
		var drop []string
		keep := j.segments[:0]
		for i, s := range j.segments {
			if i < len(j.segments)-1 && s.maxLSN <= b {
				drop = append(drop, s.path)
				continue
			}
			keep = append(keep, s)
		}
		j.segments = keep
		j.notify()
		j.mu.Unlock()
		if len(drop) > 0 {
			j.manifest.Sync() // "D b" must be durable before its log goes
			for _, p := range drop {
				os.Remove(p)
			}
		}
	}
}

// flushDue reports whether the flusher should insert now. Call with mu held.
func (j *Journal) flushDue() bool {
	if len(j.pending) == 0 {
		return false
	}
	return j.closing || j.waiters > 0 || j.replayUntil > 0 || j.opt.FlushInterval < 0 ||
		j.pendingBytes >= j.opt.FlushBytes || !time.Now().Before(j.oldest.Add(j.opt.FlushInterval))
}

func (j *Journal) mark(line string) error {
	_, err := j.manifest.WriteString(line)
	return err
}

// insertRange inserts each table's rows of one range under its token,
// retrying while the engine is unavailable. Rows the engine refuses (which
// validation should make impossible) are set aside in rejected.jsonl.
func (j *Journal) insertRange(a, b uint64, recs []walRecord) bool {
	var tables []string
	byTable := map[string][]walRecord{}
	for _, r := range recs {
		if _, ok := byTable[r.table]; !ok {
			tables = append(tables, r.table)
		}
		byTable[r.table] = append(byTable[r.table], r)
	}
	for _, t := range tables {
		rs := byTable[t]
		var rows []byte
		n := 0
		for _, r := range rs {
			rows = append(rows, r.rows...)
			n += r.n
		}
		token := fmt.Sprintf("%s-%d-%d-%s", j.id, a, b, t)
		err := j.insertRetry(t, rows, n, token)
		if errors.Is(err, errStopped) {
			return false
		}
		if errors.Is(err, olap.ErrBadQuery) || errors.Is(err, olap.ErrTableNotFound) {
			// One record at a time, to keep every good one.
			for _, r := range rs {
				rerr := j.insertRetry(t, r.rows, r.n, fmt.Sprintf("%s-r%d-%s", j.id, r.lsn, t))
				if errors.Is(rerr, errStopped) {
					return false
				}
				if rerr != nil {
					j.reject(r, rerr)
				}
			}
		}
	}
	return true
}

func (j *Journal) insertRetry(table string, rows []byte, n int, token string) error {
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		start := time.Now()
		err := j.w.InsertDedup(ctx, table, rows, token)
		cancel()
		if j.opt.Observe != nil {
			j.opt.Observe(table, n, time.Since(start), err)
		}
		if err == nil || errors.Is(err, olap.ErrBadQuery) || errors.Is(err, olap.ErrTableNotFound) {
			return err
		}
		j.log.Warn("journal: insert failed, retrying (rows stay in the log)", "table", table, "rows", n, "err", err, "retry_in", backoff)
		select {
		case <-j.stop:
			return errStopped
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (j *Journal) reject(r walRecord, err error) {
	j.log.Error("journal: the engine refused acknowledged rows; kept in rejected.jsonl", "table", r.table, "rows", r.n, "err", err)
	line, _ := json.Marshal(map[string]any{"table": r.table, "lsn": r.lsn, "error": err.Error(), "rows": string(r.rows)})
	f, ferr := os.OpenFile(filepath.Join(j.dir, "rejected.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if ferr != nil {
		j.log.Error("journal: cannot keep rejected rows", "err", ferr)
		return
	}
	f.Write(append(line, '\n'))
	f.Sync()
	f.Close()
}

// Barrier returns once every record appended before the call is in the
// engine: a query run after it sees every acknowledged row.
func (j *Journal) Barrier(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	target := j.appended
	if j.inserted >= target {
		return nil
	}
	j.waiters++ // the flusher inserts at once while someone waits
	j.notify()
	defer func() { j.waiters-- }()
	for j.inserted < target {
		ch := j.changed
		j.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			j.mu.Lock()
			return ctx.Err()
		}
		j.mu.Lock()
	}
	return nil
}

// Close refuses new writes, waits (until ctx ends) for everything appended
// to reach the engine, and closes the log. Records not inserted by then
// stay in the log and are replayed at the next start.
func (j *Journal) Close(ctx context.Context) error {
	j.mu.Lock()
	if j.closing {
		j.mu.Unlock()
		return nil
	}
	j.closing = true
	j.notify()
	j.mu.Unlock()
	j.sendMu.Lock()
	close(j.reqs)
	j.sendMu.Unlock()
	<-j.written
	select {
	case <-j.done:
	case <-ctx.Done():
		close(j.stop)
		<-j.done
		j.seg.Close()
		j.manifest.Close()
		return fmt.Errorf("journal: stopped before every record reached the engine; they will be replayed at the next start: %w", ctx.Err())
	}
	j.seg.Close()
	j.manifest.Sync()
	return j.manifest.Close()
}
