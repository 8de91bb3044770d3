// Package server assembles moose: it loads the configuration and the
// project, opens the engine (embedded chDB or a ClickHouse server, chosen by
// a plain switch), brings the tables up to date, wires every route with its
// middleware in routes.go, and runs the HTTP servers until the context ends,
// then shuts down in order: stop accepting, finish in-flight requests, drain
// the insert batches (or flush Kafka), close the engine.
//
// server is the only package that holds an olap.Store. It imports auth,
// ingest, api, admin, olap/*, stream/*, project, httpx and config; only
// cmd/moose imports it.
package server
