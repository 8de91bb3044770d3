package kafka

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/moose-go/moose/internal/ingest"
)

// encodeRows returns n JSONEachRow lines with ids from first, as the ingest
// encoder would hand them to a Sink.
func encodeRows(first, n int) []byte {
	var b []byte
	for i := first; i < first+n; i++ {
		b = fmt.Appendf(b, `{"id":%d,"name":"row %d","ts":"2026-01-02 03:04:05","value":%d.5}`+"\n", i, i, i%1000)
	}
	return b
}

// TestStreamSinkThroughKafka: ingest's StreamSink publishes to Kafka and the
// Sink stores every row once.
func TestStreamSinkThroughKafka(t *testing.T) {
	_, cfg := newCluster(t)
	p := newProducer(t, cfg, "A")
	st := newFakeStore()
	startSink(t, cfg, "g", st, "A")
	ss := ingest.NewStreamSink(p, func(table string) string { return TopicFor(cfg.Namespace, table) })
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			buf := make([]byte, 0, 64<<10)
			for i := range 10 {
				first := (w*10 + i) * 100
				buf = append(buf[:0], encodeRows(first, 100)...)
				if err := ss.Write(context.Background(), "A", buf, 100); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	st.waitRows(t, "A", 4000)
	waitCommitted(t, cfg, "g", TopicFor(cfg.Namespace, "A"), 4000)
	st.checkExactlyOnce(t, "A", 4000, nil)
}

// BenchmarkStreamSinkToStore: 100k rows written through ingest.StreamSink
// (8 concurrent writers, 500 rows per Write, as 200 requests would) into a
// 3-broker kfake cluster, and consumed by a Sink into a store that only
// counts them. Reports produce throughput (all acks received) and end-to-end
// throughput (last row in the store).
func BenchmarkStreamSinkToStore(b *testing.B) {
	const rows, perWrite, writers = 100_000, 500, 8
	_, cfg := newCluster(b)
	p := newProducer(b, cfg)
	ss := ingest.NewStreamSink(p, func(table string) string { return TopicFor(cfg.Namespace, table) })
	payload := make([][]byte, rows/perWrite)
	for i := range payload {
		payload[i] = encodeRows(i*perWrite, perWrite)
	}
	b.SetBytes(int64(len(payload[0]) * len(payload)))
	b.ReportAllocs()
	var produceTime, e2eTime time.Duration
	iter := 0
	for b.Loop() {
		table := fmt.Sprintf("T%d", iter)
		iter++
		ctx := context.Background()
		if err := p.EnsureTopics(ctx, TopicsFor(cfg.Namespace, []string{table})); err != nil {
			b.Fatal(err)
		}
		st := newFakeStore()
		st.fast = true
		sink := startSink(b, cfg, "bench-"+table, st, table)
		start := time.Now()
		var wg sync.WaitGroup
		next := make(chan []byte, len(payload))
		for _, pl := range payload {
			next <- pl
		}
		close(next)
		for range writers {
			wg.Go(func() {
				for pl := range next {
					if err := ss.Write(ctx, table, pl, perWrite); err != nil {
						b.Error(err)
					}
				}
			})
		}
		wg.Wait()
		produceTime += time.Since(start)
		st.waitRows(b, table, rows)
		e2eTime += time.Since(start)
		sink.stop()
	}
	b.ReportMetric(float64(rows*iter)/produceTime.Seconds(), "produced-rows/s")
	b.ReportMetric(float64(rows*iter)/e2eTime.Seconds(), "stored-rows/s")
}
