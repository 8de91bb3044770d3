package config

import "time"

// Mode selects the .env layering and the strictness of start-up checks.
type Mode string

const (
	ModeDev  Mode = "dev"  // .env < .env.development < .env.local
	ModeProd Mode = "prod" // .env < .env.production
)

// Config is the whole of moose.config.toml after layering. Zero values are
// never seen by callers: Load starts from Default().
type Config struct {
	// Language is MooseStack's project language; accepted and ignored.
	// Default "".
	Language string `toml:"language"`
	// SourceDir holds the project's model and API files. Default "app".
	SourceDir string `toml:"source_dir"`

	HTTPServer     HTTPServerConfig     `toml:"http_server_config"`
	ClickHouse     ClickHouseConfig     `toml:"clickhouse_config"`
	Kafka          KafkaConfig          `toml:"redpanda_config"` // alias [kafka_config]
	Features       FeaturesConfig       `toml:"features"`
	JWT            JWTConfig            `toml:"jwt"`
	Authentication AuthenticationConfig `toml:"authentication"`
	Engine         EngineConfig         `toml:"engine"`
}

// HTTPServerConfig is [http_server_config].
type HTTPServerConfig struct {
	Host               string `toml:"host"`                  // default "localhost"
	Port               int    `toml:"port"`                  // default 4000
	ManagementPort     int    `toml:"management_port"`       // default 5001
	PathPrefix         string `toml:"path_prefix"`           // default "" (routes at /)
	MaxRequestBodySize int64  `toml:"max_request_body_size"` // bytes, default 10 MiB
}

// ClickHouseConfig is [clickhouse_config], used by the ClickHouse-server engine.
type ClickHouseConfig struct {
	DBName     string `toml:"db_name"`     // default "local"
	User       string `toml:"user"`        // default "default"
	Password   Secret `toml:"password"`    // default ""
	UseSSL     bool   `toml:"use_ssl"`     // default false
	Host       string `toml:"host"`        // default "localhost"
	HostPort   int    `toml:"host_port"`   // HTTP port, default 18123
	NativePort int    `toml:"native_port"` // accepted for compatibility, default 9000
}

// KafkaConfig is [redpanda_config] (alias [kafka_config]).
type KafkaConfig struct {
	Broker            string `toml:"broker"`             // comma-separated seeds, default "localhost:19092"
	Namespace         string `toml:"namespace"`          // topic prefix, default ""
	MessageTimeoutMS  int    `toml:"message_timeout_ms"` // default 1000
	ReplicationFactor int    `toml:"replication_factor"` // default 1
	Partitions        int    `toml:"partitions"`         // topic partitions created on start-up, default 4
}

// FeaturesConfig is [features].
type FeaturesConfig struct {
	// StreamingEngine puts Kafka between ingest and the table. Default false.
	StreamingEngine bool `toml:"streaming_engine"`
	// OLAP is MooseStack's switch for the OLAP store; accepted, default true.
	OLAP bool `toml:"olap"`
}

// JWTConfig is [jwt]. JWT is "configured" when Secret, Issuer and Audience are all set.
type JWTConfig struct {
	Secret                       Secret   `toml:"secret" alias:"MOOSE_JWT_PUBLIC_KEY"` // PEM RSA public key (PKIX or PKCS#1), default ""
	Issuer                       string   `toml:"issuer" alias:"MOOSE_JWT_ISSUER"`     // required "iss", default ""
	Audience                     string   `toml:"audience" alias:"MOOSE_JWT_AUDIENCE"` // required member of "aud", default ""
	EnforceOnAllIngestAPIs       bool     `toml:"enforce_on_all_ingest_apis"`          // default false
	EnforceOnAllConsumptionsAPIs bool     `toml:"enforce_on_all_consumptions_apis"`    // default false
	Leeway                       Duration `toml:"leeway"`                              // clock leeway for exp/nbf, default 30s
}

// Configured reports whether all three JWT settings are present.
func (j JWTConfig) Configured() bool {
	return !j.Secret.Empty() && j.Issuer != "" && j.Audience != ""
}

// AuthenticationConfig is [authentication] plus the seed's env-only keys.
// API key values are PBKDF2 hashes, possibly several separated by commas;
// Load trims surrounding whitespace but does not check their syntax (package
// auth does). All default to "".
//
// Fields tagged toml:"-" are not read from moose.config.toml (a TOML key of
// that name gets a warning); their env tag names the key of the generic
// variable form, e.g. MOOSE_AUTHENTICATION__INGEST_API_KEY. An alias tag
// names a further variable for the same setting.
type AuthenticationConfig struct {
	// AdminAPIKey protects /admin/*; it wins over AdminToken.
	AdminAPIKey Secret `toml:"admin_api_key"`
	// IngestAPIKey and ConsumptionAPIKey come only from MOOSE_INGEST_API_KEY
	// and MOOSE_CONSUMPTION_API_KEY (or their MOOSE_AUTHENTICATION__* forms).
	IngestAPIKey      Secret `toml:"-" env:"ingest_api_key" alias:"MOOSE_INGEST_API_KEY"`
	ConsumptionAPIKey Secret `toml:"-" env:"consumption_api_key" alias:"MOOSE_CONSUMPTION_API_KEY"`
	// AdminToken is MOOSE_ADMIN_TOKEN (or MOOSE_AUTHENTICATION__ADMIN_TOKEN):
	// a hash, or a plain bearer token.
	AdminToken Secret `toml:"-" env:"admin_token" alias:"MOOSE_ADMIN_TOKEN"`
	// AllowUnauthenticated lets `moose prod` start with an open data scope.
	// Default false.
	AllowUnauthenticated bool `toml:"allow_unauthenticated"`
}

// EngineConfig is [engine]: our addition, choosing the OLAP store.
type EngineConfig struct {
	// Kind is "embedded" (chDB, default) or "clickhouse" (a ClickHouse server).
	Kind string `toml:"kind"`
	// DataDir is where the embedded engine keeps its data, relative to the
	// project directory. Default ".moose/data".
	DataDir string `toml:"data_dir"`
	// WALDir holds the embedded engine's write-ahead log (ingest is
	// acknowledged once it is there), relative to the project directory.
	// Default ".moose/wal".
	WALDir string `toml:"wal_dir"`
	// WALFsync fsyncs the write-ahead log before each acknowledgement
	// (shared by concurrent requests), so a 200 survives a power loss; with
	// false it survives a process crash only. Default true.
	WALFsync bool `toml:"wal_fsync"`
}

// Duration is a time.Duration written as "30s" in TOML. Load also accepts a
// TOML integer or a bare number in a variable, meaning seconds.
type Duration struct{ time.Duration }

// UnmarshalText parses Go duration syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes Go duration syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Default returns the configuration before any file or variable is read.
func Default() Config {
	return Config{
		SourceDir: "app",
		HTTPServer: HTTPServerConfig{
			Host:               "localhost",
			Port:               4000,
			ManagementPort:     5001,
			MaxRequestBodySize: 10 << 20,
		},
		ClickHouse: ClickHouseConfig{
			DBName: "local", User: "default", Host: "localhost", HostPort: 18123, NativePort: 9000,
		},
		Kafka:    KafkaConfig{Broker: "localhost:19092", MessageTimeoutMS: 1000, ReplicationFactor: 1, Partitions: 4},
		Features: FeaturesConfig{OLAP: true},
		JWT:      JWTConfig{Leeway: Duration{30 * time.Second}},
		Engine:   EngineConfig{Kind: "embedded", DataDir: ".moose/data", WALDir: ".moose/wal", WALFsync: true},
	}
}
