// Package clickhouse is the olap.Store over a ClickHouse server's HTTP
// interface, written with net/http only.
//
// Open detects the server version once (SELECT version()) and picks what the
// server supports: the chsql.Legacy18 dialect for servers older than 19 (the
// 18.16 that Debian ships), chsql.Modern otherwise; server-side query
// parameters (param_<name>) from 19.11 on, typed escaped literals rendered
// by chsql before that. Every request sets the JSON behaviour moose relies on
// (unquoted 64-bit integers, best-effort date parsing, unknown fields
// rejected) explicitly, because defaults differ between versions.
//
// Credentials travel only in the X-ClickHouse-User and X-ClickHouse-Key
// headers, never in URLs, errors or log lines. Errors wrap the olap sentinels
// (ErrTableNotFound, ErrBadQuery, ErrUnavailable, ErrClosed) and carry the
// server's error code in *Error.
//
// The package imports olap, olap/chsql and config; nothing imports it but
// the server (and tests).
package clickhouse
