package stream

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// Producer appends values to a topic of the log.
type Producer interface {
	// Produce appends each value to topic as one record. It returns nil only
	// once every value is acknowledged by the log (for Kafka: by all in-sync
	// replicas), and an error if any value may not have been stored. It does
	// not retain values after it returns: the caller may reuse the slices.
	Produce(ctx context.Context, topic string, values [][]byte) error
}

// ProducerFunc adapts a function to a Producer, as http.HandlerFunc does.
type ProducerFunc func(ctx context.Context, topic string, values [][]byte) error

// Produce calls f.
func (f ProducerFunc) Produce(ctx context.Context, topic string, values [][]byte) error {
	return f(ctx, topic, values)
}

// Message is one stored record.
type Message struct {
	Topic     string
	Partition int32
	Offset    int64
	Value     []byte
}

// ErrClosed is returned by Memory.Produce after Close.
var ErrClosed = errors.New("stream: producer closed")

// Memory is an in-memory Producer for tests: one partition per topic, offsets
// from 0. It copies the values it is given. The zero value is ready to use.
type Memory struct {
	mu     sync.Mutex
	topics map[string][]Message
	closed bool
}

var _ Producer = (*Memory)(nil)

// Produce implements Producer. It fails with ctx's error if ctx is done.
func (m *Memory) Produce(ctx context.Context, topic string, values [][]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if m.topics == nil {
		m.topics = map[string][]Message{}
	}
	msgs := m.topics[topic]
	for _, v := range values {
		msgs = append(msgs, Message{Topic: topic, Offset: int64(len(msgs)), Value: slices.Clone(v)})
	}
	m.topics[topic] = msgs
	return nil
}

// Messages returns a copy of the messages stored in topic, in offset order.
func (m *Memory) Messages(topic string) []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.topics[topic])
}

// Close makes later Produce calls fail with ErrClosed.
func (m *Memory) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}
