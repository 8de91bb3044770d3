// Package chsql renders ClickHouse SQL text that both engines share: quoted
// identifiers, DDL for olap.Change values, typed and escaped literals, the
// escaped text form of query-parameter values, and the substitution of
// {name:Type} placeholders by literals for servers that cannot bind
// parameters (ClickHouse 18.16).
//
// Dialect captures what differs between ClickHouse versions. The package
// imports only olap and the standard library.
package chsql
