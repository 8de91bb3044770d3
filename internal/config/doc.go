// Package config owns moose's configuration: the structs that mirror
// MooseStack's moose.config.toml, their defaults, loading with the .env and
// environment-variable layering of SPEC section 2, validation at boot, and
// the Secret type that redacts itself wherever it is printed.
//
// It imports only the standard library and the TOML decoder. Every other
// internal package may import it; it imports none of them. A Config is
// read-only once Load returns.
package config
