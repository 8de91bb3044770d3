package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // "" means valid
	}{
		{"default", func(*Config) {}, ""},
		{"port 1", func(c *Config) { c.HTTPServer.Port = 1 }, ""},
		{"port 65535", func(c *Config) { c.HTTPServer.Port = 65535 }, ""},
		{"port 0", func(c *Config) { c.HTTPServer.Port = 0 }, "http_server_config.port: port 0 out of range 1-65535"},
		{"port 65536", func(c *Config) { c.HTTPServer.Port = 65536 }, "http_server_config.port: port 65536 out of range 1-65535"},
		{"management port", func(c *Config) { c.HTTPServer.ManagementPort = -1 }, "http_server_config.management_port: port -1 out of range"},
		{"same ports", func(c *Config) { c.HTTPServer.ManagementPort = 4000 }, "http_server_config.management_port: port 4000 is also http_server_config.port"},
		{"empty host", func(c *Config) { c.HTTPServer.Host = "" }, "http_server_config.host: must not be empty"},
		{"body size", func(c *Config) { c.HTTPServer.MaxRequestBodySize = -1 }, "http_server_config.max_request_body_size: must be greater than 0, got -1"},
		{"prefix ok", func(c *Config) { c.HTTPServer.PathPrefix = "/a/b-c_d.e" }, ""},
		{"prefix root", func(c *Config) { c.HTTPServer.PathPrefix = "/" }, `path_prefix: "/" must not end with "/"`},
		{"prefix relative", func(c *Config) { c.HTTPServer.PathPrefix = "a" }, `path_prefix: "a" must start with "/"`},
		{"prefix double slash", func(c *Config) { c.HTTPServer.PathPrefix = "/a//b" }, `must not contain "//"`},
		{"prefix query", func(c *Config) { c.HTTPServer.PathPrefix = "/a?b" }, "must be a plain path"},
		{"prefix dot", func(c *Config) { c.HTTPServer.PathPrefix = "/a/." }, `".." segments`},
		{"source dir", func(c *Config) { c.SourceDir = " " }, "source_dir: must not be empty"},
		{"db name", func(c *Config) { c.ClickHouse.DBName = "1db" }, `clickhouse_config.db_name: "1db" is not a database name`},
		{"clickhouse ports", func(c *Config) { c.ClickHouse.HostPort = 0 }, "clickhouse_config.host_port: port 0"},
		{"clickhouse engine needs host", func(c *Config) { c.Engine.Kind = EngineClickHouse; c.ClickHouse.Host = "" }, "clickhouse_config.host: must not be empty"},
		{"clickhouse engine needs user", func(c *Config) { c.Engine.Kind = EngineClickHouse; c.ClickHouse.User = "" }, "clickhouse_config.user: must not be empty"},
		{"embedded needs no clickhouse host", func(c *Config) { c.ClickHouse.Host = "" }, ""},
		{"engine kind", func(c *Config) { c.Engine.Kind = "Embedded" }, `engine.kind: "Embedded" is not one of "embedded", "clickhouse"`},
		{"data dir", func(c *Config) { c.Engine.DataDir = "" }, `engine.data_dir: must not be empty`},
		{"leeway zero", func(c *Config) { c.JWT.Leeway.Duration = 0 }, ""},
		{"leeway negative", func(c *Config) { c.JWT.Leeway.Duration = -time.Second }, "jwt.leeway: must not be negative, got -1s"},
		{"leeway max", func(c *Config) { c.JWT.Leeway.Duration = MaxLeeway }, ""},
		{"leeway too large", func(c *Config) { c.JWT.Leeway.Duration = MaxLeeway + 1 }, "jwt.leeway: 10m0.000000001s exceeds the maximum of 10m0s"},
		{"jwt complete", func(c *Config) { c.JWT.Secret, c.JWT.Issuer, c.JWT.Audience = "SEKRIT", "i", "a" }, ""},
		{"jwt without secret", func(c *Config) { c.JWT.Issuer, c.JWT.Audience = "i", "a" }, "jwt.secret: must be set"},
		{"streaming needs broker", func(c *Config) { c.Features.StreamingEngine = true; c.Kafka.Broker = " , " }, "redpanda_config.broker: must list at least one host:port"},
		{"broker port", func(c *Config) { c.Kafka.Broker = "a:1,b:99999" }, `redpanda_config.broker: "b:99999": port out of range`},
		{"namespace", func(c *Config) { c.Kafka.Namespace = "a b" }, "redpanda_config.namespace"},
		{"timeout", func(c *Config) { c.Kafka.MessageTimeoutMS = 0 }, "redpanda_config.message_timeout_ms: must be greater than 0"},
		{"replication", func(c *Config) { c.Kafka.ReplicationFactor = 0 }, "redpanda_config.replication_factor: must be at least 1"},
		{"partitions", func(c *Config) { c.Kafka.Partitions = 0 }, "redpanda_config.partitions: must be at least 1"},
		{"api key hashes are not checked here", func(c *Config) { c.Authentication.AdminAPIKey = "not a hash" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Key == "" || fe.Reason == "" {
				t.Errorf("error is not a *FieldError with key and reason: %#v", err)
			}
			assertNoSecret(t, "error", err.Error())
		})
	}
}
