// Package config owns moose's configuration: the structs that mirror
// MooseStack's moose.config.toml, their defaults, loading with the .env and
// environment-variable layering of SPEC section 2, validation at boot, and
// the Secret type that redacts itself wherever it is printed.
//
// Load layers, later wins: Default(), moose.config.toml, .env, then
// .env.development and .env.local (ModeDev) or .env.production (ModeProd),
// then the process environment. The .env files hold variables, read exactly
// like the environment; only MOOSE_ names are read.
//
// Every key can be set by a variable MOOSE_<TABLE>__<KEY> (table and key
// matched case-insensitively; MOOSE_KAFKA_CONFIG__* is the same as
// MOOSE_REDPANDA_CONFIG__*), and top-level keys by MOOSE_<KEY>. The seed's
// names are aliases: MOOSE_JWT_PUBLIC_KEY (jwt.secret), MOOSE_JWT_ISSUER,
// MOOSE_JWT_AUDIENCE, MOOSE_INGEST_API_KEY, MOOSE_CONSUMPTION_API_KEY and
// MOOSE_ADMIN_TOKEN; the last three (and
// MOOSE_AUTHENTICATION__{INGEST_API_KEY,CONSUMPTION_API_KEY,ADMIN_TOKEN})
// are environment-only. Two names for one setting with different values,
// whatever their layers, stop start-up (ConflictError).
//
// Unknown keys and unknown MOOSE_<TABLE>__<KEY> variables are warnings;
// wrong types and bad values are errors naming the file or variable, the key
// and the reason (FieldError). No warning or error contains a secret value.
//
// It imports only the standard library and the TOML decoder. Every other
// internal package may import it; it imports none of them. A Config is
// read-only once Load returns.
package config
