package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moose-go/moose/internal/olap"
)

// slowWriter records inserts; each takes delay. Rows containing "poison"
// make the whole insert fail, as an engine refusing a batch would.
type slowWriter struct {
	delay   time.Duration
	mu      sync.Mutex
	inserts [][]byte
	rows    int
	fail    error
}

func (w *slowWriter) Insert(ctx context.Context, table string, rows []byte) error {
	time.Sleep(w.delay)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail != nil {
		return w.fail
	}
	if bytes.Contains(rows, []byte("poison")) {
		return fmt.Errorf("%w: bad row", olap.ErrBadQuery)
	}
	w.inserts = append(w.inserts, append([]byte(nil), rows...))
	w.rows += bytes.Count(rows, []byte("\n"))
	return nil
}

func TestBatcherGroupCommits(t *testing.T) {
	w := &slowWriter{delay: 20 * time.Millisecond}
	b := NewBatcher(w, slog.New(slog.DiscardHandler), BatcherOptions{})
	const writers = 64
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Write(context.Background(), "T", fmt.Appendf(nil, "{\"i\":%d}\n", i), 1); err == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	b.Close()
	if ok.Load() != writers || w.rows != writers {
		t.Fatalf("acked %d, stored %d, want %d", ok.Load(), w.rows, writers)
	}
	// 64 concurrent writers over 20 ms inserts must share inserts.
	if len(w.inserts) >= writers/4 {
		t.Fatalf("%d inserts for %d writers: not group-committing", len(w.inserts), writers)
	}
}

func TestBatcherIsolatesABadPart(t *testing.T) {
	w := &slowWriter{delay: 10 * time.Millisecond}
	b := NewBatcher(w, slog.New(slog.DiscardHandler), BatcherOptions{})
	defer b.Close()
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			row := fmt.Sprintf("{\"i\":%d}\n", i)
			if i == 7 {
				row = "{\"poison\":1}\n"
			}
			errs[i] = b.Write(context.Background(), "T", []byte(row), 1)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i == 7) != (err != nil) {
			t.Errorf("writer %d: err = %v", i, err)
		}
	}
	if w.rows != 19 {
		t.Fatalf("stored %d rows, want 19", w.rows)
	}
}

func TestBatcherUnavailableFailsEveryone(t *testing.T) {
	w := &slowWriter{fail: olap.ErrUnavailable}
	b := NewBatcher(w, slog.New(slog.DiscardHandler), BatcherOptions{})
	defer b.Close()
	if err := b.Write(context.Background(), "T", []byte("{}\n"), 1); !errors.Is(err, olap.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

func TestBatcherBoundsBatchBytes(t *testing.T) {
	w := &slowWriter{delay: 5 * time.Millisecond}
	b := NewBatcher(w, slog.New(slog.DiscardHandler), BatcherOptions{MaxBatchBytes: 100})
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Write(context.Background(), "T", bytes.Repeat([]byte("x"), 39), 1); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	b.Close()
	for _, ins := range w.inserts {
		if len(ins) > 100 {
			t.Fatalf("insert of %d bytes over the 100-byte bound", len(ins))
		}
	}
	if got := len(bytes.Join(w.inserts, nil)); got != 50*39 {
		t.Fatalf("stored %d bytes, want %d", got, 50*39)
	}
}

func TestBatcherCloseDrainsAndRefuses(t *testing.T) {
	w := &slowWriter{delay: 30 * time.Millisecond}
	b := NewBatcher(w, slog.New(slog.DiscardHandler), BatcherOptions{})
	done := make(chan error)
	go func() { done <- b.Write(context.Background(), "T", []byte("{}\n"), 1) }()
	time.Sleep(5 * time.Millisecond)
	b.Close() // waits for the in-flight insert
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if w.rows != 1 {
		t.Fatalf("rows %d", w.rows)
	}
	if err := b.Write(context.Background(), "T", []byte("{}\n"), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestBatcherCanceledWriterStillStoredOrNotAcked(t *testing.T) {
	w := &slowWriter{delay: 50 * time.Millisecond}
	b := NewBatcher(w, slog.New(slog.DiscardHandler), BatcherOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if err := b.Write(ctx, "T", []byte("{}\n"), 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	b.Close() // the batch still completes; the caller just was not told
	if w.rows != 1 {
		t.Fatalf("rows %d", w.rows)
	}
}
