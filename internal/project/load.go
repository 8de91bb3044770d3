package project

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/moose-go/moose/internal/olap/chsql"
)

// maxErrors caps how many problems one Load reports.
const maxErrors = 50

// Load reads every *.toml file under sourceDir, recursively and sorted by
// path, and returns the data models and APIs they declare, validated.
// Hidden files and directories (name starting with ".") are skipped, and so
// is moose.config.toml, in case the source dir is the project root.
//
// Decoding is strict: an unknown key is an error. All problems found are
// returned together (errors.Join of *Error values, each wrapping
// ErrInvalid) with a nil Project. A missing sourceDir is an error that
// wraps fs.ErrNotExist.
func Load(sourceDir string) (*Project, []Warning, error) {
	if _, err := os.Stat(sourceDir); err != nil {
		return nil, nil, fmt.Errorf("loading project: %w", err)
	}
	return load(os.DirFS(sourceDir), sourceDir)
}

// load reads the project from fsys; root prefixes file names in
// Model.File, API.File, warnings and errors.
func load(fsys fs.FS, root string) (*Project, []Warning, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".toml") && d.Name() != "moose.config.toml" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("loading project %s: %w", root, err)
	}
	slices.Sort(files)

	l := &loader{p: &Project{}}
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, nil, fmt.Errorf("loading project: %w", err)
		}
		name := f
		if root != "" {
			name = filepath.Join(root, filepath.FromSlash(f))
		}
		l.file(name, data)
	}
	return l.result()
}

// result runs the cross-file checks and returns the project, or every
// problem found (at most maxErrors of them).
func (l *loader) result() (*Project, []Warning, error) {
	l.crossChecks()
	if len(l.errs) > 0 {
		if len(l.errs) > maxErrors {
			l.errs = append(l.errs[:maxErrors], fmt.Errorf("and %d more problems", len(l.errs)-maxErrors))
		}
		return nil, nil, errors.Join(l.errs...)
	}
	return l.p, l.warns, nil
}

// The TOML shapes, exported as the spec of a project: the infrastructure
// map carries them as JSON with the same key names, and FromSpec validates
// them with the same rules as the files. Pointers tell "absent" from a
// zero value.
type fileDoc struct {
	DataModel []ModelSpec `toml:"data_model" json:"data_model,omitempty"`
	API       []APISpec   `toml:"api" json:"api,omitempty"`
}

type ModelSpec struct {
	Name             string       `toml:"name" json:"name,omitempty"`
	Version          *string      `toml:"version" json:"version,omitempty"`
	OrderBy          []string     `toml:"order_by" json:"order_by,omitempty"`
	Ingest           *bool        `toml:"ingest" json:"ingest,omitempty"`
	AllowExtraFields bool         `toml:"allow_extra_fields" json:"allow_extra_fields,omitempty"`
	DeadLetter       bool         `toml:"dead_letter" json:"dead_letter,omitempty"`
	Columns          []ColumnSpec `toml:"columns" json:"columns,omitempty"`
}

type ColumnSpec struct {
	Name     string  `toml:"name" json:"name,omitempty"`
	Type     string  `toml:"type" json:"type,omitempty"`
	Key      bool    `toml:"key" json:"key,omitempty"`
	Required *bool   `toml:"required" json:"required,omitempty"`
	JWTClaim *string `toml:"jwt_claim" json:"jwt_claim,omitempty"`
}

type APISpec struct {
	Name    string      `toml:"name" json:"name,omitempty"`
	Version *string     `toml:"version" json:"version,omitempty"`
	SQL     string      `toml:"sql" json:"sql,omitempty"`
	Params  []ParamSpec `toml:"params" json:"params,omitempty"`
}

type ParamSpec struct {
	Name     string  `toml:"name" json:"name,omitempty"`
	Default  any     `toml:"default" json:"default,omitempty"`
	Min      any     `toml:"min" json:"min,omitempty"`
	Max      any     `toml:"max" json:"max,omitempty"`
	JWTClaim *string `toml:"jwt_claim" json:"jwt_claim,omitempty"`
}

type loader struct {
	p     *Project
	warns []Warning
	errs  []error
}

func (l *loader) fail(file, field, format string, args ...any) {
	l.errs = append(l.errs, errf(file, field, format, args...))
}

func (l *loader) file(name string, data []byte) {
	var doc fileDoc
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			l.fail(name, "", "line %d: %s", pe.Position.Line, pe.Message)
		} else {
			l.fail(name, "", "%s", strings.TrimPrefix(err.Error(), "toml: "))
		}
		return
	}
	if und := md.Undecoded(); len(und) > 0 {
		var last string
		for _, k := range und {
			ks := k.String()
			if last != "" && strings.HasPrefix(ks, last+".") {
				continue // inside a table already reported
			}
			last = ks
			l.fail(name, "", "unknown key %q", ks)
		}
		return
	}
	for i := range doc.DataModel {
		if m := l.model(name, i, &doc.DataModel[i]); m != nil {
			l.p.Models = append(l.p.Models, m)
		}
	}
	for i := range doc.API {
		if a := l.api(name, i, &doc.API[i]); a != nil {
			l.p.APIs = append(l.p.APIs, a)
		}
	}
}

// IsIdentifier reports whether s matches [A-Za-z_][A-Za-z0-9_]*.
func IsIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isIdentByte(c) && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// IsVersion reports whether s is a valid version: [0-9A-Za-z][0-9A-Za-z._-]*.
func IsVersion(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

func checkClaim(c string) string {
	switch {
	case c == "":
		return "jwt_claim is empty"
	case len(c) > 256:
		return "jwt_claim is longer than 256 bytes"
	case strings.ContainsFunc(c, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0xFFFD }):
		return fmt.Sprintf("jwt_claim %q contains control characters", c)
	}
	return ""
}

func (l *loader) model(file string, i int, r *ModelSpec) *Model {
	where := fmt.Sprintf("data_model[%d]", i)
	nerr := len(l.errs)
	switch {
	case r.Name == "":
		l.fail(file, where, "name is required")
	case !IsIdentifier(r.Name):
		l.fail(file, where, "name %q is not an identifier ([A-Za-z_][A-Za-z0-9_]*)", r.Name)
	default:
		where = fmt.Sprintf("data_model %q", r.Name)
	}
	m := &Model{Name: r.Name, Ingest: true, AllowExtraFields: r.AllowExtraFields, DeadLetter: r.DeadLetter, File: file}
	if r.Ingest != nil {
		m.Ingest = *r.Ingest
	}
	if r.Version != nil {
		m.Version = *r.Version
		if !IsVersion(m.Version) {
			l.fail(file, where+": version", "%q is not a version ([0-9A-Za-z][0-9A-Za-z._-]*, e.g. \"1.0\")", m.Version)
		}
	}
	if len(r.Columns) == 0 {
		l.fail(file, where, "a data model needs at least one [[data_model.columns]]")
	}
	seen := map[string]bool{}
	for j, rc := range r.Columns {
		cw := fmt.Sprintf("%s: columns[%d]", where, j)
		switch {
		case rc.Name == "":
			l.fail(file, cw, "name is required")
		case !IsIdentifier(rc.Name):
			l.fail(file, cw, "name %q is not an identifier ([A-Za-z_][A-Za-z0-9_]*)", rc.Name)
		default:
			cw = fmt.Sprintf("%s: column %q", where, rc.Name)
			if seen[rc.Name] {
				l.fail(file, cw, "duplicate column")
			}
			seen[rc.Name] = true
		}
		c := Column{Name: rc.Name, Key: rc.Key, Required: true}
		if rc.Required != nil {
			c.Required = *rc.Required
		}
		if rc.Type == "" {
			l.fail(file, cw+": type", "type is required")
		} else if t, err := ParseType(rc.Type); err != nil {
			l.fail(file, cw+": type", "%v", err)
		} else {
			c.Type = t.String()
		}
		if c.Key && !c.Required {
			l.fail(file, cw, "a key column cannot have required = false (sorting keys cannot be Nullable)")
		}
		if rc.JWTClaim != nil {
			c.JWTClaim = *rc.JWTClaim
			if msg := checkClaim(c.JWTClaim); msg != "" {
				l.fail(file, cw+": jwt_claim", "%s", msg)
			} else if m.Ingest {
				l.warns = append(l.warns, Warning{File: file, Message: fmt.Sprintf(
					"data_model %q: column %q is filled from JWT claim %q: its ingest route accepts only requests with a verified JWT",
					r.Name, rc.Name, c.JWTClaim)})
			}
		}
		m.Columns = append(m.Columns, c)
	}
	if r.OrderBy == nil {
		for _, c := range m.Columns {
			if c.Key {
				m.OrderBy = append(m.OrderBy, c.Name)
			}
		}
	} else {
		inOrder := map[string]bool{}
		for _, name := range r.OrderBy {
			c := m.Column(name)
			switch {
			case c == nil:
				l.fail(file, where+": order_by", "unknown column %q", name)
			case !c.Required:
				l.fail(file, where+": order_by", "column %q is Nullable (required = false) and cannot be in the sorting key", name)
			case inOrder[name]:
				l.fail(file, where+": order_by", "column %q listed twice", name)
			}
			inOrder[name] = true
		}
		m.OrderBy = append([]string{}, r.OrderBy...)
	}
	if m.DeadLetter && !m.Ingest {
		l.warns = append(l.warns, Warning{File: file, Message: fmt.Sprintf(
			"data_model %q: dead_letter = true has no effect with ingest = false", r.Name)})
	}
	if len(l.errs) > nerr {
		return nil
	}
	return m
}

// scalarText turns a TOML default/min/max value into its text form.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number: // from an infrastructure map decoded with UseNumber
		return x.String(), true
	}
	return "", false
}

func (l *loader) api(file string, i int, r *APISpec) *API {
	where := fmt.Sprintf("api[%d]", i)
	nerr := len(l.errs)
	switch {
	case r.Name == "":
		l.fail(file, where, "name is required")
	case !IsIdentifier(r.Name):
		l.fail(file, where, "name %q is not an identifier ([A-Za-z_][A-Za-z0-9_]*)", r.Name)
	default:
		where = fmt.Sprintf("api %q", r.Name)
	}
	a := &API{Name: r.Name, SQL: r.SQL, File: file}
	if r.Version != nil {
		a.Version = *r.Version
		if !IsVersion(a.Version) {
			l.fail(file, where+": version", "%q is not a version ([0-9A-Za-z][0-9A-Za-z._-]*, e.g. \"1.0\")", a.Version)
		}
	}
	if strings.TrimSpace(r.SQL) == "" {
		l.fail(file, where+": sql", "sql is required")
	}
	phs, err := chsql.Placeholders(r.SQL)
	if err != nil {
		l.fail(file, where+": sql", "%v", err)
	}
	index := map[string]int{}
	for _, ph := range phs {
		pw := fmt.Sprintf("%s: sql: placeholder {%s:%s}", where, ph.Name, ph.Type)
		if !IsIdentifier(ph.Name) {
			l.fail(file, pw, "parameter name %q is not an identifier", ph.Name)
			continue
		}
		t, err := ParseType(ph.Type)
		if err != nil {
			l.fail(file, pw, "%v", err)
			continue
		}
		if k, ok := index[ph.Name]; ok {
			if a.Params[k].Type != t.String() {
				l.fail(file, pw, "parameter %q is used with two types, %s and %s", ph.Name, a.Params[k].Type, t)
			}
			continue
		}
		index[ph.Name] = len(a.Params)
		a.Params = append(a.Params, Param{Name: ph.Name, Type: t.String(), Required: true})
	}
	configured := map[string]bool{}
	for j, rp := range r.Params {
		pw := fmt.Sprintf("%s: params[%d]", where, j)
		if rp.Name == "" {
			l.fail(file, pw, "name is required")
			continue
		}
		pw = fmt.Sprintf("%s: param %q", where, rp.Name)
		k, ok := index[rp.Name]
		if !ok {
			l.fail(file, pw, "no placeholder {%s:Type} in sql", rp.Name)
			continue
		}
		if configured[rp.Name] {
			l.fail(file, pw, "declared twice in [[api.params]]")
			continue
		}
		configured[rp.Name] = true
		p := &a.Params[k]
		t, _ := ParseType(p.Type)
		vals := map[string]any{}
		for _, f := range []struct {
			key string
			raw any
			dst **string
		}{{"default", rp.Default, &p.Default}, {"min", rp.Min, &p.Min}, {"max", rp.Max, &p.Max}} {
			if f.raw == nil {
				continue
			}
			text, ok := scalarText(f.raw)
			if !ok {
				l.fail(file, pw+": "+f.key, "must be a string, number or boolean")
				continue
			}
			v, err := t.ParseValue(text)
			if err != nil {
				l.fail(file, pw+": "+f.key, "%v", err)
				continue
			}
			*f.dst = &text
			vals[f.key] = v
		}
		if (p.Min != nil || p.Max != nil) && !t.Kind.IsNumeric() && t.Kind != KindDate &&
			t.Kind != KindDateTime && t.Kind != KindDateTime64 {
			l.fail(file, pw, "min and max apply only to numeric, Date and DateTime parameters, not %s", p.Type)
		} else {
			lo, hasLo := vals["min"]
			hi, hasHi := vals["max"]
			d, hasD := vals["default"]
			if hasLo && hasHi && compareValues(t.Kind, lo, hi) > 0 {
				l.fail(file, pw, "min %s is greater than max %s", *p.Min, *p.Max)
			}
			if hasD && hasLo && compareValues(t.Kind, d, lo) < 0 {
				l.fail(file, pw+": default", "%s is less than min %s", *p.Default, *p.Min)
			}
			if hasD && hasHi && compareValues(t.Kind, d, hi) > 0 {
				l.fail(file, pw+": default", "%s is greater than max %s", *p.Default, *p.Max)
			}
		}
		if rp.JWTClaim != nil {
			p.JWTClaim = *rp.JWTClaim
			if msg := checkClaim(p.JWTClaim); msg != "" {
				l.fail(file, pw+": jwt_claim", "%s", msg)
			} else if p.Default != nil {
				l.fail(file, pw, "a parameter bound from a JWT claim cannot have a default")
			} else {
				l.warns = append(l.warns, Warning{File: file, Message: fmt.Sprintf(
					"api %q: parameter %q is bound from JWT claim %q: the API accepts only requests with a verified JWT",
					r.Name, rp.Name, p.JWTClaim)})
			}
		}
		p.Required = p.Default == nil && p.JWTClaim == ""
	}
	if len(l.errs) > nerr {
		return nil
	}
	return a
}

// crossChecks finds names that collide across models and APIs.
func (l *loader) crossChecks() {
	tables := map[string]*Model{} // lower-case table name
	routes := map[string]*Model{} // lower-case ingest route
	for _, m := range l.p.Models {
		collided := false
		names := []string{m.Name}
		if m.DeadLetter {
			names = append(names, m.Name+DeadLetterSuffix)
		}
		for _, n := range names {
			key := strings.ToLower(n)
			if prev, ok := tables[key]; ok {
				l.fail(m.File, fmt.Sprintf("data_model %q", m.Name),
					"table %q collides with data_model %q in %s (names match case-insensitively)", n, prev.Name, prev.File)
				collided = true
				continue
			}
			tables[key] = m
		}
		if !m.Ingest || collided {
			continue
		}
		rs := []string{"/ingest/" + m.Name}
		if m.Version != "" {
			rs = append(rs, "/ingest/"+m.Name+"/"+m.Version)
		}
		for _, r := range rs {
			key := strings.ToLower(r)
			if prev, ok := routes[key]; ok && prev != m {
				l.fail(m.File, fmt.Sprintf("data_model %q", m.Name),
					"ingest route %s collides with data_model %q in %s", r, prev.Name, prev.File)
				continue
			}
			routes[key] = m
		}
	}
	apis := map[string]*API{}
	for _, a := range l.p.APIs {
		key := strings.ToLower(a.Name) + "/" + a.Version
		if prev, ok := apis[key]; ok {
			what := fmt.Sprintf("api %q", a.Name)
			if a.Version != "" {
				what += " version " + a.Version
			}
			l.fail(a.File, fmt.Sprintf("api %q", a.Name), "duplicate: %s is already declared in %s (names match case-insensitively)", what, prev.File)
			continue
		}
		apis[key] = a
	}
}
