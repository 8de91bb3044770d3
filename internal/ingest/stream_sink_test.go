package ingest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/moose-go/moose/internal/stream"
)

func TestStreamSink(t *testing.T) {
	topicFor := func(table string) string { return "ns." + table }
	tests := []struct {
		name    string
		rows    string
		n       int
		want    []string
		wantErr string
	}{
		{"one row", `{"a":1}` + "\n", 1, []string{`{"a":1}`}, ""},
		{"three rows", "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", 3, []string{`{"a":1}`, `{"a":2}`, `{"a":3}`}, ""},
		{"no final newline", "{\"a\":1}\n{\"a\":2}", 2, []string{`{"a":1}`, `{"a":2}`}, ""},
		{"nothing", "", 0, nil, ""},
		{"count mismatch", "{\"a\":1}\n", 2, nil, "1 rows for T, want 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mem stream.Memory
			s := NewStreamSink(&mem, topicFor)
			buf := []byte(tt.rows)
			err := s.Write(context.Background(), "T", buf, tt.n)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range buf { // the caller reuses its buffer
				buf[i] = 'x'
			}
			msgs := mem.Messages("ns.T")
			if len(msgs) != len(tt.want) {
				t.Fatalf("%d messages, want %d", len(msgs), len(tt.want))
			}
			for i, m := range msgs {
				if string(m.Value) != tt.want[i] {
					t.Errorf("message %d = %q, want %q", i, m.Value, tt.want[i])
				}
			}
		})
	}
}

func TestStreamSinkProducerError(t *testing.T) {
	boom := errors.New("boom")
	var gotTopic string
	var gotValues [][]byte
	p := stream.ProducerFunc(func(_ context.Context, topic string, values [][]byte) error {
		gotTopic, gotValues = topic, values
		return boom
	})
	s := NewStreamSink(p, func(table string) string { return table })
	err := s.Write(context.Background(), "T", []byte("{}\n{}\n"), 2)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if gotTopic != "T" || len(gotValues) != 2 {
		t.Errorf("produced %d values to %q", len(gotValues), gotTopic)
	}
	// Values must not alias each other: appending to one cannot clobber the next.
	_ = append(gotValues[0], 'z')
	if string(gotValues[1]) != "{}" {
		t.Errorf("values alias: %q", gotValues[1])
	}

	var mem stream.Memory
	mem.Close()
	if err := NewStreamSink(&mem, func(s string) string { return s }).Write(context.Background(), "T", []byte("{}\n"), 1); !errors.Is(err, stream.ErrClosed) {
		t.Errorf("closed producer: err = %v", err)
	}
}
