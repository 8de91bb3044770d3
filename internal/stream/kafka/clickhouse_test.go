package kafka

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/olap/clickhouse"
)

// TestSinkClickHouse runs the crash-before-commit scenario against a real
// ClickHouse server (MOOSE_TEST_CLICKHOUSE_URL; required under CI=true):
// the stored-offset query and the offset columns must work on the engine.
func TestSinkClickHouse(t *testing.T) {
	u := os.Getenv("MOOSE_TEST_CLICKHOUSE_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI requires a ClickHouse server: .ci/run starts one (MOOSE_TEST_CLICKHOUSE_URL is unset)")
		}
		t.Skip("no ClickHouse server: set MOOSE_TEST_CLICKHOUSE_URL (scripts/clickhouse-server.sh start DIR)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	store, err := clickhouse.Open(ctx, clickhouse.Options{URL: u, Database: "moose_test_stream_kafka"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	table := olap.Table{
		Name:    "KafkaSinkEvents",
		Columns: append([]olap.Column{{Name: "id", Type: "UInt64"}, {Name: "name", Type: "String"}}, OffsetColumns()...),
		OrderBy: []string{"id"},
	}
	drop := []olap.Change{{Kind: olap.DropTable, Table: table}}
	_ = store.Apply(ctx, drop)
	if err := store.Apply(ctx, []olap.Change{{Kind: olap.CreateTable, Table: table}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Apply(context.Background(), drop) })

	c, cfg := newCluster(t)
	p := newProducer(t, cfg, table.Name)
	topic := TopicFor(cfg.Namespace, table.Name)

	// First Sink: stores rows, every commit refused.
	fault := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: "g", Count: -1,
		Err: kerr.GroupAuthorizationFailed})
	first := startSink(t, cfg, "g", store, table.Name)
	produceRows(t, p, topic, 0, 2000)
	waitCount(t, store, table.Name, 2000)
	first.stop()
	fault.Remove()

	// Second Sink: everything is redelivered and skipped; new rows stored.
	startSink(t, cfg, "g", store, table.Name)
	produceRows(t, p, topic, 2000, 1000)
	waitCount(t, store, table.Name, 3000)
	waitCommitted(t, cfg, "g", topic, 3000)
	res, err := store.Query(ctx, "SELECT count(), uniqExact(id), uniqExact(_kafka_partition, _kafka_offset), min(id), max(id) FROM `KafkaSinkEvents`", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(res.Rows)
	if string(got) != "[[3000,3000,3000,0,2999]]" {
		t.Errorf("count, ids, positions, min, max = %s; want [[3000,3000,3000,0,2999]]", got)
	}
}

func waitCount(t *testing.T, r olap.Reader, table string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := r.Query(context.Background(), "SELECT count() FROM `"+table+"`", nil)
		if err != nil {
			t.Fatal(err)
		}
		var got int
		_ = json.Unmarshal(res.Rows[0][0], &got)
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d rows after 30s, want %d", table, got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
