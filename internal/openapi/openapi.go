package openapi

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/moose-go/moose/internal/project"
)

// Options tune the document. The zero value is valid.
type Options struct {
	// Title is info.title. Default: "moose API".
	Title string
	// Version is info.version, the project's version. Default: "0.0.0".
	Version string
	// PathPrefix is the server's [http_server_config] path_prefix; it
	// becomes the server URL that every path is relative to. Default: "/".
	PathPrefix string
}

// errorSchema is the component name of the {"error": ...} body. Model names
// are identifiers, so a dotted name cannot collide with one.
const errorSchema = "moose.Error"

// Generate renders p as an OpenAPI 3.0.3 YAML document.
func Generate(p *project.Project, opts Options) ([]byte, error) {
	if opts.Title == "" {
		opts.Title = "moose API"
	}
	if opts.Version == "" {
		opts.Version = "0.0.0"
	}
	server := "/"
	if pre := strings.TrimRight(opts.PathPrefix, "/"); pre != "" {
		server = pre
	}
	g := &generator{ops: map[string]int{}}
	paths := omap{}
	schemas := omap{}
	for _, m := range p.Models {
		s, err := modelSchema(m)
		if err != nil {
			return nil, err
		}
		schemas = append(schemas, kv{m.Name, s})
		if !m.Ingest {
			continue
		}
		paths = append(paths, kv{"/ingest/" + m.Name, omap{{"post", g.ingestOp(m, "")}}})
		if m.Version != "" {
			paths = append(paths, kv{"/ingest/" + m.Name + "/" + m.Version, omap{{"post", g.ingestOp(m, m.Version)}}})
		}
	}
	for _, a := range p.APIs {
		params, err := apiParams(a)
		if err != nil {
			return nil, err
		}
		for _, path := range APIPaths(p, a) {
			for _, root := range []string{"api", "consumption"} {
				paths = append(paths, kv{"/" + root + path, omap{{"get", g.apiOp(a, root, path, params)}}})
			}
		}
	}
	schemas = append(schemas, kv{errorSchema, omap{
		{"type", "object"},
		{"properties", omap{
			{"error", omap{{"type", "string"}, {"description", "what went wrong; never echoes a token"}}},
			{"request_id", omap{{"type", "string"}, {"description", "set on server errors (500, 503), to find the log line"}}},
		}},
		{"required", []any{"error"}},
	}})
	errResp := func(desc string) omap {
		return omap{{"description", desc}, {"content", omap{{"application/json", omap{
			{"schema", ref("schemas", errorSchema)}}}}}}
	}
	unauthorized := errResp("No valid credential for this scope (the WWW-Authenticate header says Bearer).")
	unauthorized = append(unauthorized, kv{"headers", omap{{"WWW-Authenticate", omap{
		{"description", `Bearer realm="moose", with error="invalid_token" when a token was sent (RFC 6750)`},
		{"schema", omap{{"type", "string"}}}}}}})
	doc := omap{
		{"openapi", "3.0.3"},
		{"info", omap{
			{"title", opts.Title},
			{"version", opts.Version},
			{"description", "Ingest routes validate every record against its data model; analytics APIs bind " +
				"typed query parameters. Send credentials as Authorization: Bearer <token> (a JWT or an API key, " +
				"as the server's configuration requires for the scope)."},
		}},
		{"servers", []any{omap{{"url", server}}}},
		{"tags", []any{
			omap{{"name", "ingest"}, {"description", "POST /ingest/<Model>: JSON records into a table"}},
			omap{{"name", "analytics"}, {"description", "GET /api/<name> and /consumption/<name>: typed analytics APIs"}},
		}},
		{"security", []any{omap{{"bearerAuth", []any{}}}}},
		{"paths", paths},
		{"components", omap{
			{"schemas", schemas},
			{"responses", omap{
				{"BadRequest", errResp("A record or parameter is invalid; the message names it.")},
				{"Unauthorized", unauthorized},
				{"PayloadTooLarge", errResp("The body is over max_request_body_size.")},
				{"InternalError", errResp("The query failed in the engine; the body has no SQL detail, only a request_id to find the log line.")},
				{"Unavailable", errResp("The records could not be stored; nothing was acknowledged, retry.")},
			}},
			{"securitySchemes", omap{{"bearerAuth", omap{
				{"type", "http"},
				{"scheme", "bearer"},
				{"description", "An RS256 JWT or an API key token (from moose generate hash-token), per scope."},
			}}}},
		}},
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encoding the OpenAPI document: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding the OpenAPI document: %w", err)
	}
	return buf.Bytes(), nil
}

// APIPaths lists the paths below /api and /consumption that serve a, as
// package api routes them: "/<name>" for an unversioned API; for a
// versioned one "/<name>/<version>", and also "/<name>" when no
// unversioned API of that name exists and a is its first version declared.
func APIPaths(p *project.Project, a *project.API) []string {
	if a.Version == "" {
		return []string{"/" + a.Name}
	}
	out := []string{"/" + a.Name + "/" + a.Version}
	var first *project.API
	for _, b := range p.APIs {
		if b.Name != a.Name {
			continue
		}
		if b.Version == "" {
			return out // the unversioned API takes the bare name
		}
		if first == nil {
			first = b
		}
	}
	if first != a {
		return out // an earlier version takes it
	}
	return append(out, "/"+a.Name)
}

type generator struct {
	ops map[string]int // operationId -> uses, to keep ids unique
}

func (g *generator) opID(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if p == "" {
			continue
		}
		if i > 0 {
			b.WriteByte('_')
		}
		for _, r := range p {
			if r < 128 && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_') {
				b.WriteRune(r)
			} else {
				b.WriteByte('_')
			}
		}
	}
	id := b.String()
	g.ops[id]++
	if n := g.ops[id]; n > 1 {
		id += "_" + strconv.Itoa(n)
		g.ops[id]++
	}
	return id
}

func (g *generator) ingestOp(m *project.Model, version string) omap {
	desc := fmt.Sprintf("The body is one %s record or an array of them; every record is validated (required "+
		"fields, types, ranges, dates", m.Name)
	if !m.AllowExtraFields {
		desc += ", unknown fields"
	}
	desc += ") and one bad record is a 400 naming its index and field"
	if m.DeadLetter {
		desc += fmt.Sprintf(", unless it goes to the dead-letter table %s", m.DeadLetterTable().Name)
	} else {
		desc += "; nothing of that request is stored"
	}
	desc += fmt.Sprintf(". Rows go to table %s; 200 is sent once they are durably stored.", m.Name)
	if claims := claimColumns(m); len(claims) > 0 {
		desc += " Filled from the verified JWT (a client-sent value is a 400): " + strings.Join(claims, ", ") + "."
	}
	success := omap{{"description", "Every record was stored."}, {"content", omap{
		{"text/plain", omap{{"schema", omap{{"type", "string"}, {"enum", []any{"SUCCESS"}}}}}},
	}}}
	if m.DeadLetter {
		success = omap{{"description", "Stored; with dead-lettered records the body is JSON listing them."}, {"content", omap{
			{"text/plain", omap{{"schema", omap{{"type", "string"}, {"enum", []any{"SUCCESS"}}}}}},
			{"application/json", omap{{"schema", omap{
				{"type", "object"},
				{"properties", omap{
					{"status", omap{{"type", "string"}, {"enum", []any{"SUCCESS"}}}},
					{"stored", omap{{"type", "integer"}}},
					{"dead_lettered", omap{{"type", "integer"}}},
					{"dead_letter_table", omap{{"type", "string"}}},
					{"errors", omap{{"type", "array"}, {"items", omap{{"type", "object"}, {"properties", omap{
						{"index", omap{{"type", "integer"}}},
						{"field", omap{{"type", "string"}}},
						{"error", omap{{"type", "string"}}},
					}}}}}},
				}},
			}}}},
		}}}
	}
	summary := "Ingest " + m.Name + " records"
	if version != "" {
		summary += " (version " + version + ")"
	}
	return omap{
		{"tags", []any{"ingest"}},
		{"summary", summary},
		{"description", desc},
		{"operationId", g.opID("ingest", m.Name, version)},
		{"requestBody", omap{
			{"required", true},
			{"content", omap{{"application/json", omap{{"schema", omap{{"oneOf", []any{
				ref("schemas", m.Name),
				omap{{"type", "array"}, {"items", ref("schemas", m.Name)}},
			}}}}}}}},
		}},
		{"responses", omap{
			{"200", success},
			{"400", ref("responses", "BadRequest")},
			{"401", ref("responses", "Unauthorized")},
			{"413", ref("responses", "PayloadTooLarge")},
			{"503", ref("responses", "Unavailable")},
		}},
	}
}

func claimColumns(m *project.Model) []string {
	var out []string
	for _, c := range m.Columns {
		if c.JWTClaim != "" {
			out = append(out, c.Name+" (claim "+c.JWTClaim+")")
		}
	}
	return out
}

func modelSchema(m *project.Model) (omap, error) {
	props := omap{}
	var required []any
	for _, c := range m.Columns {
		if c.JWTClaim != "" {
			continue
		}
		t, err := project.ParseType(c.Type)
		if err != nil {
			return nil, fmt.Errorf("model %s column %s: %w", m.Name, c.Name, err)
		}
		s := typeSchema(t, true)
		if !c.Required {
			s = append(s, kv{"nullable", true})
			s = append(s, kv{"x-clickhouse-type", "Nullable(" + t.String() + ")"})
		} else {
			s = append(s, kv{"x-clickhouse-type", t.String()})
			required = append(required, c.Name)
		}
		props = append(props, kv{c.Name, s})
	}
	s := omap{{"type", "object"}, {"description", "A record of data model " + m.Name + " (table " + m.Name + ")."}}
	if len(props) > 0 {
		s = append(s, kv{"properties", props})
	}
	if len(required) > 0 {
		s = append(s, kv{"required", required})
	}
	return append(s, kv{"additionalProperties", m.AllowExtraFields}), nil
}

// typeSchema is the JSON schema of a value of t; body says whether it is a
// JSON body value (a Decimal may then be a number) or query-string text.
func typeSchema(t project.Type, body bool) omap {
	k := t.Kind
	switch {
	case k == project.KindString || k == project.KindLowCardinality:
		return omap{{"type", "string"}}
	case k.IsInteger():
		s := omap{{"type", "integer"}}
		switch {
		case k.Bits() <= 16 || k == project.KindInt32:
			s = append(s, kv{"format", "int32"})
		case k != project.KindUInt64:
			s = append(s, kv{"format", "int64"})
		}
		if k.IsSigned() {
			return append(s, kv{"minimum", int64(-1) << (k.Bits() - 1)}, kv{"maximum", int64(1)<<(k.Bits()-1) - 1})
		}
		return append(s, kv{"minimum", 0}, kv{"maximum", uint64(math.MaxUint64) >> (64 - k.Bits())})
	case k == project.KindFloat32:
		return omap{{"type", "number"}, {"format", "float"}}
	case k == project.KindFloat64:
		return omap{{"type", "number"}, {"format", "double"}}
	case k == project.KindBool:
		return omap{{"type", "boolean"}}
	case k == project.KindDate:
		return omap{{"type", "string"}, {"format", "date"}}
	case k == project.KindDateTime || k == project.KindDateTime64:
		return omap{{"type", "string"}, {"format", "date-time"}}
	case k == project.KindUUID:
		return omap{{"type", "string"}, {"format", "uuid"}}
	case k == project.KindDecimal:
		text := omap{{"type", "string"}, {"pattern", decimalPattern(t)}}
		if !body {
			return text
		}
		return omap{{"oneOf", []any{omap{{"type", "number"}}, text}}}
	case k == project.KindArray && t.Elem != nil:
		return omap{{"type", "array"}, {"items", typeSchema(*t.Elem, body)}}
	}
	return omap{}
}

func decimalPattern(t project.Type) string {
	p := fmt.Sprintf(`^-?[0-9]{1,%d}`, max(t.Precision-t.Scale, 1))
	if t.Scale > 0 {
		p += fmt.Sprintf(`(\.[0-9]{1,%d})?`, t.Scale)
	}
	return p + "$"
}

// apiParams are a's query parameters (claim-bound ones left out).
func apiParams(a *project.API) ([]any, error) {
	out := []any{}
	for i := range a.Params {
		pp := &a.Params[i]
		if pp.JWTClaim != "" {
			continue
		}
		t, err := project.ParseType(pp.Type)
		if err != nil {
			return nil, fmt.Errorf("api %s param %s: %w", a.Name, pp.Name, err)
		}
		s := typeSchema(t, false)
		bound := t
		if t.Kind == project.KindArray && t.Elem != nil {
			bound = *t.Elem
		}
		var notes []string
		if pp.Default != nil {
			v, err := yamlValue(t, *pp.Default)
			if err != nil {
				return nil, fmt.Errorf("api %s param %s: default: %w", a.Name, pp.Name, err)
			}
			s = append(s, kv{"default", v})
		}
		for _, b := range []struct {
			key string
			src *string
		}{{"minimum", pp.Min}, {"maximum", pp.Max}} {
			if b.src == nil {
				continue
			}
			v, err := yamlValue(bound, *b.src)
			if err != nil {
				return nil, fmt.Errorf("api %s param %s: %s: %w", a.Name, pp.Name, b.key, err)
			}
			numeric := bound.Kind.IsInteger() || bound.Kind == project.KindFloat32 || bound.Kind == project.KindFloat64
			switch {
			case numeric && t.Kind == project.KindArray:
				s = setItems(s, b.key, v)
			case numeric:
				s = s.set(b.key, v)
			default:
				notes = append(notes, fmt.Sprintf("%s %v", b.key, v))
			}
		}
		s = append(s, kv{"x-clickhouse-type", t.String()})
		desc := t.String()
		if t.Kind == project.KindArray {
			desc += "; repeat the parameter for each element"
		}
		if len(notes) > 0 {
			desc += " (" + strings.Join(notes, ", ") + ")"
		}
		prm := omap{{"name", pp.Name}, {"in", "query"}, {"description", desc}, {"required", pp.Required}}
		if t.Kind == project.KindArray {
			prm = append(prm, kv{"style", "form"}, kv{"explode", true})
		}
		out = append(out, append(prm, kv{"schema", s}))
	}
	return out, nil
}

// setItems sets key in the items schema of an array schema.
func setItems(s omap, key string, v any) omap {
	for i := range s {
		if s[i].k == "items" {
			if items, ok := s[i].v.(omap); ok {
				s[i].v = items.set(key, v)
			}
		}
	}
	return s
}

// yamlValue parses text as the server does and returns it as a YAML value
// of the schema's type.
func yamlValue(t project.Type, text string) (any, error) {
	v, err := t.ParseValue(text)
	if err != nil {
		return nil, err
	}
	return toYAML(t, v), nil
}

func toYAML(t project.Type, v any) any {
	switch x := v.(type) {
	case time.Time:
		if t.Kind == project.KindDate {
			return x.Format(time.DateOnly)
		}
		return x.UTC().Format(time.RFC3339Nano)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toYAML(*t.Elem, e)
		}
		return out
	case float64:
		return x
	}
	return v
}

func (g *generator) apiOp(a *project.API, root, path string, params []any) omap {
	summary := "Analytics API " + a.Name
	if a.Version != "" {
		summary += " (version " + a.Version + ")"
	}
	desc := "Returns the query's rows as a JSON array of objects (DateTime values as RFC 3339 UTC). " +
		"Parameters are validated and typed; an unknown, missing, malformed or out-of-range parameter is a 400 naming it."
	var claims []string
	for _, pp := range a.Params {
		if pp.JWTClaim != "" {
			claims = append(claims, pp.Name+" (claim "+pp.JWTClaim+")")
		}
	}
	if len(claims) > 0 {
		desc += " Bound from the verified JWT, never from the query string (sending one is a 400; a request without a JWT is a 401): " +
			strings.Join(claims, ", ") + "."
	}
	version := ""
	if strings.Count(path, "/") > 1 {
		version = a.Version
	}
	op := omap{
		{"tags", []any{"analytics"}},
		{"summary", summary},
		{"description", desc},
		{"operationId", g.opID(root, a.Name, version)},
	}
	if len(params) > 0 {
		op = append(op, kv{"parameters", params})
	}
	return append(op, kv{"responses", omap{
		{"200", omap{{"description", "The rows."}, {"content", omap{{"application/json", omap{{"schema", omap{
			{"type", "array"},
			{"items", omap{{"type", "object"}, {"additionalProperties", true}}},
		}}}}}}}},
		{"400", ref("responses", "BadRequest")},
		{"401", ref("responses", "Unauthorized")},
		{"500", ref("responses", "InternalError")},
	}})
}

func ref(kind, name string) omap {
	return omap{{"$ref", "#/components/" + kind + "/" + name}}
}

// omap is a YAML mapping that keeps its keys in order.
type omap []kv

type kv struct {
	k string
	v any
}

// set replaces key's value, or appends the pair.
func (m omap) set(key string, v any) omap {
	for i := range m {
		if m[i].k == key {
			m[i].v = v
			return m
		}
	}
	return append(m, kv{key, v})
}

// MarshalYAML encodes the pairs in order.
func (m omap) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, e := range m {
		var val yaml.Node
		if err := val.Encode(e.v); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: e.k}, &val)
	}
	return n, nil
}
