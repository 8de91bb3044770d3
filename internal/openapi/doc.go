// Package openapi renders a project's HTTP surface as an OpenAPI 3.0.3
// document in YAML: every ingest route (POST /ingest/<Model> and its
// versioned path) with a request body typed from the model's columns, and
// every analytics API (GET /api/<name> and /consumption/<name>) with its
// query parameters typed, bounded and defaulted as the server binds them.
//
// The document is derived from a *project.Project only, so the CLI
// (`moose generate openapi`) and the server (GET /openapi.yaml on the
// management port) produce the same bytes for the same project files.
//
// Decisions where SPEC is silent:
//   - Columns and parameters bound from a JWT claim are left out: clients
//     must not send them (the server answers 400). Operations that use them
//     say so in their description.
//   - The SQL of an API is not published: the document may be shown to
//     API clients.
//   - Int8..Int32, UInt8 and UInt16 are format int32, Int64 and UInt32 are
//     format int64, UInt64 has no format (it does not fit int64); all carry
//     their exact minimum and maximum. Decimal is a number or a numeric
//     string in a request body and a numeric string in a query parameter.
//     Each schema carries its ClickHouse type as x-clickhouse-type.
//   - Every operation lists bearerAuth: whether a scope needs a JWT, an API
//     key or nothing is the server's configuration, not the project's.
//   - Component schemas are named after models; the error schema is
//     moose.Error, which no model name can collide with.
//
// It imports project (and its type parser) and a YAML encoder; nothing that
// serves requests.
package openapi
