// Package project loads a user's project source dir (SPEC section 1): every
// *.toml file under it may declare [[data_model]] tables with their ingest
// routes and [[api]] consumption APIs. Load decodes the files strictly,
// fills the defaults (ingest = true, required = true, order_by = the key
// columns), infers API parameters from the {name:Type} placeholders in
// their SQL, and validates everything, naming the file and field of each
// problem. The result is read-only.
//
// ParseType is the one parser of the column and parameter type grammar
// (String, Int8..UInt64, Float32/64, Bool, Date, DateTime, DateTime64(p),
// UUID, Decimal(P, S), Array(T), LowCardinality(String)); the ingest encoder
// and the API layer build on its Type. Type.String is the canonical
// spelling, the one ClickHouse prints in system.columns, so schema diffs
// compare equal text.
//
// Decisions where SPEC is silent:
//   - Model names must be unique case-insensitively (ingest routes match
//     case-insensitively), and so must API name+version pairs; Project.API
//     matches names case-insensitively too. Column names are case-sensitive.
//   - A model's version is only part of its ingest route; the table is
//     always named after the model, so two versions of one model are a
//     duplicate. A model's dead-letter table <Model>_dead_letter may not
//     collide with another model's table.
//   - Versions match [0-9A-Za-z][0-9A-Za-z._-]*.
//   - order_by absent or empty means the key columns; Nullable columns and
//     key columns with required = false are errors (sorting keys cannot be
//     Nullable).
//   - default, min and max may be written as TOML strings, numbers or
//     booleans; they are kept as text and must parse for the placeholder's
//     type (Type.ParseValue). min/max apply to numeric, Date and DateTime
//     parameters only; a JWT-bound parameter cannot have a default.
//   - Array parameter values are written as JSON arrays: [1,2] or ["a","b"].
//   - Hidden files and directories, and a moose.config.toml, are skipped.
//   - Every jwt_claim produces a Warning; the server adds the "no JWT
//     configured" warning itself.
//
// It imports olap (schema types) and olap/chsql (the placeholder scanner
// shared with the engines), and no package that serves requests.
package project
