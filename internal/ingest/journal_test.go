package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/moose-go/moose/internal/olap"
)

// memEngine is an in-memory DedupWriter that drops a batch whose token it
// has seen, as the embedded engine does. freeze makes every insert block
// forever (before or after storing), which is how the tests "crash" a
// journal: its flusher never reaches the manifest's done mark.
type memEngine struct {
	mu          sync.Mutex
	rows        map[string][]string // table -> lines
	tokens      map[string]bool
	inserts     int
	failFor     int  // fail this many inserts with ErrUnavailable first
	freeze      bool // block before storing
	freezeAfter bool // store, then block
}

func newMemEngine() *memEngine {
	return &memEngine{rows: map[string][]string{}, tokens: map[string]bool{}}
}

func (m *memEngine) InsertDedup(ctx context.Context, table string, rows []byte, token string) error {
	m.mu.Lock()
	if m.freeze {
		m.mu.Unlock()
		select {}
	}
	if m.failFor > 0 {
		m.failFor--
		m.mu.Unlock()
		return olap.ErrUnavailable
	}
	m.inserts++
	if !m.tokens[token] {
		m.tokens[token] = true
		for _, l := range bytes.Split(bytes.TrimSuffix(rows, []byte("\n")), []byte("\n")) {
			m.rows[table] = append(m.rows[table], string(l))
		}
	}
	after := m.freezeAfter
	m.mu.Unlock()
	if after {
		select {}
	}
	return nil
}

func (m *memEngine) count(table string) (total, distinct int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	for _, l := range m.rows[table] {
		seen[l] = true
	}
	return len(m.rows[table]), len(seen)
}

func openJ(t *testing.T, dir string, e Engine, opt JournalOptions) *Journal {
	t.Helper()
	j, err := OpenJournal(context.Background(), dir, e, slog.New(slog.DiscardHandler), opt)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func writeN(t *testing.T, j *Journal, table string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := j.Write(context.Background(), table, fmt.Appendf(nil, "{\"id\":%d}\n", i), 1); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
}

func TestJournalConcurrentWritesStoredOnce(t *testing.T) {
	e := newMemEngine()
	j := openJ(t, t.TempDir(), e, JournalOptions{Sync: true})
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				rows := fmt.Appendf(nil, "{\"id\":%d}\n{\"id\":%d}\n", w*1000+2*i, w*1000+2*i+1)
				if err := j.Write(context.Background(), "T", rows, 2); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := j.Barrier(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The barrier means: every acknowledged row is queryable now.
	if total, distinct := e.count("T"); total != 3200 || distinct != 3200 {
		t.Fatalf("after barrier: %d rows (%d distinct), want 3200", total, distinct)
	}
	if err := j.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.inserts >= 32*50 {
		t.Fatalf("%d engine inserts for %d writes: not batching", e.inserts, 32*50)
	}
	if err := j.Write(context.Background(), "T", []byte("{}\n"), 1); !errors.Is(err, ErrJournalClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

func TestJournalReplaysAfterCrashBeforeInsert(t *testing.T) {
	dir := t.TempDir()
	frozen := newMemEngine()
	frozen.freeze = true
	j1 := openJ(t, dir, frozen, JournalOptions{})
	writeN(t, j1, "A", 0, 100) // acknowledged, never inserted
	writeN(t, j1, "B", 0, 10)
	// "kill -9": j1 is abandoned with its flusher stuck.
	e := newMemEngine()
	j2 := openJ(t, dir, e, JournalOptions{})
	writeN(t, j2, "A", 100, 5)
	if err := j2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if total, distinct := e.count("A"); total != 105 || distinct != 105 {
		t.Fatalf("A: %d rows (%d distinct), want 105", total, distinct)
	}
	if total, _ := e.count("B"); total != 10 {
		t.Fatalf("B: %d rows, want 10", total)
	}
}

func TestJournalReplayDeduplicatesAFinishedInsert(t *testing.T) {
	dir := t.TempDir()
	e := newMemEngine()
	e.freezeAfter = true // the insert commits, then the process "dies"
	j1 := openJ(t, dir, e, JournalOptions{})
	writeN(t, j1, "A", 0, 50)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if total, _ := e.count("A"); total > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// A new process on the same engine data (tokens remembered).
	e.mu.Lock()
	e.freezeAfter = false
	e.mu.Unlock()
	j2 := openJ(t, dir, e, JournalOptions{})
	if err := j2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if total, distinct := e.count("A"); total != 50 || distinct != 50 {
		t.Fatalf("%d rows (%d distinct), want 50 exactly once", total, distinct)
	}
}

func TestJournalCutsATornTail(t *testing.T) {
	dir := t.TempDir()
	frozen := newMemEngine()
	frozen.freeze = true
	j1 := openJ(t, dir, frozen, JournalOptions{})
	writeN(t, j1, "A", 0, 20)
	segs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	last := segs[len(segs)-1]
	recs, end, err := readRecords(last)
	if err != nil || len(recs) != 20 {
		t.Fatalf("read %d records, %v", len(recs), err)
	}
	f, err := os.OpenFile(last, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Half a record right after the last one: a write cut by the crash.
	f.WriteAt([]byte{200, 0, 0, 0, 1, 2, 3}, end)
	f.Close()
	e := newMemEngine()
	j2 := openJ(t, dir, e, JournalOptions{})
	writeN(t, j2, "A", 20, 1)
	if err := j2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if total, distinct := e.count("A"); total != 21 || distinct != 21 {
		t.Fatalf("%d rows (%d distinct), want 21", total, distinct)
	}
}

func TestJournalRetriesWhileEngineUnavailable(t *testing.T) {
	e := newMemEngine()
	e.failFor = 3
	j := openJ(t, t.TempDir(), e, JournalOptions{})
	writeN(t, j, "A", 0, 10) // acknowledged although the engine is down
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := j.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	j.Close(context.Background())
	if total, _ := e.count("A"); total != 10 {
		t.Fatalf("%d rows, want 10", total)
	}
}

func TestJournalBackpressure(t *testing.T) {
	e := newMemEngine()
	j := openJ(t, t.TempDir(), e, JournalOptions{MaxPendingBytes: 64, MaxBatchBytes: 32})
	writeN(t, j, "A", 0, 200)
	j.Close(context.Background())
	if total, _ := e.count("A"); total != 200 {
		t.Fatalf("%d rows, want 200", total)
	}
}

func TestJournalCloseGivesUpOnADeadEngineAndKeepsTheLog(t *testing.T) {
	dir := t.TempDir()
	dead := newMemEngine()
	dead.failFor = 1 << 30
	j1 := openJ(t, dir, dead, JournalOptions{})
	writeN(t, j1, "A", 0, 7)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := j1.Close(ctx); err == nil {
		t.Fatal("Close reported success with rows not in the engine")
	}
	e := newMemEngine()
	j2 := openJ(t, dir, e, JournalOptions{})
	j2.Close(context.Background())
	if total, _ := e.count("A"); total != 7 {
		t.Fatalf("%d rows after restart, want 7", total)
	}
}

func TestJournalDeletesInsertedSegments(t *testing.T) {
	dir := t.TempDir()
	e := newMemEngine()
	j := openJ(t, dir, e, JournalOptions{SegmentBytes: 200})
	for i := range 20 {
		writeN(t, j, "A", i*10, 10)
		j.Barrier(context.Background())
	}
	j.Close(context.Background())
	segs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	if len(segs) > 2 {
		t.Fatalf("%d segments left after everything was inserted", len(segs))
	}
}

// Segments are preallocated and recycled, so a file holds stale records of
// its earlier life after the new ones: replay must take exactly the records
// acknowledged since the last insert, none of the stale ones.
func TestJournalRecycledSegmentsReplayExactly(t *testing.T) {
	dir := t.TempDir()
	e := newMemEngine()
	j1 := openJ(t, dir, e, JournalOptions{SegmentBytes: 4096})
	for i := range 30 { // fills, inserts and recycles many small segments
		writeN(t, j1, "A", i*10, 10)
		if err := j1.Barrier(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if total, _ := e.count("A"); total != 300 {
		t.Fatalf("before the crash: %d rows", total)
	}
	e.mu.Lock()
	e.freeze = true // the next inserts never finish: a crash with rows only in the log
	e.mu.Unlock()
	writeN(t, j1, "A", 300, 45)
	// A new process: the same engine data, unfrozen.
	e.mu.Lock()
	e.freeze = false
	e.mu.Unlock()
	j2 := openJ(t, dir, e, JournalOptions{SegmentBytes: 4096})
	writeN(t, j2, "A", 345, 5)
	if err := j2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if total, distinct := e.count("A"); total != 350 || distinct != 350 {
		t.Fatalf("%d rows (%d distinct), want 350 exactly once", total, distinct)
	}
}
