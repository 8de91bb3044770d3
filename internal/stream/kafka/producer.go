package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moose-go/moose/internal/config"
	"github.com/moose-go/moose/internal/stream"
)

// minDeliveryTimeout is the floor of the record delivery timeout: the
// default message_timeout_ms (1 s) is shorter than a leader election.
const minDeliveryTimeout = 5 * time.Second

// closeFlushTimeout bounds the flush in Close.
const closeFlushTimeout = 10 * time.Second

// Producer is a stream.Producer on a Kafka or Redpanda cluster. It is safe
// for concurrent use.
type Producer struct {
	cl  *kgo.Client
	cfg config.KafkaConfig
	log *slog.Logger
}

var _ stream.Producer = (*Producer)(nil)

// NewProducer connects to cfg's brokers. Writes are idempotent (the broker
// drops a batch the client re-sends after a lost reply) and acknowledged by
// all in-sync replicas. A record that cannot be delivered within
// message_timeout_ms (at least 5 s) fails its Produce call. NewProducer does
// not wait for a broker: the first Produce or EnsureTopics does.
func NewProducer(cfg config.KafkaConfig, log *slog.Logger) (*Producer, error) {
	log = log.With("component", "kafka-producer")
	cl, err := kgo.NewClient(clientOpts(cfg, log)...)
	if err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	return &Producer{cl: cl, cfg: cfg, log: log}, nil
}

// clientOpts are the options every client of this package shares: seeds,
// logging, and the producer's durability settings (the Sink produces to the
// dead-letter topics).
func clientOpts(cfg config.KafkaConfig, log *slog.Logger) []kgo.Opt {
	timeout := max(time.Duration(cfg.MessageTimeoutMS)*time.Millisecond, minDeliveryTimeout)
	return []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers()...),
		kgo.ClientID("moose"),
		kgo.WithLogger(kgoLogger{log}),
		kgo.RequiredAcks(kgo.AllISRAcks()), // also the default; idempotence requires it
		kgo.RecordDeliveryTimeout(timeout),
	}
}

// Produce implements stream.Producer: it returns nil once every value is
// acknowledged by all in-sync replicas. franz-go holds the values only
// until each record's promise runs, and ProduceSync waits for all of them,
// so the caller may reuse the slices as soon as Produce returns.
func (p *Producer) Produce(ctx context.Context, topic string, values [][]byte) error {
	return produce(ctx, p.cl, topic, values, nil)
}

// produce sends values to topic and waits for every acknowledgement;
// headers, if non-nil, go on every record.
func produce(ctx context.Context, cl *kgo.Client, topic string, values [][]byte, headers []kgo.RecordHeader) error {
	if len(values) == 0 {
		return nil
	}
	recs := make([]kgo.Record, len(values))
	ptrs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = kgo.Record{Topic: topic, Value: v, Headers: headers}
		ptrs[i] = &recs[i]
	}
	failed := 0
	var first error
	for _, r := range cl.ProduceSync(ctx, ptrs...) {
		if r.Err != nil {
			if first == nil {
				first = r.Err
			}
			failed++
		}
	}
	if first != nil {
		return fmt.Errorf("producing to %s: %d of %d records failed: %w", topic, failed, len(values), first)
	}
	return nil
}

// Flush waits until every buffered record is acknowledged or failed.
func (p *Producer) Flush(ctx context.Context) error { return p.cl.Flush(ctx) }

// Close flushes buffered records (for at most 10 s) and closes the client.
// Call it after the HTTP server has stopped taking requests.
// Ping checks that a broker answers (readiness).
func (p *Producer) Ping(ctx context.Context) error { return p.cl.Ping(ctx) }

// Close flushes and closes the producer.
func (p *Producer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeFlushTimeout)
	defer cancel()
	err := p.cl.Flush(ctx)
	p.cl.Close() // fails whatever is still buffered
	if err != nil {
		return fmt.Errorf("flushing kafka producer: %w", err)
	}
	return nil
}

// kgoLogger sends franz-go's log lines to slog. franz-go's info level
// (connections, group joins) is logged at debug when the logger allows it;
// otherwise only its warnings and errors.
type kgoLogger struct{ log *slog.Logger }

func (l kgoLogger) Level() kgo.LogLevel {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelDebug
	}
	return kgo.LogLevelWarn
}

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	}
	l.log.Log(context.Background(), lv, msg, keyvals...)
}
