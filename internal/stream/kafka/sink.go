package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moose-go/moose/internal/config"
	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/olap/chsql"
)

// Sink defaults.
const (
	defaultMaxRecords    = 10_000  // records per poll, so at most per insert
	defaultMaxBytes      = 8 << 20 // bytes of JSONEachRow per insert
	defaultMaxBackoff    = 5 * time.Second
	defaultInsertTimeout = 30 * time.Second
	commitTimeout        = 10 * time.Second
)

// Dead-letter record headers besides ErrorHeader: where the record came from.
const (
	sourceTopicHeader     = "moose-source-topic"
	sourcePartitionHeader = "moose-source-partition"
	sourceOffsetHeader    = "moose-source-offset"
)

// errAborted stops a partition's retries: the context is done, the Sink is
// closing, or the group wants to rebalance.
var errAborted = errors.New("kafka sink: processing aborted")

type topicPartition struct {
	topic     string
	partition int32
}

// Sink consumes the tables' topics in a consumer group and inserts the
// records into their tables exactly once (see the package documentation).
// Run it in one goroutine; several Sinks (in one or many processes) with the
// same group share the partitions.
type Sink struct {
	cl     *kgo.Client
	w      olap.Writer
	r      olap.Reader
	log    *slog.Logger
	tables map[string]string // topic -> table

	closing   chan struct{}
	closeOnce sync.Once
	// rebalance is signalled when a group rebalance waits for Run to let go
	// of its partitions; Run stops retrying a failing engine then.
	rebalance chan struct{}

	mu     sync.Mutex
	stored map[topicPartition]int64 // highest offset in the table, -1 for none; absent: read it first

	// Limits, set by NewSink; tests lower them.
	maxRecords    int
	maxBytes      int
	maxBackoff    time.Duration
	insertTimeout time.Duration

	buf []byte // the insert being built; Run's goroutine only
}

// NewSink returns a Sink that moves the records of each table's topic
// (TopicFor(cfg.Namespace, table)) into the table through w, reading the
// stored offsets through r. A new group starts at the oldest record. Call
// Run, then Close.
func NewSink(cfg config.KafkaConfig, group string, w olap.Writer, r olap.Reader, tables []string, log *slog.Logger) (*Sink, error) {
	if group == "" {
		return nil, errors.New("kafka sink: empty consumer group")
	}
	if len(tables) == 0 {
		return nil, errors.New("kafka sink: no tables")
	}
	log = log.With("component", "kafka-sink")
	s := &Sink{
		w: w, r: r,
		log:           log.With("group", group), // franz-go names the group itself
		tables:        make(map[string]string, len(tables)),
		closing:       make(chan struct{}),
		rebalance:     make(chan struct{}, 1),
		stored:        map[topicPartition]int64{},
		maxRecords:    defaultMaxRecords,
		maxBytes:      defaultMaxBytes,
		maxBackoff:    defaultMaxBackoff,
		insertTimeout: defaultInsertTimeout,
	}
	topics := make([]string, 0, len(tables))
	for _, t := range tables {
		topic := TopicFor(cfg.Namespace, t)
		if _, dup := s.tables[topic]; !dup {
			topics = append(topics, topic)
		}
		s.tables[topic] = t
	}
	opts := append(clientOpts(cfg, log),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		// A replica killed mid-load hands its partitions over in ~10 s
		// rather than franz-go's default 45 s.
		kgo.SessionTimeout(10*time.Second),
		kgo.HeartbeatInterval(time.Second),
		// Partitions cannot move while Run holds records: every commit is
		// made by the partition's owner, before AllowRebalance.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(s.forgetPartitions),
		kgo.OnPartitionsRevoked(s.forgetPartitions),
		kgo.OnPartitionsLost(s.forgetPartitions),
		kgo.OnPartitionsCallbackBlocked(func(context.Context, *kgo.Client) {
			select {
			case s.rebalance <- struct{}{}:
			default:
			}
		}),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka sink: %w", err)
	}
	s.cl = cl
	return s, nil
}

// forgetPartitions drops what is known of the partitions' stored offsets:
// they are read again before the next insert. Nothing is committed here:
// Run commits before it allows a rebalance.
func (s *Sink) forgetPartitions(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, ps := range m {
		for _, p := range ps {
			delete(s.stored, topicPartition{topic, p})
		}
	}
}

// Run polls, inserts and commits until ctx is done or Close is called; it
// then returns nil. Records polled but not stored are not committed: they
// are consumed again, by this Sink or another member of the group.
func (s *Sink) Run(ctx context.Context) error {
	for {
		fs := s.cl.PollRecords(ctx, s.maxRecords)
		if fs.IsClientClosed() {
			return nil
		}
		if ctx.Err() != nil {
			s.cl.AllowRebalance()
			return nil
		}
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				s.log.Warn("kafka fetch failed", "topic", topic, "partition", p, "err", err)
			}
		})
		s.process(ctx, fs)
		s.cl.AllowRebalance()
	}
}

type partitionBatch struct {
	topicPartition
	recs []*kgo.Record
}

// process stores each partition's records, commits the stored ones, and
// rewinds the fetch position of partitions it gave up on.
func (s *Sink) process(ctx context.Context, fs kgo.Fetches) {
	var batches []*partitionBatch
	index := map[topicPartition]*partitionBatch{}
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		tp := topicPartition{p.Topic, p.Partition}
		b := index[tp]
		if b == nil {
			b = &partitionBatch{topicPartition: tp}
			index[tp] = b
			batches = append(batches, b)
		}
		b.recs = append(b.recs, p.Records...)
	})
	var commit []*kgo.Record
	rewind := map[string]map[int32]kgo.EpochOffset{}
	aborted := false
	for _, b := range batches {
		done := 0
		if !aborted {
			var err error
			done, err = s.storePartition(ctx, b)
			aborted = err != nil
		}
		if done > 0 {
			commit = append(commit, b.recs[done-1])
		}
		if done < len(b.recs) {
			if rewind[b.topic] == nil {
				rewind[b.topic] = map[int32]kgo.EpochOffset{}
			}
			rewind[b.topic][b.partition] = kgo.EpochOffset{Epoch: -1, Offset: b.recs[done].Offset}
		}
	}
	if len(commit) > 0 {
		// Not ctx: rows stored during shutdown are still committed.
		cctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
		err := s.cl.CommitRecords(cctx, commit...)
		cancel()
		if err != nil {
			// Harmless: the redelivered records are skipped by offset.
			s.log.Warn("committing offsets failed", "err", err)
		}
	}
	if len(rewind) > 0 {
		s.cl.SetOffsets(rewind)
	}
}

// storePartition inserts b's records that are not in the table yet, in
// batches, and sends the ones the engine refuses to the dead-letter topic.
// It returns how many leading records are done (stored, skipped or
// dead-lettered), and errAborted if it gave up before the end.
func (s *Sink) storePartition(ctx context.Context, b *partitionBatch) (int, error) {
	table, ok := s.tables[b.topic]
	if !ok { // not subscribed: cannot happen
		s.log.Error("record from an unknown topic", "topic", b.topic)
		return len(b.recs), nil
	}
	recs := b.recs
	i := 0
	attempt := 0
	aloneUntil := int64(-1) // records up to this offset are inserted one by one
	for i < len(recs) {
		stored, err := s.storedOffset(ctx, table, b.topicPartition)
		if err != nil {
			if s.wait(ctx, &attempt, "reading the stored offset", table, b, err) != nil {
				return i, errAborted
			}
			continue
		}
		for i < len(recs) && recs[i].Offset <= stored {
			i++
		}
		if i == len(recs) {
			break
		}
		n, bad := s.encode(b.partition, recs[i:], recs[i].Offset <= aloneUntil)
		if bad != nil {
			err = bad
		} else {
			err = s.insert(ctx, table, s.buf)
		}
		switch {
		case err == nil:
			s.setStored(b.topicPartition, recs[i+n-1].Offset)
			s.log.Debug("inserted", "table", table, "partition", b.partition, "rows", n,
				"last_offset", recs[i+n-1].Offset)
			i += n
			attempt = 0
		case refused(err) && n > 1:
			// Atomic insert: nothing was stored. Find the bad rows.
			s.log.Warn("engine refused a batch; inserting its rows one by one",
				"table", table, "partition", b.partition, "rows", n, "err", err)
			aloneUntil = recs[i+n-1].Offset
		case refused(err):
			if derr := s.deadLetter(ctx, recs[i], err); derr != nil {
				if s.wait(ctx, &attempt, "dead-lettering", table, b, derr) != nil {
					return i, errAborted
				}
				continue
			}
			s.log.Warn("row refused by the engine, sent to the dead-letter topic",
				"table", table, "partition", b.partition, "offset", recs[i].Offset,
				"dlq", DLQTopic(b.topic), "err", err)
			i++
			attempt = 0
		default:
			// The rows may have been stored (a timeout): read the offset again.
			s.forget(b.topicPartition)
			if s.wait(ctx, &attempt, "inserting", table, b, err) != nil {
				return i, errAborted
			}
		}
	}
	return i, nil
}

// refused reports whether the engine rejected the rows themselves, as
// opposed to being unreachable or missing the table (which a retry can fix).
func refused(err error) bool {
	return errors.Is(err, olap.ErrBadQuery) &&
		!errors.Is(err, olap.ErrTableNotFound) && !errors.Is(err, olap.ErrUnavailable)
}

// errNotRow is the dead-letter error of a record that is not one JSON object line.
var errNotRow = errors.New("record value is not a single-line JSON object")

// encode fills s.buf with JSONEachRow lines for the leading records of recs,
// each with the offset columns appended, within the byte limit (one record
// when alone). It returns how many records it took. If the first record is
// not a JSON object line it returns 1 and an error for the dead-letter topic.
func (s *Sink) encode(partition int32, recs []*kgo.Record, alone bool) (int, error) {
	s.buf = s.buf[:0]
	n := 0
	for _, r := range recs {
		line := bytes.TrimSpace(r.Value)
		if len(line) < 2 || line[0] != '{' || line[len(line)-1] != '}' || bytes.IndexByte(line, '\n') >= 0 {
			if n == 0 {
				return 1, fmt.Errorf("%w: %w", olap.ErrBadQuery, errNotRow)
			}
			break
		}
		if n > 0 && (len(s.buf)+len(line)+64 > s.maxBytes || alone) {
			break
		}
		body := line[:len(line)-1]
		s.buf = append(s.buf, body...)
		if len(bytes.TrimSpace(body)) > 1 { // not "{}"
			s.buf = append(s.buf, ',')
		}
		s.buf = append(s.buf, `"`+PartitionColumn+`":`...)
		s.buf = strconv.AppendInt(s.buf, int64(partition), 10)
		s.buf = append(s.buf, `,"`+OffsetColumn+`":`...)
		s.buf = strconv.AppendInt(s.buf, r.Offset, 10)
		s.buf = append(s.buf, "}\n"...)
		n++
		if alone {
			break
		}
	}
	return n, nil
}

func (s *Sink) insert(ctx context.Context, table string, rows []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.insertTimeout)
	defer cancel()
	return s.w.Insert(ctx, table, rows)
}

// storedOffset returns the highest offset of tp stored in table (-1 for
// none), reading it from the table the first time.
func (s *Sink) storedOffset(ctx context.Context, table string, tp topicPartition) (int64, error) {
	s.mu.Lock()
	off, ok := s.stored[tp]
	s.mu.Unlock()
	if ok {
		return off, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.insertTimeout)
	defer cancel()
	// max() of no rows is 0, not NULL (and maxOrNull is not in ClickHouse
	// 18.16): count() tells an empty partition from one holding offset 0.
	sql := "SELECT max(" + OffsetColumn + "), count() FROM " + chsql.QuoteIdent(table) +
		" WHERE " + PartitionColumn + " = {p:UInt32}"
	res, err := s.r.Query(ctx, sql, []olap.Param{{Name: "p", Type: "UInt32", Value: uint64(tp.partition)}})
	if refused(err) {
		return 0, fmt.Errorf("reading stored offsets of %s (does it have the %s and %s columns?): %w",
			table, PartitionColumn, OffsetColumn, err)
	}
	if err != nil {
		return 0, fmt.Errorf("reading stored offsets of %s: %w", table, err)
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 2 {
		return 0, fmt.Errorf("reading stored offsets of %s: want 1 row of 2 columns, got %d rows", table, len(res.Rows))
	}
	maxOff, err1 := parseUint(res.Rows[0][0])
	count, err2 := parseUint(res.Rows[0][1])
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("reading stored offsets of %s: %w", table, err)
	}
	off = -1
	if count > 0 {
		off = int64(maxOff)
	}
	s.log.Debug("stored offset", "table", table, "partition", tp.partition, "offset", off, "rows", count)
	s.setStored(tp, off)
	return off, nil
}

func parseUint(raw []byte) (uint64, error) {
	return strconv.ParseUint(string(bytes.Trim(raw, `"`)), 10, 64)
}

func (s *Sink) setStored(tp topicPartition, off int64) {
	s.mu.Lock()
	s.stored[tp] = off
	s.mu.Unlock()
}

func (s *Sink) forget(tp topicPartition) {
	s.mu.Lock()
	delete(s.stored, tp)
	s.mu.Unlock()
}

// deadLetter sends r's original value to its topic's dead-letter topic,
// with the engine's error and the record's origin in headers.
func (s *Sink) deadLetter(ctx context.Context, r *kgo.Record, cause error) error {
	headers := append(r.Headers[:len(r.Headers):len(r.Headers)],
		kgo.RecordHeader{Key: ErrorHeader, Value: []byte(cause.Error())},
		kgo.RecordHeader{Key: sourceTopicHeader, Value: []byte(r.Topic)},
		kgo.RecordHeader{Key: sourcePartitionHeader, Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
		kgo.RecordHeader{Key: sourceOffsetHeader, Value: strconv.AppendInt(nil, r.Offset, 10)},
	)
	return produce(ctx, s.cl, DLQTopic(r.Topic), [][]byte{r.Value}, headers)
}

// wait logs a failure and sleeps the next backoff (100 ms doubling, capped
// at maxBackoff). It returns errAborted if ctx is done, the Sink is
// closing, or a rebalance is waiting.
func (s *Sink) wait(ctx context.Context, attempt *int, what, table string, b *partitionBatch, err error) error {
	d := s.maxBackoff
	if *attempt < 16 {
		d = min(100*time.Millisecond<<*attempt, s.maxBackoff)
	}
	*attempt++
	s.log.Warn("engine write failed; will retry, offsets not committed",
		"op", what, "table", table, "partition", b.partition, "attempt", *attempt, "retry_in", d, "err", err)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
	case <-s.closing:
	case <-s.rebalance:
		s.log.Info("giving up the batch for a group rebalance", "table", table, "partition", b.partition)
	}
	return errAborted
}

// Close stops Run, leaves the group and closes the client. Offsets of rows
// not yet stored are not committed. Cancel Run's context and wait for Run to
// return first for the quickest shutdown.
func (s *Sink) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.cl.Close()
	})
}
