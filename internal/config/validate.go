package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Engine kinds accepted in [engine] kind.
const (
	EngineEmbedded   = "embedded"
	EngineClickHouse = "clickhouse"
)

// MaxLeeway bounds [jwt] leeway: a larger leeway would let expired tokens
// through for too long.
const MaxLeeway = 10 * time.Minute

// Validate checks every setting and returns all problems joined, each a
// *FieldError naming the key and the reason. Load calls it. It does not
// check the syntax of API-key hashes or the JWT key (package auth does).
func (c *Config) Validate() error {
	errs := c.validate()
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

func (c *Config) validate() []*FieldError {
	var errs []*FieldError
	fail := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Reason: fmt.Sprintf(format, args...)})
	}
	port := func(key string, p int) {
		if p < 1 || p > 65535 {
			fail(key, "port %d out of range 1-65535", p)
		}
	}

	if strings.TrimSpace(c.SourceDir) == "" {
		fail("source_dir", "must not be empty")
	}

	h := c.HTTPServer
	if strings.TrimSpace(h.Host) == "" {
		fail("http_server_config.host", "must not be empty")
	}
	port("http_server_config.port", h.Port)
	port("http_server_config.management_port", h.ManagementPort)
	if h.Port == h.ManagementPort {
		fail("http_server_config.management_port", "port %d is also http_server_config.port; they must differ", h.Port)
	}
	if reason := checkPathPrefix(h.PathPrefix); reason != "" {
		fail("http_server_config.path_prefix", "%q %s", h.PathPrefix, reason)
	}
	if h.MaxRequestBodySize <= 0 {
		fail("http_server_config.max_request_body_size", "must be greater than 0, got %d", h.MaxRequestBodySize)
	}

	ch := c.ClickHouse
	if !isIdentifier(ch.DBName) {
		fail("clickhouse_config.db_name", "%q is not a database name (letters, digits and _, not starting with a digit)", ch.DBName)
	}
	port("clickhouse_config.host_port", ch.HostPort)
	port("clickhouse_config.native_port", ch.NativePort)
	if c.Engine.Kind == EngineClickHouse {
		if strings.TrimSpace(ch.Host) == "" {
			fail("clickhouse_config.host", "must not be empty when engine.kind is %q", EngineClickHouse)
		}
		if strings.TrimSpace(ch.User) == "" {
			fail("clickhouse_config.user", "must not be empty when engine.kind is %q", EngineClickHouse)
		}
	}

	k := c.Kafka
	if c.Features.StreamingEngine {
		if len(k.Brokers()) == 0 {
			fail("redpanda_config.broker", "must list at least one host:port when features.streaming_engine is true")
		}
	}
	for _, b := range k.Brokers() {
		if _, p, err := net.SplitHostPort(b); err != nil || p == "" {
			fail("redpanda_config.broker", "%q is not host:port", b)
		} else if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			fail("redpanda_config.broker", "%q: port out of range 1-65535", b)
		}
	}
	if !isTopicPrefix(k.Namespace) {
		fail("redpanda_config.namespace", "%q may contain only letters, digits, '.', '_' and '-'", k.Namespace)
	}
	if k.MessageTimeoutMS <= 0 {
		fail("redpanda_config.message_timeout_ms", "must be greater than 0, got %d", k.MessageTimeoutMS)
	}
	if k.ReplicationFactor < 1 {
		fail("redpanda_config.replication_factor", "must be at least 1, got %d", k.ReplicationFactor)
	}
	if k.Partitions < 1 {
		fail("redpanda_config.partitions", "must be at least 1, got %d", k.Partitions)
	}

	switch c.Engine.Kind {
	case EngineEmbedded:
		if strings.TrimSpace(c.Engine.DataDir) == "" {
			fail("engine.data_dir", "must not be empty when engine.kind is %q", EngineEmbedded)
		}
	case EngineClickHouse:
	default:
		fail("engine.kind", "%q is not one of %q, %q", c.Engine.Kind, EngineEmbedded, EngineClickHouse)
	}

	j := c.JWT
	if j.Leeway.Duration < 0 {
		fail("jwt.leeway", "must not be negative, got %s", j.Leeway.Duration)
	} else if j.Leeway.Duration > MaxLeeway {
		fail("jwt.leeway", "%s exceeds the maximum of %s", j.Leeway.Duration, MaxLeeway)
	}
	// JWT is all or nothing: a partial [jwt] would silently leave the data
	// routes to API keys (or open), which is not what its author meant.
	set := map[string]bool{"secret": !j.Secret.Empty(), "issuer": j.Issuer != "", "audience": j.Audience != ""}
	if set["secret"] || set["issuer"] || set["audience"] {
		for _, name := range []string{"secret", "issuer", "audience"} {
			if !set[name] {
				fail("jwt."+name, "must be set: JWT needs jwt.secret, jwt.issuer and jwt.audience together (or none of them)")
			}
		}
	}
	return errs
}

// checkPathPrefix returns why p is not a valid path prefix, or "".
func checkPathPrefix(p string) string {
	switch {
	case p == "":
		return ""
	case !strings.HasPrefix(p, "/"):
		return "must start with \"/\""
	case strings.HasSuffix(p, "/"):
		return "must not end with \"/\""
	case strings.Contains(p, "//"):
		return "must not contain \"//\""
	case strings.ContainsAny(p, "?#% \t\r\n\\"):
		return "must be a plain path (no ?, #, %, \\ or spaces)"
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "." || seg == ".." {
			return "must not contain \".\" or \"..\" segments"
		}
	}
	return ""
}

func isIdentifier(s string) bool {
	if s == "" || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func isTopicPrefix(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '.' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Brokers returns the comma-separated seed brokers of Broker, trimmed, with
// empty entries dropped.
func (k KafkaConfig) Brokers() []string {
	var out []string
	for _, b := range strings.Split(k.Broker, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// ListenAddr is the host:port of the main HTTP server.
func (c *Config) ListenAddr() string {
	return net.JoinHostPort(c.HTTPServer.Host, strconv.Itoa(c.HTTPServer.Port))
}

// ManagementAddr is the host:port of the management server (/metrics),
// on the same host as the main server.
func (c *Config) ManagementAddr() string {
	return net.JoinHostPort(c.HTTPServer.Host, strconv.Itoa(c.HTTPServer.ManagementPort))
}
