package config

import (
	"fmt"
	"log/slog"
)

// Secret holds a key, hash or password. It prints, marshals and logs as
// "<redacted>" (or "" when empty) so config dumps and log lines cannot leak
// it; the value is reachable only through Reveal.
type Secret string

const redacted = "<redacted>"

// Reveal returns the secret value. Call it only where the value is used.
func (s Secret) Reveal() string { return string(s) }

// Empty reports whether no value is set.
func (s Secret) Empty() bool { return s == "" }

// String returns "<redacted>", or "" when the secret is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Format implements fmt.Formatter so that every verb, including those that
// bypass String such as %d, %t or %x of an enclosing struct, formats the
// redacted text and never the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = fmt.Fprint(f, s.GoString())
		return
	}
	_, _ = fmt.Fprintf(f, fmt.FormatString(f, verb), s.String())
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// MarshalText is used by JSON and TOML encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the real value from TOML.
func (s *Secret) UnmarshalText(b []byte) error { *s = Secret(b); return nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
