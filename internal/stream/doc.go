// Package stream is the contract between ingest and a durable log (Kafka or
// Redpanda) that sits in front of the OLAP tables when
// features.streaming_engine is on: a Producer that returns only once every
// value is acknowledged, and the Message it stores.
//
// Implementations: stream/kafka (franz-go) for the product, and Memory here
// for tests of the packages above. stream imports only config and the
// standard library; it never imports olap, ingest or server.
package stream
