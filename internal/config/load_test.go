package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// secretMarker is part of every secret value in fixtures and tests; no error
// or warning may ever contain it.
const secretMarker = "SEKRIT"

// project writes files into a fresh project directory and returns it.
func project(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if _, ok := files[FileName]; !ok {
		files[FileName] = ""
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func warningStrings(ws []Warning) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.String()
	}
	return out
}

// assertNoSecret fails if s contains a secret value.
func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	if strings.Contains(s, secretMarker) {
		t.Errorf("%s leaks a secret: %s", what, s)
	}
}

// TestFixtures loads every testdata/*.good.toml and *.bad.toml as a project
// file. A good one must load, and its config (TOML-encoded, secrets
// redacted) and warnings must match NAME.golden; a bad one must fail with
// exactly the error in NAME.golden. Run with -update to rewrite them.
func TestFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		good := strings.HasSuffix(name, ".good.toml")
		if !good && !strings.HasSuffix(name, ".bad.toml") {
			t.Fatalf("%s: fixture must end in .good.toml or .bad.toml", name)
		}
		t.Run(strings.TrimSuffix(name, ".toml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			dir := project(t, map[string]string{FileName: string(data)})
			cfg, warnings, err := Load(dir, ModeDev, nil)

			var got bytes.Buffer
			switch {
			case good && err != nil:
				t.Fatalf("want success, got error:\n%v", err)
			case !good && err == nil:
				t.Fatalf("want an error, got success")
			case good:
				if err := toml.NewEncoder(&got).Encode(cfg); err != nil {
					t.Fatal(err)
				}
			default:
				got.WriteString(err.Error() + "\n")
			}
			for _, w := range warnings {
				got.WriteString("# warning: " + w.String() + "\n")
			}
			assertNoSecret(t, "output", got.String())

			golden := strings.TrimSuffix(file, ".toml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got.String() != string(want) {
				t.Errorf("output differs from %s (run go test -update and review the diff)\ngot:\n%s\nwant:\n%s", golden, got.String(), want)
			}
		})
	}
}

// TestFullFixtureValues checks the values of full.good.toml that the golden
// file cannot show: secrets, and typed fields.
func TestFullFixtureValues(t *testing.T) {
	data, err := os.ReadFile("testdata/full.good.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Load(project(t, map[string]string{FileName: string(data)}), ModeProd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.ClickHouse.Password.Reveal(); got != "SEKRIT-password" {
		t.Errorf("password = %q", got)
	}
	if got := cfg.Authentication.AdminAPIKey.Reveal(); got != "SEKRIT-admin-hash" {
		t.Errorf("admin_api_key = %q, want it trimmed", got)
	}
	wantPEM := "-----BEGIN PUBLIC KEY-----\nSEKRIT-jwt-key\n-----END PUBLIC KEY-----"
	if got := cfg.JWT.Secret.Reveal(); got != wantPEM {
		t.Errorf("jwt.secret = %q, want %q", got, wantPEM)
	}
	if !cfg.JWT.Configured() {
		t.Error("JWT not configured")
	}
	if cfg.JWT.Leeway.Duration != 90*time.Second {
		t.Errorf("leeway = %v", cfg.JWT.Leeway)
	}
	if got := cfg.Kafka.Brokers(); len(got) != 2 || got[0] != "k1:9092" || got[1] != "k2:9092" {
		t.Errorf("brokers = %q", got)
	}
	if cfg.ListenAddr() != "0.0.0.0:8080" || cfg.ManagementAddr() != "0.0.0.0:9090" {
		t.Errorf("addrs = %s %s", cfg.ListenAddr(), cfg.ManagementAddr())
	}
}

func TestLoadNotAProject(t *testing.T) {
	dir := t.TempDir()
	_, _, err := Load(dir, ModeDev, nil)
	if !errors.Is(err, ErrNotProject) {
		t.Fatalf("err = %v, want ErrNotProject", err)
	}
	for _, want := range []string{filepath.Join(dir, FileName), "run moose init NAME"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestLoadUnknownMode(t *testing.T) {
	if _, _, err := Load(project(t, map[string]string{}), Mode("staging"), nil); err == nil {
		t.Fatal("want an error for an unknown mode")
	}
}

func TestLoadDefaults(t *testing.T) {
	cfg, warnings, err := Load(project(t, map[string]string{}), ModeDev, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q", warningStrings(warnings))
	}
	def := Default()
	if *cfg != def {
		t.Errorf("empty project file: got %+v, want Default() %+v", *cfg, def)
	}
	if cfg.ListenAddr() != "localhost:4000" || cfg.ManagementAddr() != "localhost:5001" {
		t.Errorf("addrs = %s %s", cfg.ListenAddr(), cfg.ManagementAddr())
	}
}

// TestLayering pins the order: toml < .env < .env.development (dev) or
// .env.production (prod) < .env.local (dev only) < process environment.
func TestLayering(t *testing.T) {
	const v = "MOOSE_HTTP_SERVER_CONFIG__PORT"
	all := map[string]string{
		FileName:           "[http_server_config]\nport = 1001\n",
		".env":             v + "=1002\n",
		".env.development": v + "=1003\n",
		".env.production":  v + "=1004\n",
		".env.local":       v + "=1005\n",
	}
	without := func(names ...string) map[string]string {
		m := map[string]string{}
		for k, val := range all {
			m[k] = val
		}
		for _, n := range names {
			delete(m, n)
		}
		return m
	}
	env := []string{v + "=1006"}
	tests := []struct {
		name    string
		files   map[string]string
		mode    Mode
		environ []string
		want    int
	}{
		{"dev: environment wins", without(), ModeDev, env, 1006},
		{"dev: .env.local over .env.development", without(), ModeDev, nil, 1005},
		{"dev: .env.development over .env", without(".env.local"), ModeDev, nil, 1003},
		{"dev: .env over toml", without(".env.local", ".env.development"), ModeDev, nil, 1002},
		{"dev: ignores .env.production", without(".env.local", ".env.development", ".env"), ModeDev, nil, 1001},
		{"toml over default", map[string]string{FileName: all[FileName]}, ModeDev, nil, 1001},
		{"prod: environment wins", without(), ModeProd, env, 1006},
		{"prod: .env.production, .env.local ignored", without(), ModeProd, nil, 1004},
		{"prod: .env, .env.development ignored", without(".env.production"), ModeProd, nil, 1002},
		{"prod: toml", without(".env.production", ".env"), ModeProd, nil, 1001},
		{"nothing set", map[string]string{}, ModeDev, nil, 4000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warnings, err := Load(project(t, tt.files), tt.mode, tt.environ)
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != 0 {
				t.Errorf("warnings = %q", warningStrings(warnings))
			}
			if cfg.HTTPServer.Port != tt.want {
				t.Errorf("port = %d, want %d", cfg.HTTPServer.Port, tt.want)
			}
		})
	}
}

// TestEnvNames covers both name forms of every setting the seed names, and
// the generic form's matching rules.
func TestEnvNames(t *testing.T) {
	const pem = "-----BEGIN PUBLIC KEY-----\nSEKRIT\n-----END PUBLIC KEY-----"
	jwtBase := []string{"MOOSE_JWT__ISSUER=iss", "MOOSE_JWT__AUDIENCE=aud"}
	tests := []struct {
		name    string
		environ []string
		check   func(*Config) bool
	}{
		{"MOOSE_JWT_PUBLIC_KEY", append([]string{"MOOSE_JWT_PUBLIC_KEY=" + pem}, jwtBase...),
			func(c *Config) bool { return c.JWT.Secret.Reveal() == pem }},
		{"MOOSE_JWT__SECRET", append([]string{"MOOSE_JWT__SECRET=" + pem}, jwtBase...),
			func(c *Config) bool { return c.JWT.Secret.Reveal() == pem }},
		{"seed JWT names", []string{"MOOSE_JWT_PUBLIC_KEY=" + pem, "MOOSE_JWT_ISSUER=https://a/", "MOOSE_JWT_AUDIENCE=app"},
			func(c *Config) bool {
				return c.JWT.Configured() && c.JWT.Issuer == "https://a/" && c.JWT.Audience == "app"
			}},
		{"MOOSE_INGEST_API_KEY", []string{"MOOSE_INGEST_API_KEY=SEKRIT-i"},
			func(c *Config) bool { return c.Authentication.IngestAPIKey.Reveal() == "SEKRIT-i" }},
		{"MOOSE_AUTHENTICATION__INGEST_API_KEY", []string{"MOOSE_AUTHENTICATION__INGEST_API_KEY=SEKRIT-i"},
			func(c *Config) bool { return c.Authentication.IngestAPIKey.Reveal() == "SEKRIT-i" }},
		{"MOOSE_CONSUMPTION_API_KEY", []string{"MOOSE_CONSUMPTION_API_KEY=SEKRIT-c"},
			func(c *Config) bool { return c.Authentication.ConsumptionAPIKey.Reveal() == "SEKRIT-c" }},
		{"MOOSE_AUTHENTICATION__CONSUMPTION_API_KEY", []string{"MOOSE_AUTHENTICATION__CONSUMPTION_API_KEY=SEKRIT-c"},
			func(c *Config) bool { return c.Authentication.ConsumptionAPIKey.Reveal() == "SEKRIT-c" }},
		{"MOOSE_ADMIN_TOKEN", []string{"MOOSE_ADMIN_TOKEN=SEKRIT-t"},
			func(c *Config) bool { return c.Authentication.AdminToken.Reveal() == "SEKRIT-t" }},
		{"MOOSE_AUTHENTICATION__ADMIN_API_KEY", []string{"MOOSE_AUTHENTICATION__ADMIN_API_KEY=SEKRIT-a"},
			func(c *Config) bool { return c.Authentication.AdminAPIKey.Reveal() == "SEKRIT-a" }},
		{"secrets are trimmed", []string{"MOOSE_INGEST_API_KEY= \tSEKRIT-i \n"},
			func(c *Config) bool { return c.Authentication.IngestAPIKey.Reveal() == "SEKRIT-i" }},
		{"MOOSE_CLICKHOUSE_CONFIG__PASSWORD", []string{"MOOSE_CLICKHOUSE_CONFIG__PASSWORD=SEKRIT-p"},
			func(c *Config) bool { return c.ClickHouse.Password.Reveal() == "SEKRIT-p" }},
		{"MOOSE_REDPANDA_CONFIG__BROKER", []string{"MOOSE_REDPANDA_CONFIG__BROKER=r:1"},
			func(c *Config) bool { return c.Kafka.Broker == "r:1" }},
		{"MOOSE_KAFKA_CONFIG__BROKER", []string{"MOOSE_KAFKA_CONFIG__BROKER=k:1"},
			func(c *Config) bool { return c.Kafka.Broker == "k:1" }},
		{"MOOSE_FEATURES__STREAMING_ENGINE", []string{"MOOSE_FEATURES__STREAMING_ENGINE=TRUE"},
			func(c *Config) bool { return c.Features.StreamingEngine }},
		{"MOOSE_ENGINE__KIND", []string{"MOOSE_ENGINE__KIND=clickhouse"},
			func(c *Config) bool { return c.Engine.Kind == EngineClickHouse }},
		{"key is case-insensitive", []string{"MOOSE_Http_Server_Config__Max_Request_Body_Size=123"},
			func(c *Config) bool { return c.HTTPServer.MaxRequestBodySize == 123 }},
		{"top-level key", []string{"MOOSE_SOURCE_DIR=src"},
			func(c *Config) bool { return c.SourceDir == "src" }},
		{"leeway as seconds", []string{"MOOSE_JWT__LEEWAY=45"},
			func(c *Config) bool { return c.JWT.Leeway.Duration == 45*time.Second }},
		{"leeway as duration", []string{"MOOSE_JWT__LEEWAY=1m"},
			func(c *Config) bool { return c.JWT.Leeway.Duration == time.Minute }},
		{"empty string clears a value", []string{"MOOSE_ENGINE__DATA_DIR=x", "MOOSE_CLICKHOUSE_CONFIG__PASSWORD="},
			func(c *Config) bool { return c.ClickHouse.Password.Empty() && c.Engine.DataDir == "x" }},
		{"last entry of one name wins", []string{"MOOSE_HTTP_SERVER_CONFIG__PORT=1", "MOOSE_HTTP_SERVER_CONFIG__PORT=4321"},
			func(c *Config) bool { return c.HTTPServer.Port == 4321 }},
		{"non-MOOSE and malformed entries ignored", []string{"PATH=/bin", "MOOSE_NOEQUALS", "HOME=/root"},
			func(c *Config) bool { return *c == Default() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warnings, err := Load(project(t, map[string]string{}), ModeDev, tt.environ)
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != 0 {
				t.Errorf("warnings = %q", warningStrings(warnings))
			}
			if !tt.check(cfg) {
				t.Errorf("setting not applied: %+v", cfg)
			}
		})
	}
}

// TestEnvAliasOverridesTOML checks that the seed's names override the file,
// as the seed says.
func TestEnvAliasOverridesTOML(t *testing.T) {
	dir := project(t, map[string]string{FileName: `
[jwt]
secret = "SEKRIT-file"
issuer = "file-iss"
audience = "file-aud"
`})
	cfg, _, err := Load(dir, ModeProd, []string{"MOOSE_JWT_PUBLIC_KEY=SEKRIT-env", "MOOSE_JWT_ISSUER=env-iss", "MOOSE_JWT_AUDIENCE=env-aud"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.JWT.Secret.Reveal() != "SEKRIT-env" || cfg.JWT.Issuer != "env-iss" || cfg.JWT.Audience != "env-aud" {
		t.Errorf("jwt = %+v", cfg.JWT)
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		environ []string
		want    []string
	}{
		{"not an integer", nil, []string{"MOOSE_HTTP_SERVER_CONFIG__PORT=abc"},
			[]string{`MOOSE_HTTP_SERVER_CONFIG__PORT: http_server_config.port: expected an integer, got "abc"`}},
		{"out of range names the variable", nil, []string{"MOOSE_HTTP_SERVER_CONFIG__PORT=70000"},
			[]string{"MOOSE_HTTP_SERVER_CONFIG__PORT: http_server_config.port: port 70000 out of range 1-65535"}},
		{"names the .env file", map[string]string{".env.local": "MOOSE_FEATURES__STREAMING_ENGINE=maybe\n"}, nil,
			[]string{`MOOSE_FEATURES__STREAMING_ENGINE (.env.local): features.streaming_engine: expected a boolean (true or false), got "maybe"`}},
		{"alias table spelling kept", nil, []string{"MOOSE_KAFKA_CONFIG__MESSAGE_TIMEOUT_MS=0"},
			[]string{"MOOSE_KAFKA_CONFIG__MESSAGE_TIMEOUT_MS: redpanda_config.message_timeout_ms: must be greater than 0"}},
		{"bad engine", nil, []string{"MOOSE_ENGINE__KIND=sqlite"},
			[]string{`MOOSE_ENGINE__KIND: engine.kind: "sqlite" is not one of "embedded", "clickhouse"`}},
		{"bad leeway", nil, []string{"MOOSE_JWT__LEEWAY=later"},
			[]string{`MOOSE_JWT__LEEWAY: jwt.leeway: expected a duration such as "30s", got string "later"`}},
		{"partial JWT from env", nil, []string{"MOOSE_JWT_PUBLIC_KEY=SEKRIT", "MOOSE_JWT_ISSUER=iss"},
			[]string{"jwt.audience: must be set"}},
		{"dotenv syntax names file and line", map[string]string{".env": "A=1\nMOOSE_JWT_PUBLIC_KEY=\"SEKRIT\n"}, nil,
			[]string{".env: line 2: MOOSE_JWT_PUBLIC_KEY: unterminated double-quoted value"}},
		{"all errors reported", nil, []string{"MOOSE_HTTP_SERVER_CONFIG__PORT=x", "MOOSE_HTTP_SERVER_CONFIG__MANAGEMENT_PORT=y"},
			[]string{"MOOSE_HTTP_SERVER_CONFIG__PORT:", "MOOSE_HTTP_SERVER_CONFIG__MANAGEMENT_PORT:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range tt.files {
				files[k] = v
			}
			_, _, err := Load(project(t, files), ModeDev, tt.environ)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			assertNoSecret(t, "error", err.Error())
			var fe *FieldError
			if strings.Contains(tt.name, "dotenv") == errors.As(err, &fe) {
				t.Errorf("errors.As(*FieldError) = %v for %v", !strings.Contains(tt.name, "dotenv"), err)
			}
		})
	}
}

// TestConflicts: two names for one setting must agree, within a layer or
// across layers; the error names both and never a value.
func TestConflicts(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		environ []string
		names   []string // nil: no conflict
	}{
		{"same layer, different values", nil,
			[]string{"MOOSE_JWT_PUBLIC_KEY=SEKRIT-1", "MOOSE_JWT__SECRET=SEKRIT-2"},
			[]string{"MOOSE_JWT_PUBLIC_KEY", "MOOSE_JWT__SECRET", "jwt.secret"}},
		{"same layer, same value", nil,
			[]string{"MOOSE_INGEST_API_KEY=SEKRIT-1", "MOOSE_AUTHENTICATION__INGEST_API_KEY=SEKRIT-1"}, nil},
		{"same value up to surrounding space (secrets are trimmed)", nil,
			[]string{"MOOSE_INGEST_API_KEY=SEKRIT-1 ", "MOOSE_AUTHENTICATION__INGEST_API_KEY=SEKRIT-1"}, nil},
		{"across layers", map[string]string{".env": "MOOSE_CONSUMPTION_API_KEY=SEKRIT-1\n"},
			[]string{"MOOSE_AUTHENTICATION__CONSUMPTION_API_KEY=SEKRIT-2"},
			[]string{"MOOSE_CONSUMPTION_API_KEY (.env)", "MOOSE_AUTHENTICATION__CONSUMPTION_API_KEY", "authentication.consumption_api_key"}},
		{"across files", map[string]string{".env.development": "MOOSE_ADMIN_TOKEN=SEKRIT-1\n", ".env.local": "MOOSE_AUTHENTICATION__ADMIN_TOKEN=SEKRIT-2\n"}, nil,
			[]string{"MOOSE_ADMIN_TOKEN (.env.development)", "MOOSE_AUTHENTICATION__ADMIN_TOKEN (.env.local)"}},
		{"one name overridden by a later layer is not a conflict",
			map[string]string{".env": "MOOSE_INGEST_API_KEY=SEKRIT-a\n"}, []string{"MOOSE_INGEST_API_KEY=SEKRIT-b"}, nil},
		{"values compared after conversion", nil,
			[]string{"MOOSE_JWT__LEEWAY=60", "MOOSE_jwt__leeway=1m", "MOOSE_FEATURES__OLAP=TRUE", "MOOSE_features__olap=1"}, nil},
		{"kafka and redpanda spellings", nil,
			[]string{"MOOSE_KAFKA_CONFIG__BROKER=a:1", "MOOSE_REDPANDA_CONFIG__BROKER=b:1"},
			[]string{"MOOSE_KAFKA_CONFIG__BROKER", "MOOSE_REDPANDA_CONFIG__BROKER"}},
		{"case variants of the generic form", nil,
			[]string{"MOOSE_ENGINE__KIND=embedded", "MOOSE_ENGINE__kind=clickhouse"},
			[]string{"MOOSE_ENGINE__KIND", "MOOSE_ENGINE__kind"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range tt.files {
				files[k] = v
			}
			_, _, err := Load(project(t, files), ModeDev, tt.environ)
			if tt.names == nil {
				if err != nil {
					t.Fatalf("want no conflict, got %v", err)
				}
				return
			}
			var ce *ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("want a *ConflictError, got %v", err)
			}
			for _, n := range tt.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("error %q does not name %q", err, n)
				}
			}
			assertNoSecret(t, "error", err.Error())
			for _, v := range []string{"a:1", "b:1", "embedded\"", "clickhouse\""} {
				if strings.Contains(err.Error(), v) {
					t.Errorf("error %q contains value %q", err, v)
				}
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		environ []string
		want    []string // exact Warning.String() values, in order
	}{
		{"ingest_api_key in toml points to the variable",
			map[string]string{FileName: "[authentication]\ningest_api_key = \"SEKRIT\"\nconsumption_api_key = \"SEKRIT\"\n"}, nil,
			[]string{
				"moose.config.toml: authentication.consumption_api_key: not a recognised field of [authentication] and is ignored; set the MOOSE_CONSUMPTION_API_KEY environment variable instead",
				"moose.config.toml: authentication.ingest_api_key: not a recognised field of [authentication] and is ignored; set the MOOSE_INGEST_API_KEY environment variable instead",
			}},
		{"unknown generic variables", nil,
			[]string{"MOOSE_JWT__SECRETS=SEKRIT", "MOOSE_NOPE__X=1", "MOOSE_CHDB_LIB=/lib/libchdb.so", "MOOSE_LOG_LEVEL=debug"},
			[]string{
				"environment: MOOSE_JWT__SECRETS: unknown variable: secrets is not a key of [jwt]",
				"environment: MOOSE_NOPE__X: unknown variable: [nope] is not a table of moose.config.toml",
			}},
		{"unknown variable in a .env file", map[string]string{".env": "MOOSE_HTTP_SERVER_CONFIG__PROT=1\nOTHER_APP_VAR=x\n"}, nil,
			[]string{".env: MOOSE_HTTP_SERVER_CONFIG__PROT: unknown variable: prot is not a key of [http_server_config]"}},
		{"enforce flag without JWT", nil, []string{"MOOSE_JWT__ENFORCE_ON_ALL_INGEST_APIS=true"},
			[]string{"jwt.enforce_on_all_ingest_apis: is true but JWT is not configured (jwt.secret, jwt.issuer and jwt.audience); it has no effect"}},
		{"MOOSE_CHDB_LIB is ours", nil, []string{"MOOSE_CHDB_LIB=/x"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range tt.files {
				files[k] = v
			}
			_, warnings, err := Load(project(t, files), ModeDev, tt.environ)
			if err != nil {
				t.Fatal(err)
			}
			got := warningStrings(warnings)
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for _, w := range got {
				assertNoSecret(t, "warning", w)
			}
		})
	}
}

// TestDotenvPEM: a multi-line PEM key in a .env file, written with literal
// newlines or with \n escapes, reaches jwt.secret intact.
func TestDotenvPEM(t *testing.T) {
	const pem = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAy\nSEKRIT==\n-----END PUBLIC KEY-----"
	for name, body := range map[string]string{
		"literal newlines": "export MOOSE_JWT_PUBLIC_KEY=\"" + pem + "\n\"\n",
		"escapes":          "MOOSE_JWT_PUBLIC_KEY=\"" + strings.ReplaceAll(pem, "\n", `\n`) + "\"  # the key\n",
		"single quotes":    "MOOSE_JWT_PUBLIC_KEY='" + pem + "'\n",
		"CRLF file":        strings.ReplaceAll("MOOSE_JWT_PUBLIC_KEY=\""+pem+"\"\n", "\n", "\r\n"),
	} {
		t.Run(name, func(t *testing.T) {
			dir := project(t, map[string]string{
				".env":             body,
				".env.development": "MOOSE_JWT_ISSUER=iss\nMOOSE_JWT_AUDIENCE=aud\n",
			})
			cfg, _, err := Load(dir, ModeDev, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.JWT.Secret.Reveal(); got != pem {
				t.Errorf("secret = %q, want %q", got, pem)
			}
		})
	}
}

func TestListenAddrIPv6(t *testing.T) {
	c := Default()
	c.HTTPServer.Host = "::1"
	if got := c.ListenAddr(); got != "[::1]:4000" {
		t.Errorf("ListenAddr = %q", got)
	}
	if got := c.ManagementAddr(); got != "[::1]:5001" {
		t.Errorf("ManagementAddr = %q", got)
	}
}
