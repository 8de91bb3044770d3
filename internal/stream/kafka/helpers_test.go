package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moose-go/moose/internal/config"
	"github.com/moose-go/moose/internal/olap"
)

// testLog discards unless MOOSE_TEST_LOG is set.
func testLog() *slog.Logger {
	if os.Getenv("MOOSE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newCluster starts a 3-broker in-process Kafka and returns a config for it.
func newCluster(t testing.TB) (*kfake.Cluster, config.KafkaConfig) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, config.KafkaConfig{
		Broker:            strings.Join(c.ListenAddrs(), ","),
		Namespace:         "test",
		MessageTimeoutMS:  1000,
		ReplicationFactor: 3,
		Partitions:        4,
	}
}

// newProducer returns a Producer that has created the tables' topics.
func newProducer(t testing.TB, cfg config.KafkaConfig, tables ...string) *Producer {
	t.Helper()
	p, err := NewProducer(cfg, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.EnsureTopics(ctx, TopicsFor(cfg.Namespace, tables)); err != nil {
		t.Fatal(err)
	}
	return p
}

// runningSink is a Sink whose Run goroutine the test can stop.
type runningSink struct {
	*Sink
	cancel context.CancelFunc
	done   chan error
}

// engine is what a Sink needs of a store.
type engine interface {
	olap.Writer
	olap.Reader
}

func startSink(t testing.TB, cfg config.KafkaConfig, group string, st engine, tables ...string) *runningSink {
	t.Helper()
	s, err := NewSink(cfg, group, st, st, tables, testLog())
	if err != nil {
		t.Fatal(err)
	}
	s.maxBackoff = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	rs := &runningSink{Sink: s, cancel: cancel, done: make(chan error, 1)}
	go func() { rs.done <- s.Run(ctx) }()
	t.Cleanup(rs.stop)
	return rs
}

// stop cancels Run, waits for it, and closes the Sink.
func (rs *runningSink) stop() {
	rs.cancel()
	if rs.done != nil {
		<-rs.done
		rs.done = nil
	}
	rs.Close()
}

// rowsOf returns n JSONEachRow rows with ids from first.
func rowsOf(first, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"id":%d,"name":"row %d"}`, first+i, first+i)
	}
	return out
}

// fakeStore is an in-memory olap.Writer and olap.Reader: it parses
// JSONEachRow, stores rows per table, and answers the Sink's stored-offset
// query. Inserts are atomic.
type fakeStore struct {
	mu      sync.Mutex
	tables  map[string][]map[string]json.RawMessage
	down    bool                                      // every call fails with ErrUnavailable
	refuse  func(row map[string]json.RawMessage) bool // rows that make an insert fail with ErrBadQuery
	lost    int                                       // the next lost inserts store the rows but report a timeout
	fast    bool                                      // count rows without parsing or keeping them (benchmarks)
	counts  map[string]int                            // rows per table when fast
	inserts int                                       // successful inserts
}

var (
	_ olap.Writer = (*fakeStore)(nil)
	_ olap.Reader = (*fakeStore)(nil)
)

func newFakeStore() *fakeStore { return &fakeStore{tables: map[string][]map[string]json.RawMessage{}} }

func (f *fakeStore) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func (f *fakeStore) Insert(ctx context.Context, table string, rows []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", olap.ErrUnavailable, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return fmt.Errorf("fake insert: %w", olap.ErrUnavailable)
	}
	if f.fast {
		if f.counts == nil {
			f.counts = map[string]int{}
		}
		f.counts[table] += bytes.Count(rows, []byte{'\n'})
		f.inserts++
		return nil
	}
	var parsed []map[string]json.RawMessage
	for line := range bytes.Lines(rows) {
		var row map[string]json.RawMessage
		if err := json.Unmarshal(line, &row); err != nil {
			return fmt.Errorf("fake insert: %w: line %q: %v", olap.ErrBadQuery, line, err)
		}
		if f.refuse != nil && f.refuse(row) {
			return fmt.Errorf("fake insert: %w: row %s refused", olap.ErrBadQuery, line)
		}
		parsed = append(parsed, row)
	}
	f.tables[table] = append(f.tables[table], parsed...)
	f.inserts++
	if f.lost > 0 {
		f.lost--
		return fmt.Errorf("fake insert: timed out: %w", olap.ErrUnavailable)
	}
	return nil
}

var offsetQuery = regexp.MustCompile("^SELECT max\\(_kafka_offset\\), count\\(\\) FROM `(\\w+)` WHERE _kafka_partition = \\{p:UInt32\\}$")

func (f *fakeStore) Query(ctx context.Context, sql string, params []olap.Param) (*olap.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, fmt.Errorf("fake query: %w", olap.ErrUnavailable)
	}
	m := offsetQuery.FindStringSubmatch(sql)
	if m == nil || len(params) != 1 || params[0].Name != "p" || params[0].Type != "UInt32" {
		return nil, fmt.Errorf("fake query: %w: unexpected %q %v", olap.ErrBadQuery, sql, params)
	}
	p := params[0].Value.(uint64)
	var maxOff, count uint64
	for _, row := range f.tables[m[1]] {
		var part, off uint64
		_ = json.Unmarshal(row[PartitionColumn], &part)
		_ = json.Unmarshal(row[OffsetColumn], &off)
		if part == p {
			count++
			maxOff = max(maxOff, off)
		}
	}
	return &olap.Result{
		Columns: []olap.ColumnMeta{{Name: "max(_kafka_offset)", Type: "UInt64"}, {Name: "count()", Type: "UInt64"}},
		Rows:    [][]json.RawMessage{{fmt.Appendf(nil, "%d", maxOff), fmt.Appendf(nil, "%d", count)}},
	}, nil
}

func (f *fakeStore) count(table string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fast {
		return f.counts[table]
	}
	return len(f.tables[table])
}

// waitRows waits until table holds at least n rows.
func (f *fakeStore) waitRows(t testing.TB, table string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for f.count(table) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d rows after 30s, want %d", table, f.count(table), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkExactlyOnce fails unless table holds each id in [0, n) exactly once,
// each with a distinct (partition, offset).
func (f *fakeStore) checkExactlyOnce(t testing.TB, table string, n int, except func(id int) bool) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := map[int]int{}
	pos := map[[2]uint64]bool{}
	for _, row := range f.tables[table] {
		var id int
		var part, off uint64
		if err := json.Unmarshal(row["id"], &id); err != nil {
			t.Fatalf("row without id: %v", row)
		}
		if err := json.Unmarshal(row[PartitionColumn], &part); err != nil {
			t.Fatalf("row without %s: %v", PartitionColumn, row)
		}
		if err := json.Unmarshal(row[OffsetColumn], &off); err != nil {
			t.Fatalf("row without %s: %v", OffsetColumn, row)
		}
		if pos[[2]uint64{part, off}] {
			t.Errorf("partition %d offset %d stored twice", part, off)
		}
		pos[[2]uint64{part, off}] = true
		seen[id]++
	}
	for id := range n {
		want := 1
		if except != nil && except(id) {
			want = 0
		}
		if seen[id] != want {
			t.Errorf("id %d stored %d times, want %d", id, seen[id], want)
		}
	}
	if len(f.tables[table]) != len(seen) {
		t.Errorf("%d rows for %d ids", len(f.tables[table]), len(seen))
	}
}

// committed sums the group's committed offsets over topic's partitions.
func committed(t testing.TB, cfg config.KafkaConfig, group, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetching offsets of %s: %v", group, err)
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil && o.At > 0 {
			sum += o.At
		}
	})
	return sum
}

// waitCommitted waits until group has committed n records of topic.
func waitCommitted(t testing.TB, cfg config.KafkaConfig, group, topic string, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := committed(t, cfg, group, topic)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s committed %d records of %s, want %d", group, got, topic, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readTopic returns every record in topic, read from the start to the end
// offsets listed when it is called.
func readTopic(t testing.TB, cfg config.KafkaConfig, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	var out []*kgo.Record
	for int64(len(out)) < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %d of %d records: %v", topic, len(out), want, err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}
