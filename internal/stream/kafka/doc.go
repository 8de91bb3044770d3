// Package kafka is the Kafka/Redpanda implementation of package stream, on
// franz-go: a Producer that ingest writes through (idempotent, acknowledged
// by all in-sync replicas), topic naming and creation, and a Sink that moves
// records from the topics into their OLAP tables exactly once.
//
// # Topics
//
// A table's topic is TopicFor(namespace, table): the table name, prefixed by
// the namespace and a dot when redpanda_config.namespace is set ("prod" and
// "Events" give "prod.Events"). Rows the engine refuses go to the table's
// dead-letter topic, DLQTopic(topic) = topic + ".dlq". EnsureTopics creates
// missing topics with redpanda_config.partitions partitions and
// redpanda_config.replication_factor replicas (capped to the broker count).
//
// # Exactly once into the table
//
// A record's value is one JSONEachRow line. The Sink appends two columns to
// each row it inserts, _kafka_partition UInt32 and _kafka_offset UInt64 (see
// OffsetColumns: the server adds them to every model table when streaming is
// on; the names are reserved). Before its first insert into a partition's
// table after the partition is assigned (and after any insert whose outcome
// is unknown, such as a timeout), the Sink reads the highest stored offset of
// that partition with
//
//	SELECT max(_kafka_offset), count() FROM <table> WHERE _kafka_partition = {p:UInt32}
//
// and skips every record at or below it. Offsets are committed to the group
// only after the insert succeeded, so a crash between insert and commit
// redelivers rows that are then skipped. This relies on three assumptions:
//
//   - an insert is atomic (olap.Writer stores a batch whole or not at all);
//   - a partition is consumed by one Sink at a time. The group protocol
//     guarantees this except for a zombie: a member cut off from the
//     coordinator for longer than the session timeout (45 s) that is still
//     inside an insert while the partition's new owner reads the stored offset
//     can store the same rows twice;
//   - a topic is never deleted and re-created while its table keeps rows (the
//     new topic's offsets restart at 0 and would be skipped). Truncate the
//     table, or drop the offset columns' rows, when re-creating a topic.
//
// Records whose row the engine refuses (olap.ErrBadQuery) are retried one by
// one; the ones still refused go, unchanged, to the dead-letter topic with the
// error in the "moose-error" header. The dead-letter topic is at least once: a
// crash after the dead-letter produce and before the commit sends the record
// again. While the engine is unavailable the Sink retries with backoff (capped
// at 5 s) and commits nothing; ingest keeps answering because it needs only
// Kafka.
//
// The package imports stream, olap, olap/chsql (identifier quoting) and config.
package kafka
