package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// FileName is the project file that marks a moose project directory.
const FileName = "moose.config.toml"

// sourceEnv is the Source of values that come from the process environment.
const sourceEnv = "environment"

// ErrNotProject is returned by Load when the directory has no
// moose.config.toml.
var ErrNotProject = errors.New("not a moose project")

// Warning is a non-fatal finding of Load: an unknown key or variable, or a
// setting that has no effect. It never contains a secret value.
type Warning struct {
	Source  string // "moose.config.toml", ".env.local", "environment"
	Key     string // dotted TOML key or variable name
	Message string
}

// String formats the warning as "source: key: message".
func (w Warning) String() string {
	var b strings.Builder
	if w.Source != "" {
		b.WriteString(w.Source + ": ")
	}
	if w.Key != "" {
		b.WriteString(w.Key + ": ")
	}
	b.WriteString(w.Message)
	return b.String()
}

// FieldError is a bad configuration value: a wrong type or a value that
// Validate refuses. Reason never contains a secret value.
type FieldError struct {
	// Source is where the value came from: "moose.config.toml", or a
	// variable such as "MOOSE_HTTP_SERVER_CONFIG__PORT (.env)". Empty for
	// defaults and when Validate is called directly.
	Source string
	Key    string // canonical dotted key, e.g. "http_server_config.port"
	Reason string
}

// Error formats the error as "source: key: reason".
func (e *FieldError) Error() string {
	if e.Source == "" {
		return e.Key + ": " + e.Reason
	}
	return e.Source + ": " + e.Key + ": " + e.Reason
}

// ConflictError is returned when two variables name the same setting with
// different values. It names both variables, never their values.
type ConflictError struct {
	Key   string    // canonical dotted key
	Names [2]string // the variables, each with its source when not the process environment
}

// Error names both variables and the key, never the values.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s and %s both set %s with different values; set only one of them",
		e.Names[0], e.Names[1], e.Key)
}

// envFiles lists the dotenv files read in mode, lowest precedence first.
func envFiles(mode Mode) []string {
	if mode == ModeProd {
		return []string{".env", ".env.production"}
	}
	return []string{".env", ".env.development", ".env.local"}
}

// origin records where a setting's final value came from, for errors.
type origin struct {
	source string // file or variable description
	key    string // the key as the user spelled it (kafka_config.broker)
}

// Load reads the configuration of the project in projectDir. Layers, later
// wins: Default(), moose.config.toml, .env, then .env.development and
// .env.local (ModeDev) or .env.production (ModeProd), then environ (in
// os.Environ form). Only MOOSE_ variables are read from the .env files and
// environ; the files do not change the process environment.
//
// Load validates the result. On error the Config is nil; the warnings found
// so far are still returned. A missing moose.config.toml gives an error
// matching ErrNotProject.
func Load(projectDir string, mode Mode, environ []string) (*Config, []Warning, error) {
	if mode != ModeDev && mode != ModeProd {
		return nil, nil, fmt.Errorf("config: unknown mode %q", mode)
	}
	cfg := Default()
	origins := map[string]origin{}

	path := filepath.Join(projectDir, FileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w: %s not found (run moose init NAME)", ErrNotProject, path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", path, err)
	}
	warnings, err := applyTOML(&cfg, FileName, data, origins)
	if err != nil {
		return nil, warnings, err
	}

	var layers []envLayer
	for _, name := range envFiles(mode) {
		data, err := os.ReadFile(filepath.Join(projectDir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, warnings, fmt.Errorf("reading %s: %w", name, err)
		}
		vars, err := parseDotenv(data)
		if err != nil {
			return nil, warnings, fmt.Errorf("%s: %w", name, err)
		}
		layers = append(layers, envLayer{source: name, vars: vars})
	}
	layers = append(layers, envLayer{source: sourceEnv, vars: environVars(environ)})
	ew, err := applyEnv(&cfg, layers, origins)
	warnings = append(warnings, ew...)
	if err != nil {
		return nil, warnings, err
	}

	warnings = append(warnings, cfg.advise()...)
	if errs := cfg.validate(); len(errs) > 0 {
		out := make([]error, len(errs))
		for i, fe := range errs {
			if o, ok := origins[fe.Key]; ok {
				fe.Source = o.source
				if o.key != "" {
					fe.Key = o.key
				}
			} else if o, ok := tableOrigin(origins, fe.Key); ok {
				// A missing key (jwt.issuer) is blamed on where its table
				// was set (the [jwt] of moose.config.toml).
				fe.Source = o.source
			}
			out[i] = fe
		}
		return nil, warnings, errors.Join(out...)
	}
	return &cfg, warnings, nil
}

// tableOrigin returns the origin of the first set key in key's table.
func tableOrigin(origins map[string]origin, key string) (origin, bool) {
	table, _, ok := strings.Cut(key, ".")
	if !ok {
		return origin{}, false
	}
	for _, s := range settings().list {
		if o, ok := origins[s.key]; ok && s.table == table {
			return o, true
		}
	}
	return origin{}, false
}

// environVars turns os.Environ-style entries into variables, keeping only
// MOOSE_ names.
func environVars(environ []string) []envVar {
	var vars []envVar
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) {
			continue
		}
		vars = append(vars, envVar{name: name, value: value})
	}
	return vars
}

// advise returns warnings for settings that are valid but have no effect.
func (c *Config) advise() []Warning {
	var w []Warning
	if !c.JWT.Configured() {
		if c.JWT.EnforceOnAllIngestAPIs {
			w = append(w, Warning{Key: "jwt.enforce_on_all_ingest_apis",
				Message: "is true but JWT is not configured (jwt.secret, jwt.issuer and jwt.audience); it has no effect"})
		}
		if c.JWT.EnforceOnAllConsumptionsAPIs {
			w = append(w, Warning{Key: "jwt.enforce_on_all_consumptions_apis",
				Message: "is true but JWT is not configured (jwt.secret, jwt.issuer and jwt.audience); it has no effect"})
		}
	}
	return w
}

// applyTOML decodes a moose.config.toml into cfg: known keys are converted
// and stored, unknown keys produce warnings, wrong types produce a
// FieldError each.
func applyTOML(cfg *Config, file string, data []byte, origins map[string]origin) ([]Warning, error) {
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, tomlSyntaxError(file, err)
	}
	t := settings()
	var (
		warnings []Warning
		errs     []error
	)
	warn := func(key, msg string) { warnings = append(warnings, Warning{Source: file, Key: key, Message: msg}) }
	fail := func(key, reason string) { errs = append(errs, &FieldError{Source: file, Key: key, Reason: reason}) }

	for alias, canon := range tableAliases {
		a, okA := raw[alias]
		c, okC := raw[canon]
		if okA && okC {
			if !reflect.DeepEqual(a, c) {
				return nil, &FieldError{Source: file, Key: alias,
					Reason: fmt.Sprintf("[%s] and its alias [%s] are both present and differ; keep one", canon, alias)}
			}
			delete(raw, alias) // identical: read once
		}
	}

	for _, top := range sortedKeys(raw) {
		v := raw[top]
		table := top
		if canon, ok := tableAliases[top]; ok {
			table = canon
		}
		if !t.tables[table] {
			if s := t.byKey[top]; s != nil && s.table == "" && !s.envOnly {
				if reason := s.setTOML(cfg, v); reason != "" {
					fail(top, reason)
					continue
				}
				origins[s.key] = origin{source: file}
				continue
			}
			if _, isTable := v.(map[string]any); isTable {
				warn(top, "unknown table, ignored")
			} else {
				warn(top, "unknown key, ignored")
			}
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			fail(top, "expected a table, got "+tomlTypeName(v))
			continue
		}
		for _, k := range sortedKeys(m) {
			key := top + "." + k
			s := t.byKey[table+"."+k]
			switch {
			case s == nil:
				warn(key, "unknown key, ignored")
				continue
			case s.envOnly:
				warn(key, envOnlyAdvice(s))
				continue
			}
			if reason := s.setTOML(cfg, m[k]); reason != "" {
				fail(key, reason)
				continue
			}
			origins[s.key] = origin{source: file, key: key}
		}
	}
	return warnings, errors.Join(errs...)
}

// envOnlyAdvice explains a TOML key that is read only from the environment,
// such as [authentication] ingest_api_key.
func envOnlyAdvice(s *setting) string {
	name := envPrefix + strings.ToUpper(s.table) + "__" + strings.ToUpper(s.name)
	if len(s.aliases) > 0 {
		name = s.aliases[0]
	}
	msg := fmt.Sprintf("not a recognised field of [%s] and is ignored; set the %s environment variable instead", s.table, name)
	if s.key == "authentication.admin_token" {
		msg += ", or admin_api_key (a hash) in [authentication]"
	}
	return msg
}

// tomlSyntaxError reports a TOML parse error with its line. The parser's
// message may quote the offending text, so it is withheld when the key
// being parsed holds a secret.
func tomlSyntaxError(file string, err error) error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", file, err)
	}
	msg := pe.Message
	if isSecretKey(pe.LastKey) {
		msg = "invalid value (details withheld: the key holds a secret; check its quoting)"
	}
	if pe.LastKey != "" {
		return fmt.Errorf("%s: line %d (key %s): %s", file, pe.Position.Line, pe.LastKey, msg)
	}
	return fmt.Errorf("%s: line %d: %s", file, pe.Position.Line, msg)
}

// isSecretKey reports whether the last part of a dotted key names any
// Secret setting.
func isSecretKey(key string) bool {
	if key == "" {
		return false
	}
	last := key[strings.LastIndex(key, ".")+1:]
	last = strings.Trim(last, `"'`)
	for _, s := range settings().list {
		if s.secret() && strings.EqualFold(s.name, last) {
			return true
		}
	}
	return false
}

// tomlTypeName names the TOML type of a decoded value, without the value.
func tomlTypeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return "a date/time"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
