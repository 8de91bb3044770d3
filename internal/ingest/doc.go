// Package ingest owns POST /ingest/<Model>[/<version>]: it reads the body
// under a size limit, validates every record against the model and encodes
// it as JSONEachRow (record.go), then hands the rows to a Sink and answers
// 200 only once the Sink says they are durable.
//
// Two sinks exist: Batcher, which group-commits concurrent requests into
// one olap.Writer insert per table, and the Kafka producer (package
// stream/kafka, wrapped by the server). ingest imports olap, project, httpx
// and config; never auth, api, admin or server. Authentication has already
// run: the handler reads the Principal from the request context.
package ingest
