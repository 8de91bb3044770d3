package kafka

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/moose-go/moose/internal/stream"
)

var _ stream.Producer = (*Producer)(nil)

func TestTopicNames(t *testing.T) {
	tests := []struct {
		name, ns, table, topic string
	}{
		{"no namespace", "", "Events", "Events"},
		{"namespace", "prod", "Events", "prod.Events"},
		{"dotted namespace", "a.b", "T", "a.b.T"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TopicFor(tt.ns, tt.table); got != tt.topic {
				t.Errorf("TopicFor(%q, %q) = %q, want %q", tt.ns, tt.table, got, tt.topic)
			}
			if got := DLQTopic(tt.topic); got != tt.topic+".dlq" {
				t.Errorf("DLQTopic = %q", got)
			}
		})
	}
	got := TopicsFor("ns", []string{"A", "B"})
	want := []string{"ns.A", "ns.A.dlq", "ns.B", "ns.B.dlq"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("TopicsFor = %q, want %q", got, want)
	}
	cols := OffsetColumns()
	if len(cols) != 2 || cols[0].FullType() != "UInt32" || cols[0].Name != "_kafka_partition" ||
		cols[1].FullType() != "UInt64" || cols[1].Name != "_kafka_offset" {
		t.Errorf("OffsetColumns = %+v", cols)
	}
}

func TestEnsureTopics(t *testing.T) {
	_, cfg := newCluster(t)
	cfg.ReplicationFactor = 5 // more than the 3 brokers: capped
	p, err := NewProducer(cfg, testLog())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topics := TopicsFor(cfg.Namespace, []string{"A", "B"})
	for i := range 2 { // the second run finds them all and is a no-op
		if err := p.EnsureTopics(ctx, topics); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	td, err := kadm.NewClient(p.cl).ListTopics(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range topics {
		d, ok := td[topic]
		if !ok || d.Err != nil {
			t.Fatalf("topic %s: %v %v", topic, ok, d.Err)
		}
		if len(d.Partitions) != cfg.Partitions {
			t.Errorf("topic %s: %d partitions, want %d", topic, len(d.Partitions), cfg.Partitions)
		}
	}
}

func TestProducerAcks(t *testing.T) {
	_, cfg := newCluster(t)
	p := newProducer(t, cfg, "A")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topic := TopicFor(cfg.Namespace, "A")
	values := rowsOf(0, 1000)
	if err := p.Produce(ctx, topic, values); err != nil {
		t.Fatal(err)
	}
	// Acknowledged means stored: every value can be read back, once.
	got := map[string]int{}
	for _, r := range readTopic(t, cfg, topic) {
		got[string(r.Value)]++
	}
	for _, v := range values {
		if got[string(v)] != 1 {
			t.Errorf("value %s read %d times", v, got[string(v)])
		}
	}
	if err := p.Produce(ctx, topic, nil); err != nil {
		t.Errorf("empty produce: %v", err)
	}
}

func TestProducerFailsWithoutBroker(t *testing.T) {
	c, cfg := newCluster(t)
	p := newProducer(t, cfg, "A")
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.Produce(ctx, TopicFor(cfg.Namespace, "A"), rowsOf(0, 10)); err == nil {
		t.Fatal("produce to a dead cluster returned nil")
	}
}

// TestProducerBrokerLoss stops one of the three brokers and moves partition
// leaders while writers produce: every acknowledged value must be stored.
func TestProducerBrokerLoss(t *testing.T) {
	c, cfg := newCluster(t)
	p := newProducer(t, cfg, "A")
	topic := TopicFor(cfg.Namespace, "A")

	const writers, calls, per = 4, 60, 20
	var (
		mu     sync.Mutex
		acked  [][]byte
		failed atomic.Int64
		calls0 atomic.Int64
		wg     sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			for i := range calls {
				values := rowsOf((w*calls+i)*per, per)
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				err := p.Produce(ctx, topic, values)
				cancel()
				calls0.Add(1)
				if err != nil {
					failed.Add(1)
					continue
				}
				mu.Lock()
				acked = append(acked, values...)
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		})
	}
	for calls0.Load() < writers*calls/4 {
		time.Sleep(time.Millisecond)
	}
	victim := c.LeaderFor(topic, 0)
	if err := c.RemoveNode(victim); err != nil {
		t.Fatal(err)
	}
	for calls0.Load() < writers*calls/2 {
		time.Sleep(time.Millisecond)
	}
	c.ShufflePartitionLeaders()
	wg.Wait()

	stored := map[string]int{}
	for _, r := range readTopic(t, cfg, topic) {
		stored[string(r.Value)]++
	}
	for _, v := range acked {
		if stored[string(v)] == 0 {
			t.Errorf("acknowledged value %s lost", v)
		}
	}
	for v, n := range stored {
		if n > 1 {
			t.Errorf("value %s stored %d times (idempotence)", v, n)
		}
	}
	t.Logf("broker %d removed: %d values acknowledged, %d of %d calls failed, %d stored",
		victim, len(acked), failed.Load(), writers*calls, len(stored))
	if len(acked) < writers*calls*per/2 {
		t.Errorf("only %d of %d values acknowledged", len(acked), writers*calls*per)
	}
}
