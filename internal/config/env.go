package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// envPrefix starts every variable moose reads.
const envPrefix = "MOOSE_"

// ignoredEnv are MOOSE_ variables that belong to moose but not to Config;
// they never produce a warning.
var ignoredEnv = map[string]bool{
	"MOOSE_CHDB_LIB": true, // path of libchdb.so, read by the embedded engine
}

// tableAliases maps an alternative table name to the canonical one, in TOML
// and in the generic variable form.
var tableAliases = map[string]string{
	"kafka_config": "redpanda_config",
}

// setting is one leaf of Config: a TOML key and/or environment variables.
type setting struct {
	key     string       // canonical dotted key: "jwt.secret", "source_dir"
	table   string       // "jwt"; "" for a top-level key
	name    string       // "secret"
	index   []int        // field index path from Config
	typ     reflect.Type // field type
	envOnly bool         // toml:"-": not a key of moose.config.toml
	aliases []string     // extra variable names (the seed's), from the alias tag
}

// secret reports whether the setting holds a Secret, whose value must never
// appear in an error or warning.
func (s *setting) secret() bool { return s.typ == reflect.TypeFor[Secret]() }

// settingTable indexes every setting of Config.
type settingTable struct {
	list    []*setting
	byKey   map[string]*setting // "http_server_config.port"
	byAlias map[string]*setting // "MOOSE_JWT_PUBLIC_KEY"
	tables  map[string]bool     // known table names, canonical
}

// settings is built once from Config's struct tags, so that a field added to
// Config is loadable from TOML and the environment without further code.
var settings = sync.OnceValue(func() *settingTable {
	t := &settingTable{byKey: map[string]*setting{}, byAlias: map[string]*setting{}, tables: map[string]bool{}}
	add := func(s *setting) {
		if _, dup := t.byKey[s.key]; dup {
			panic("config: duplicate key " + s.key)
		}
		t.list = append(t.list, s)
		t.byKey[s.key] = s
		for _, a := range s.aliases {
			t.byAlias[a] = s
		}
	}
	root := reflect.TypeFor[Config]()
	for i := range root.NumField() {
		f := root.Field(i)
		name, envOnly := tagName(f)
		if name == "" {
			continue
		}
		if f.Type.Kind() != reflect.Struct || f.Type == reflect.TypeFor[Duration]() {
			add(newSetting("", name, []int{i}, f, envOnly))
			continue
		}
		t.tables[name] = true
		for j := range f.Type.NumField() {
			sf := f.Type.Field(j)
			key, envOnly := tagName(sf)
			if key == "" {
				continue
			}
			add(newSetting(name, key, []int{i, j}, sf, envOnly))
		}
	}
	return t
})

func newSetting(table, name string, index []int, f reflect.StructField, envOnly bool) *setting {
	key := name
	if table != "" {
		key = table + "." + name
	}
	s := &setting{key: key, table: table, name: name, index: index, typ: f.Type, envOnly: envOnly}
	if a := f.Tag.Get("alias"); a != "" {
		s.aliases = strings.Split(a, ",")
	}
	switch f.Type {
	case reflect.TypeFor[string](), reflect.TypeFor[int](), reflect.TypeFor[int64](),
		reflect.TypeFor[bool](), reflect.TypeFor[Secret](), reflect.TypeFor[Duration]():
	default:
		panic("config: unsupported field type " + f.Type.String() + " for " + key)
	}
	return s
}

// tagName returns the key of a field: its toml tag, or for toml:"-" its env
// tag (then envOnly is true). "" means the field is not a setting.
func tagName(f reflect.StructField) (name string, envOnly bool) {
	tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if tag == "-" {
		return f.Tag.Get("env"), true
	}
	return tag, false
}

// field returns the settable field of cfg that s describes.
func (s *setting) field(cfg *Config) reflect.Value {
	return reflect.ValueOf(cfg).Elem().FieldByIndex(s.index)
}

// setTOML stores a decoded TOML value, converting and checking its type.
// The returned reason names no secret value.
func (s *setting) setTOML(cfg *Config, v any) (reason string) {
	fv := s.field(cfg)
	switch s.typ {
	case reflect.TypeFor[string](), reflect.TypeFor[Secret]():
		str, ok := v.(string)
		if !ok {
			return "expected a string, got " + s.describe(v)
		}
		if s.secret() {
			str = strings.TrimSpace(str)
		}
		fv.SetString(str)
	case reflect.TypeFor[int](), reflect.TypeFor[int64]():
		n, ok := v.(int64)
		if !ok {
			return "expected an integer, got " + s.describe(v)
		}
		if fv.OverflowInt(n) {
			return fmt.Sprintf("integer %d out of range", n)
		}
		fv.SetInt(n)
	case reflect.TypeFor[bool]():
		b, ok := v.(bool)
		if !ok {
			return "expected a boolean (true or false), got " + s.describe(v)
		}
		fv.SetBool(b)
	case reflect.TypeFor[Duration]():
		var d time.Duration
		switch x := v.(type) {
		case string:
			var err error
			if d, err = time.ParseDuration(x); err != nil {
				return fmt.Sprintf("expected a duration such as \"30s\", got string %q", x)
			}
		case int64:
			if x > int64(1<<63-1)/int64(time.Second) || x < -int64(1<<63-1)/int64(time.Second) {
				return fmt.Sprintf("duration of %d seconds out of range", x)
			}
			d = time.Duration(x) * time.Second
		default:
			return "expected a duration such as \"30s\", got " + s.describe(v)
		}
		fv.Set(reflect.ValueOf(Duration{d}))
	}
	return ""
}

// setString stores a value given as text (an environment variable or a
// .env entry). The returned reason names no secret value.
func (s *setting) setString(cfg *Config, v string) (reason string) {
	switch s.typ {
	case reflect.TypeFor[string](), reflect.TypeFor[Secret]():
		return s.setTOML(cfg, v)
	case reflect.TypeFor[int](), reflect.TypeFor[int64]():
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Sprintf("expected an integer, got %q", v)
		}
		return s.setTOML(cfg, n)
	case reflect.TypeFor[bool]():
		b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(v)))
		if err != nil {
			return fmt.Sprintf("expected a boolean (true or false), got %q", v)
		}
		return s.setTOML(cfg, b)
	case reflect.TypeFor[Duration]():
		v = strings.TrimSpace(v)
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return s.setTOML(cfg, n)
		}
		return s.setTOML(cfg, v)
	}
	return "unsupported type"
}

// describe names the TOML type of v and, unless s is a secret, its value.
func (s *setting) describe(v any) string {
	var typ string
	switch v.(type) {
	case string:
		typ = "string"
	case int64:
		typ = "integer"
	case float64:
		typ = "float"
	case bool:
		typ = "boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return "a date/time"
	}
	if s.secret() {
		return typ
	}
	if str, ok := v.(string); ok {
		return fmt.Sprintf("%s %q", typ, str)
	}
	return fmt.Sprintf("%s %v", typ, v)
}

// resolveEnv maps a variable name to its setting. s is nil for names that
// are not settings; warn is set for MOOSE_ names in the generic form
// (MOOSE_<TABLE>__<KEY>) that name no key.
func resolveEnv(name string) (s *setting, warn string) {
	if !strings.HasPrefix(name, envPrefix) || ignoredEnv[name] {
		return nil, ""
	}
	t := settings()
	if s := t.byAlias[name]; s != nil {
		return s, ""
	}
	rest := strings.ToLower(name[len(envPrefix):])
	table, key, generic := strings.Cut(rest, "__")
	if !generic {
		// Top-level keys: MOOSE_SOURCE_DIR, MOOSE_LANGUAGE.
		if s := t.byKey[rest]; s != nil && s.table == "" {
			return s, ""
		}
		return nil, ""
	}
	if canon, ok := tableAliases[table]; ok {
		table = canon
	}
	if !t.tables[table] {
		return nil, fmt.Sprintf("unknown variable: [%s] is not a table of moose.config.toml", table)
	}
	if s := t.byKey[table+"."+key]; s != nil {
		return s, ""
	}
	return nil, fmt.Sprintf("unknown variable: %s is not a key of [%s]", key, table)
}

// envVar is one MOOSE_ variable as seen after layering: its name, its value
// and where that value came from.
type envVar struct {
	name, value, source string
}

// envLayer is one source of variables: a .env file or the process
// environment, with entries in their order of appearance.
type envLayer struct {
	source string // ".env", ".env.local", "environment"
	vars   []envVar
}

// applyEnv layers the variables (later layers and later entries win for
// the same name), refuses two names for one setting with different values,
// and stores the values in cfg. origins records where each key was set.
func applyEnv(cfg *Config, layers []envLayer, origins map[string]origin) ([]Warning, error) {
	final := map[string]envVar{}
	for _, l := range layers {
		for _, v := range l.vars {
			if !strings.HasPrefix(v.name, envPrefix) {
				continue
			}
			v.source = l.source
			final[v.name] = v
		}
	}
	names := make([]string, 0, len(final))
	for n := range final {
		names = append(names, n)
	}
	sort.Strings(names)

	var warnings []Warning
	bySetting := map[*setting][]envVar{}
	for _, n := range names {
		s, warn := resolveEnv(n)
		if warn != "" {
			warnings = append(warnings, Warning{Source: final[n].source, Key: n, Message: warn})
		}
		if s != nil {
			bySetting[s] = append(bySetting[s], final[n])
		}
	}

	var errs []error
	for _, s := range settings().list {
		vars := bySetting[s]
		if len(vars) == 0 {
			continue
		}
		// Each name's value is converted on its own; two names for one
		// setting must then agree (so "60" and "1m" for a duration do).
		var (
			first    any
			firstVar envVar
			ok       bool
		)
		for _, v := range vars {
			scratch := Default()
			if reason := s.setString(&scratch, v.value); reason != "" {
				errs = append(errs, &FieldError{Source: v.describe(), Key: s.key, Reason: reason})
				continue
			}
			val := s.field(&scratch).Interface()
			if !ok {
				first, firstVar, ok = val, v, true
				s.field(cfg).Set(reflect.ValueOf(val))
				origins[s.key] = origin{source: v.describe()}
				continue
			}
			if val != first {
				errs = append(errs, &ConflictError{Key: s.key, Names: [2]string{firstVar.describe(), v.describe()}})
			}
		}
	}
	return warnings, errors.Join(errs...)
}

// describe names the variable and its source, never its value.
func (v envVar) describe() string {
	if v.source == sourceEnv {
		return v.name
	}
	return v.name + " (" + v.source + ")"
}
