package ingest

import (
	"bytes"
	"context"
	"fmt"

	"github.com/moose-go/moose/internal/stream"
)

// StreamSink is the Sink used when features.streaming_engine is on: it
// publishes each row as one record of the table's topic, and a request is
// durable once the log has acknowledged every row. The stream/kafka Sink
// moves the records into the table.
type StreamSink struct {
	p        stream.Producer
	topicFor func(table string) string
}

var _ Sink = (*StreamSink)(nil)

// NewStreamSink returns a StreamSink producing through p; topicFor names a
// table's topic (kafka.TopicFor with the configured namespace).
func NewStreamSink(p stream.Producer, topicFor func(table string) string) *StreamSink {
	return &StreamSink{p: p, topicFor: topicFor}
}

// Write implements Sink: rows (JSONEachRow, n lines) become n records, and
// Write returns nil once all are acknowledged. The values are sub-slices of
// rows, not copies: stream.Producer does not retain them after Produce
// returns (franz-go drops a record once its promise has run, and Produce
// waits for every promise), so the caller may reuse rows afterwards.
func (s *StreamSink) Write(ctx context.Context, table string, rows []byte, n int) error {
	if n == 0 {
		return nil
	}
	values := make([][]byte, 0, n)
	for len(rows) > 0 {
		line := rows
		if i := bytes.IndexByte(rows, '\n'); i >= 0 {
			line, rows = rows[:i], rows[i+1:]
		} else {
			rows = nil
		}
		if len(line) > 0 {
			values = append(values, line[:len(line):len(line)])
		}
	}
	if len(values) != n {
		return fmt.Errorf("stream sink: %d rows for %s, want %d", len(values), table, n)
	}
	topic := s.topicFor(table)
	if err := s.p.Produce(ctx, topic, values); err != nil {
		return fmt.Errorf("publishing %d rows to %s: %w", n, topic, err)
	}
	return nil
}
