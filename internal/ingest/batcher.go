package ingest

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/moose-go/moose/internal/olap"
)

// Sink durably accepts encoded rows for a table.
type Sink interface {
	// Write returns nil only once rows (JSONEachRow, n lines) are durable.
	Write(ctx context.Context, table string, rows []byte, n int) error
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("ingest: batcher closed")

// BatchObserver, if set, sees each insert the Batcher makes (for metrics).
type BatchObserver func(table string, rows int, d time.Duration, err error)

// Batcher is a Sink that group-commits: while one insert into a table is in
// flight, concurrent writers append to the next batch, which is inserted as
// one statement when the first returns. Under no load a request is its own
// insert (lowest latency); under load, one insert carries many requests.
// A batch is bounded by MaxBatchBytes: writers wait for room (backpressure).
type Batcher struct {
	w             olap.Writer
	log           *slog.Logger
	maxBatchBytes int
	observe       BatchObserver

	// closeMu is held shared while a writer enqueues (and may start a
	// flusher) and exclusively by Close, so no flusher starts after Close.
	closeMu sync.RWMutex
	closed  bool
	mu      sync.Mutex
	queues  map[string]*tableQueue
	wg      sync.WaitGroup
}

type tableQueue struct {
	mu       sync.Mutex
	cur      *batch
	flushing bool
}

type batch struct {
	buf   []byte
	rows  int
	parts []part        // one per writer, to retry alone if the batch fails
	taken chan struct{} // closed when the flusher takes the batch
	done  chan struct{} // closed when every part has a result
	errs  map[int]error // part index -> error
}

type part struct{ start, end, rows int }

// BatcherOptions tune a Batcher. Zero values take the defaults.
type BatcherOptions struct {
	MaxBatchBytes int // default 16 MiB
	Observe       BatchObserver
}

// NewBatcher returns a Batcher writing into w.
func NewBatcher(w olap.Writer, log *slog.Logger, opt BatcherOptions) *Batcher {
	if opt.MaxBatchBytes <= 0 {
		opt.MaxBatchBytes = 16 << 20
	}
	return &Batcher{w: w, log: log, maxBatchBytes: opt.MaxBatchBytes, observe: opt.Observe,
		queues: map[string]*tableQueue{}}
}

// Write implements Sink.
func (b *Batcher) Write(ctx context.Context, table string, rows []byte, n int) error {
	if n == 0 {
		return nil
	}
	b.mu.Lock()
	q := b.queues[table]
	if q == nil {
		q = &tableQueue{}
		b.queues[table] = q
	}
	b.mu.Unlock()

	for {
		b.closeMu.RLock()
		if b.closed {
			b.closeMu.RUnlock()
			return ErrClosed
		}
		q.mu.Lock()
		cur := q.cur
		if cur != nil && len(cur.buf) > 0 && len(cur.buf)+len(rows) > b.maxBatchBytes {
			// Full: wait until the flusher takes it, then start the next.
			q.mu.Unlock()
			b.closeMu.RUnlock()
			select {
			case <-cur.taken:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if cur == nil {
			cur = &batch{taken: make(chan struct{}), done: make(chan struct{})}
			q.cur = cur
		}
		idx := len(cur.parts)
		cur.parts = append(cur.parts, part{start: len(cur.buf), end: len(cur.buf) + len(rows), rows: n})
		cur.buf = append(cur.buf, rows...)
		cur.rows += n
		if !q.flushing {
			q.flushing = true
			b.wg.Add(1)
			go b.flush(table, q)
		}
		q.mu.Unlock()
		b.closeMu.RUnlock()

		// The batch is inserted even if this request gives up: a client
		// that sees no 200 may retry; a 200 is only sent for stored rows.
		select {
		case <-cur.done:
			return cur.errs[idx]
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *Batcher) flush(table string, q *tableQueue) {
	defer b.wg.Done()
	for {
		q.mu.Lock()
		cur := q.cur
		q.cur = nil
		if cur == nil {
			q.flushing = false
			q.mu.Unlock()
			return
		}
		close(cur.taken)
		q.mu.Unlock()
		b.insert(table, cur)
	}
}

// insert stores the batch; if the engine refuses it and it holds several
// writers' rows, each writer's rows are retried alone so that one bad part
// cannot fail the others.
func (b *Batcher) insert(table string, cur *batch) {
	cur.errs = map[int]error{}
	err := b.insertOnce(table, cur.buf, cur.rows)
	if err != nil && len(cur.parts) > 1 && !errors.Is(err, olap.ErrUnavailable) {
		for i, p := range cur.parts {
			if perr := b.insertOnce(table, cur.buf[p.start:p.end], p.rows); perr != nil {
				cur.errs[i] = perr
			}
		}
	} else if err != nil {
		for i := range cur.parts {
			cur.errs[i] = err
		}
	}
	close(cur.done)
}

func (b *Batcher) insertOnce(table string, rows []byte, n int) error {
	// Not the request's context: the batch belongs to many requests.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	err := b.w.Insert(ctx, table, rows)
	if b.observe != nil {
		b.observe(table, n, time.Since(start), err)
	}
	if err != nil {
		b.log.Error("insert failed", "table", table, "rows", n, "err", err)
	}
	return err
}

// Close refuses new writes and waits for every queued batch to be stored.
func (b *Batcher) Close() error {
	b.closeMu.Lock()
	b.closed = true
	b.closeMu.Unlock()
	b.wg.Wait()
	return nil
}
