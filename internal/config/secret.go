package config

import "log/slog"

// Secret holds a key, hash or password. It prints, marshals and logs as
// "<redacted>" (or "" when empty) so config dumps and log lines cannot leak
// it; the value is reachable only through Reveal.
type Secret string

const redacted = "<redacted>"

// Reveal returns the secret value. Call it only where the value is used.
func (s Secret) Reveal() string { return string(s) }

// Empty reports whether no value is set.
func (s Secret) Empty() bool { return s == "" }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// MarshalText is used by JSON and TOML encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the real value from TOML.
func (s *Secret) UnmarshalText(b []byte) error { *s = Secret(b); return nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
