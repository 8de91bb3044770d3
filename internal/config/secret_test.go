package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// secretConfig returns a config with every Secret field set to a value
// containing secretMarker.
func secretConfig() Config {
	c := Default()
	c.ClickHouse.Password = "SEKRIT-password"
	c.JWT.Secret = "-----BEGIN PUBLIC KEY-----\nSEKRIT-jwt\n-----END PUBLIC KEY-----"
	c.JWT.Issuer, c.JWT.Audience = "iss", "aud"
	c.Authentication.AdminAPIKey = "SEKRIT-admin"
	c.Authentication.IngestAPIKey = "SEKRIT-ingest"
	c.Authentication.ConsumptionAPIKey = "SEKRIT-consumption"
	c.Authentication.AdminToken = "SEKRIT-token"
	return c
}

// TestElideSecrets proves that no way of printing, encoding or logging a
// Config shows a secret (after prometheus' TestElideSecrets).
func TestElideSecrets(t *testing.T) {
	c := secretConfig()
	// Every Secret field of Config must be set above, so that a new one is
	// covered too.
	for _, s := range settings().list {
		if s.secret() && s.field(&c).String() == "" {
			t.Fatalf("secretConfig does not set %s", s.key)
		}
	}

	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%10.4v", "%U"} {
		outputs["fmt "+verb] = fmt.Sprintf(verb, c)
		outputs["fmt pointer "+verb] = fmt.Sprintf(verb, &c)
		outputs["fmt field "+verb] = fmt.Sprintf(verb, c.JWT.Secret)
		outputs["fmt field pointer "+verb] = fmt.Sprintf(verb, &c.Authentication.AdminToken)
		outputs["fmt nested "+verb] = fmt.Sprintf(verb, c.Authentication)
	}
	outputs["fmt Sprint"] = fmt.Sprint(c, c.Authentication.IngestAPIKey)
	outputs["fmt Sprintln"] = fmt.Sprintln(c, c.Authentication.IngestAPIKey)
	outputs["error wrap"] = fmt.Errorf("bad key %v: %w", c.Authentication.AdminAPIKey, errors.New("x")).Error()

	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(j)
	j, err = json.MarshalIndent(map[string]any{"auth": c.Authentication, "key": c.JWT.Secret}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	outputs["json map"] = string(j)

	var tb bytes.Buffer
	if err := toml.NewEncoder(&tb).Encode(c); err != nil {
		t.Fatal(err)
	}
	outputs["toml"] = tb.String()
	tb.Reset()
	if err := toml.NewEncoder(&tb).Encode(map[string]any{"auth": c.Authentication}); err != nil {
		t.Fatal(err)
	}
	outputs["toml map"] = tb.String()

	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var b bytes.Buffer
		log := slog.New(h(&b))
		log.Info("config", "cfg", c, "ptr", &c, "secret", c.JWT.Secret, "auth", c.Authentication)
		log.Info("attrs", slog.Any("token", c.Authentication.AdminToken), slog.String("s", c.ClickHouse.Password.String()))
		log.WithGroup("g").Info("group", "key", c.Authentication.IngestAPIKey)
		outputs["slog "+name] = b.String()
	}

	for name, out := range outputs {
		if strings.Contains(out, secretMarker) {
			t.Errorf("%s leaks a secret:\n%s", name, out)
		}
	}
	// JSON escapes "<" and ">", so look for the word only.
	if !strings.Contains(outputs["json"], "redacted") || !strings.Contains(outputs["slog text"], redacted) {
		t.Errorf("redaction marker missing:\n%s\n%s", outputs["json"], outputs["slog text"])
	}
}

func TestSecret(t *testing.T) {
	var empty Secret
	s := Secret("SEKRIT")
	tests := []struct {
		name, got, want string
	}{
		{"Reveal", s.Reveal(), "SEKRIT"},
		{"String", s.String(), redacted},
		{"String empty", empty.String(), ""},
		{"%v", fmt.Sprintf("%v", s), redacted},
		{"%q", fmt.Sprintf("%q", s), `"<redacted>"`},
		{"%#v", fmt.Sprintf("%#v", s), `config.Secret("<redacted>")`},
		{"%#v empty", fmt.Sprintf("%#v", empty), `config.Secret("")`},
		{"%d", fmt.Sprintf("%d", s), "%!d(string=<redacted>)"},
		{"LogValue", s.LogValue().String(), redacted},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if !empty.Empty() || s.Empty() {
		t.Error("Empty")
	}
	var back Secret
	if err := back.UnmarshalText([]byte("SEKRIT")); err != nil || back != s {
		t.Errorf("UnmarshalText = %q, %v", back.Reveal(), err)
	}
}
