package kafka

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/moose-go/moose/internal/olap"
)

// Offset column names: reserved in model tables when streaming is on.
const (
	PartitionColumn = "_kafka_partition"
	OffsetColumn    = "_kafka_offset"
)

// ErrorHeader is the header of a dead-letter record that carries the
// engine's error.
const ErrorHeader = "moose-error"

// TopicFor is the topic of table: table when namespace is empty, else
// namespace + "." + table.
func TopicFor(namespace, table string) string {
	if namespace == "" {
		return table
	}
	return namespace + "." + table
}

// DLQTopic is the dead-letter topic of topic: topic + ".dlq".
func DLQTopic(topic string) string { return topic + ".dlq" }

// TopicsFor lists every topic the tables need: each table's topic followed
// by its dead-letter topic. Pass it to EnsureTopics at start-up.
func TopicsFor(namespace string, tables []string) []string {
	out := make([]string, 0, 2*len(tables))
	for _, t := range tables {
		topic := TopicFor(namespace, t)
		out = append(out, topic, DLQTopic(topic))
	}
	return out
}

// OffsetColumns are the columns the Sink fills in every row it inserts:
// _kafka_partition UInt32 and _kafka_offset UInt64. The server appends them
// to each model table when streaming is on.
func OffsetColumns() []olap.Column {
	return []olap.Column{
		{Name: PartitionColumn, Type: "UInt32"},
		{Name: OffsetColumn, Type: "UInt64"},
	}
}

// EnsureTopics creates the topics that do not exist yet, with the
// configured partition count and replication factor; the replication factor
// is capped to the number of brokers. Existing topics are left as they are.
func (p *Producer) EnsureTopics(ctx context.Context, topics []string) error {
	if len(topics) == 0 {
		return nil
	}
	adm := kadm.NewClient(p.cl)
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		return fmt.Errorf("listing kafka brokers: %w", err)
	}
	rf := max(p.cfg.ReplicationFactor, 1)
	if n := len(brokers); n > 0 && rf > n {
		p.log.Warn("replication factor capped to the broker count",
			"replication_factor", p.cfg.ReplicationFactor, "brokers", n)
		rf = n
	}
	rf = min(rf, math.MaxInt16)
	parts := int32(-1) // broker default
	if p.cfg.Partitions > 0 {
		parts = int32(min(p.cfg.Partitions, math.MaxInt32))
	}
	resp, err := adm.CreateTopics(ctx, parts, int16(rf), nil, topics...)
	if err != nil {
		return fmt.Errorf("creating kafka topics: %w", err)
	}
	var errs []error
	for _, r := range resp.Sorted() {
		switch {
		case r.Err == nil:
			p.log.Info("created topic", "topic", r.Topic, "partitions", parts, "replication_factor", rf)
		case errors.Is(r.Err, kerr.TopicAlreadyExists):
		default:
			err := fmt.Errorf("creating topic %s: %w", r.Topic, r.Err)
			if r.ErrMessage != "" {
				err = fmt.Errorf("%w (%s)", err, r.ErrMessage)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
