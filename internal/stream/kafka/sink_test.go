package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moose-go/moose/internal/olap"
)

func produceRows(t testing.TB, p *Producer, topic string, first, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	const chunk = 500
	for i := first; i < first+n; i += chunk {
		if err := p.Produce(ctx, topic, rowsOf(i, min(chunk, first+n-i))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSinkEncode(t *testing.T) {
	s := &Sink{maxBytes: 1 << 20}
	recs := []*kgo.Record{
		{Offset: 7, Value: []byte(`{"a":1}`)},
		{Offset: 8, Value: []byte("{}\n")},
		{Offset: 9, Value: []byte(` { } `)},
		{Offset: 10, Value: []byte(`{"s":"}"}`)},
		{Offset: 11, Value: []byte(`not json`)},
	}
	n, err := s.encode(3, recs, false)
	if err != nil || n != 4 {
		t.Fatalf("encode = %d, %v; want 4 records", n, err)
	}
	want := `{"a":1,"_kafka_partition":3,"_kafka_offset":7}` + "\n" +
		`{"_kafka_partition":3,"_kafka_offset":8}` + "\n" +
		`{ "_kafka_partition":3,"_kafka_offset":9}` + "\n" +
		`{"s":"}","_kafka_partition":3,"_kafka_offset":10}` + "\n"
	if string(s.buf) != want {
		t.Errorf("encode:\n%s\nwant\n%s", s.buf, want)
	}
	for line := range strings.Lines(string(s.buf)) {
		if !json.Valid([]byte(line)) {
			t.Errorf("invalid JSON %q", line)
		}
	}
	if n, err := s.encode(3, recs[4:], false); n != 1 || !refused(err) {
		t.Errorf("malformed record: encode = %d, %v; want 1 refused", n, err)
	}
	if n, _ := s.encode(3, recs, true); n != 1 {
		t.Errorf("alone: encode = %d records, want 1", n)
	}
	s.maxBytes = 100
	if n, _ := s.encode(3, recs, false); n != 1 {
		t.Errorf("byte cap: encode = %d records, want 1", n)
	}
}

// TestSinkEndToEnd: produced rows reach the table once each, carrying their
// partition and offset, and the group commits every offset.
func TestSinkEndToEnd(t *testing.T) {
	_, cfg := newCluster(t)
	p := newProducer(t, cfg, "A", "B")
	st := newFakeStore()
	startSink(t, cfg, "g", st, "A", "B")

	produceRows(t, p, TopicFor(cfg.Namespace, "A"), 0, 3000)
	produceRows(t, p, TopicFor(cfg.Namespace, "B"), 0, 700)
	st.waitRows(t, "A", 3000)
	st.waitRows(t, "B", 700)
	waitCommitted(t, cfg, "g", TopicFor(cfg.Namespace, "A"), 3000)
	waitCommitted(t, cfg, "g", TopicFor(cfg.Namespace, "B"), 700)
	st.checkExactlyOnce(t, "A", 3000, nil)
	st.checkExactlyOnce(t, "B", 700, nil)
}

// TestSinkCrashBeforeCommit: a Sink stores rows but none of its commits
// reach the broker (as if it died after each insert); a new Sink in the
// same group gets every record again and must not store any twice.
func TestSinkCrashBeforeCommit(t *testing.T) {
	c, cfg := newCluster(t)
	p := newProducer(t, cfg, "A")
	topic := TopicFor(cfg.Namespace, "A")
	st := newFakeStore()

	fault := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: "g", Count: -1,
		Err: kerr.GroupAuthorizationFailed})
	first := startSink(t, cfg, "g", st, "A")
	produceRows(t, p, topic, 0, 2000)
	st.waitRows(t, "A", 2000)
	first.stop()
	fault.Remove()
	if n := committed(t, cfg, "g", topic); n != 0 {
		t.Fatalf("committed %d offsets despite the fault", n)
	}

	startSink(t, cfg, "g", st, "A")
	produceRows(t, p, topic, 2000, 500)
	st.waitRows(t, "A", 2500)
	waitCommitted(t, cfg, "g", topic, 2500)
	st.checkExactlyOnce(t, "A", 2500, nil)
}

// TestSinkEngineUnavailable: while the engine is down, producing still
// succeeds and nothing is committed; once it is back every row arrives once.
func TestSinkEngineUnavailable(t *testing.T) {
	_, cfg := newCluster(t)
	p := newProducer(t, cfg, "A")
	topic := TopicFor(cfg.Namespace, "A")
	st := newFakeStore()
	st.setDown(true)
	startSink(t, cfg, "g", st, "A")

	produceRows(t, p, topic, 0, 1500)
	time.Sleep(700 * time.Millisecond) // several retries
	if n := st.count("A"); n != 0 {
		t.Fatalf("%d rows stored while down", n)
	}
	if n := committed(t, cfg, "g", topic); n != 0 {
		t.Fatalf("committed %d offsets while the engine is down", n)
	}
	st.setDown(false)
	produceRows(t, p, topic, 1500, 500)
	st.waitRows(t, "A", 2000)
	waitCommitted(t, cfg, "g", topic, 2000)
	st.checkExactlyOnce(t, "A", 2000, nil)
}

// TestSinkAmbiguousInsert: inserts that store the rows but report a timeout
// are retried after re-reading the stored offset, so nothing is doubled.
func TestSinkAmbiguousInsert(t *testing.T) {
	_, cfg := newCluster(t)
	p := newProducer(t, cfg, "A")
	st := newFakeStore()
	st.lost = 3
	startSink(t, cfg, "g", st, "A")
	for i := 0; i < 1000; i += 100 { // at least one insert each
		produceRows(t, p, TopicFor(cfg.Namespace, "A"), i, 100)
		st.waitRows(t, "A", i+100)
	}
	waitCommitted(t, cfg, "g", TopicFor(cfg.Namespace, "A"), 1000)
	st.checkExactlyOnce(t, "A", 1000, nil)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.lost != 0 {
		t.Errorf("%d lost inserts left", st.lost)
	}
}

// TestSinkDeadLetter: rows the engine refuses go to <topic>.dlq unchanged,
// with the error in a header; the others are stored and all are committed.
func TestSinkDeadLetter(t *testing.T) {
	_, cfg := newCluster(t)
	p := newProducer(t, cfg, "A")
	topic := TopicFor(cfg.Namespace, "A")
	st := newFakeStore()
	bad := func(id int) bool { return id%50 == 7 }
	st.refuse = func(row map[string]json.RawMessage) bool {
		var id int
		_ = json.Unmarshal(row["id"], &id)
		return bad(id)
	}
	startSink(t, cfg, "g", st, "A")
	produceRows(t, p, topic, 0, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Produce(ctx, topic, [][]byte{[]byte("not a row")}); err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, cfg, "g", topic, 1001)
	st.checkExactlyOnce(t, "A", 1000, bad)

	dlq := readTopic(t, cfg, DLQTopic(topic))
	if len(dlq) != 1000/50+1 {
		t.Fatalf("%d dead letters, want %d", len(dlq), 1000/50+1)
	}
	for _, r := range dlq {
		h := map[string]string{}
		for _, kv := range r.Headers {
			h[kv.Key] = string(kv.Value)
		}
		if h[sourceTopicHeader] != topic || h[sourceOffsetHeader] == "" || h[sourcePartitionHeader] == "" {
			t.Errorf("dead letter %s: headers %v", r.Value, h)
		}
		var row struct{ ID int }
		switch {
		case string(r.Value) == "not a row":
			if !strings.Contains(h[ErrorHeader], "not a single-line JSON object") {
				t.Errorf("dead letter %s: %s = %q", r.Value, ErrorHeader, h[ErrorHeader])
			}
		case json.Unmarshal(r.Value, &row) != nil || !bad(row.ID) ||
			string(r.Value) != fmt.Sprintf(`{"id":%d,"name":"row %d"}`, row.ID, row.ID):
			t.Errorf("unexpected dead letter %s", r.Value)
		case !strings.Contains(h[ErrorHeader], "refused"):
			t.Errorf("dead letter %s: %s = %q", r.Value, ErrorHeader, h[ErrorHeader])
		}
	}
}

// TestSinkRebalance: a second Sink joins the group and the first leaves
// while rows flow; every row is stored once.
func TestSinkRebalance(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: group rebalances")
	}
	_, cfg := newCluster(t)
	p := newProducer(t, cfg, "A")
	topic := TopicFor(cfg.Namespace, "A")
	st := newFakeStore()
	first := startSink(t, cfg, "g", st, "A")
	produceRows(t, p, topic, 0, 1000)
	st.waitRows(t, "A", 1000)
	startSink(t, cfg, "g", st, "A")
	produceRows(t, p, topic, 1000, 1000)
	first.stop()
	produceRows(t, p, topic, 2000, 1000)
	st.waitRows(t, "A", 3000)
	waitCommitted(t, cfg, "g", topic, 3000)
	st.checkExactlyOnce(t, "A", 3000, nil)
}

// TestSinkRebalanceWhileDown: a Sink holding records it cannot store gives
// them up when a second member joins; the partitions it keeps are rewound,
// so once the engine is back every row arrives once.
func TestSinkRebalanceWhileDown(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: group rebalances")
	}
	_, cfg := newCluster(t)
	p := newProducer(t, cfg, "A")
	topic := TopicFor(cfg.Namespace, "A")
	st := newFakeStore()
	st.setDown(true)
	startSink(t, cfg, "g", st, "A")
	for i := 0; i < 2000; i += 50 { // spread over the partitions
		produceRows(t, p, topic, i, 50)
	}
	time.Sleep(300 * time.Millisecond)
	startSink(t, cfg, "g", st, "A")
	time.Sleep(time.Second) // rebalance while down
	st.setDown(false)
	produceRows(t, p, topic, 2000, 500)
	st.waitRows(t, "A", 2500)
	waitCommitted(t, cfg, "g", topic, 2500)
	st.checkExactlyOnce(t, "A", 2500, nil)
}

// TestSinkMissingColumns: a table without the offset columns holds the
// records in Kafka (nothing is dead-lettered or committed) until it is fixed.
func TestSinkMissingColumns(t *testing.T) {
	_, cfg := newCluster(t)
	p := newProducer(t, cfg, "A")
	topic := TopicFor(cfg.Namespace, "A")
	st := newFakeStore()
	var broken atomic.Bool
	broken.Store(true)
	r := readerFunc(func(ctx context.Context, sql string, params []olap.Param) (*olap.Result, error) {
		if broken.Load() {
			return nil, fmt.Errorf("fake: %w: Missing columns: '_kafka_offset'", olap.ErrBadQuery)
		}
		return st.Query(ctx, sql, params)
	})
	startSink(t, cfg, "g", struct {
		olap.Writer
		olap.Reader
	}{st, r}, "A")
	produceRows(t, p, topic, 0, 300)
	time.Sleep(500 * time.Millisecond)
	if n := st.count("A") + len(readTopic(t, cfg, DLQTopic(topic))) + int(committed(t, cfg, "g", topic)); n != 0 {
		t.Fatalf("rows stored, dead-lettered or committed while the table is broken: %d", n)
	}
	broken.Store(false)
	st.waitRows(t, "A", 300)
	waitCommitted(t, cfg, "g", topic, 300)
	st.checkExactlyOnce(t, "A", 300, nil)
}

type readerFunc func(ctx context.Context, sql string, params []olap.Param) (*olap.Result, error)

func (f readerFunc) Query(ctx context.Context, sql string, params []olap.Param) (*olap.Result, error) {
	return f(ctx, sql, params)
}

// TestSinkClose: Close alone (Run's context still live) stops Run.
func TestSinkClose(t *testing.T) {
	_, cfg := newCluster(t)
	p := newProducer(t, cfg, "A")
	st := newFakeStore()
	rs := startSink(t, cfg, "g", st, "A")
	produceRows(t, p, TopicFor(cfg.Namespace, "A"), 0, 100)
	st.waitRows(t, "A", 100)
	st.setDown(true) // Run is retrying when Close comes
	produceRows(t, p, TopicFor(cfg.Namespace, "A"), 100, 100)
	time.Sleep(300 * time.Millisecond)
	closed := make(chan struct{})
	go func() { rs.Close(); close(closed) }()
	select {
	case err := <-rs.done:
		rs.done = nil
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run still running 10s after Close")
	}
	<-closed
}
