package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moose-go/moose/internal/httpx"
	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/project"
)

// Options configure a Handler.
type Options struct {
	Logger *slog.Logger
	// OnQuery, if set, sees each engine query's duration (for metrics).
	OnQuery func(api string, d time.Duration, err error)
}

// Handler serves the analytics routes of one project version.
type Handler struct {
	apis map[string]*endpoint // name, and name+"/"+version
	r    olap.Reader
	opt  Options
}

type endpoint struct {
	api    *project.API
	params map[string]*param
	names  []string // sorted, for error messages
	claims bool
}

type param struct {
	p        *project.Param
	typ      project.Type
	def      any // parsed default, or nil
	min, max any
}

// NewHandler parses every API's parameter types, defaults and bounds.
func NewHandler(p *project.Project, r olap.Reader, opt Options) (*Handler, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{apis: map[string]*endpoint{}, r: r, opt: opt}
	for _, a := range p.APIs {
		ep := &endpoint{api: a, params: map[string]*param{}}
		for i := range a.Params {
			pp := &a.Params[i]
			t, err := project.ParseType(pp.Type)
			if err != nil {
				return nil, fmt.Errorf("api %s param %s: %w", a.Name, pp.Name, err)
			}
			prm := &param{p: pp, typ: t}
			for _, b := range []struct {
				src *string
				typ project.Type
				dst *any
			}{{pp.Default, t, &prm.def}, {pp.Min, t, &prm.min}, {pp.Max, t, &prm.max}} {
				if b.src != nil {
					v, err := b.typ.ParseValue(*b.src)
					if err != nil {
						return nil, fmt.Errorf("api %s param %s: %w", a.Name, pp.Name, err)
					}
					*b.dst = v
				}
			}
			ep.params[pp.Name] = prm
			if pp.JWTClaim != "" {
				ep.claims = true
			} else {
				ep.names = append(ep.names, pp.Name)
			}
		}
		sort.Strings(ep.names)
		key := a.Name
		if a.Version != "" {
			h.apis[key+"/"+a.Version] = ep
			if _, taken := h.apis[key]; !taken {
				h.apis[key] = ep
			}
		} else {
			h.apis[key] = ep
		}
	}
	return h, nil
}

// Register adds the analytics routes to mux, each wrapped by wrap (auth).
func (h *Handler) Register(mux *http.ServeMux, wrap func(http.Handler) http.Handler) {
	hh := wrap(httpx.Handle(h.opt.Logger, h.serve))
	for _, p := range []string{"GET /api/{name}", "GET /api/{name}/{version}",
		"GET /consumption/{name}", "GET /consumption/{name}/{version}"} {
		mux.Handle(p, hh)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	name, version := r.PathValue("name"), r.PathValue("version")
	key := name
	if version != "" {
		key += "/" + version
	}
	ep := h.apis[key]
	if ep == nil {
		return httpx.Errorf(http.StatusNotFound, "no API named %q (run `moose ls` to list them)", key)
	}
	var claims map[string]any
	if p := httpx.PrincipalFrom(r.Context()); p != nil && p.Method == httpx.MethodJWT {
		claims = p.Claims
	}
	if ep.claims && claims == nil {
		return &httpx.APIError{Status: http.StatusUnauthorized,
			Message: "unauthorized: API " + ep.api.Name + " binds parameters from a verified JWT; send one",
			Header:  http.Header{"Www-Authenticate": {httpx.BearerChallenge(httpx.TokenSent(r))}}}
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return httpx.Errorf(http.StatusBadRequest, "malformed query string: %v", err)
	}
	params, err := ep.bind(q, claims)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := h.r.Query(r.Context(), ep.api.SQL, params)
	if h.opt.OnQuery != nil {
		h.opt.OnQuery(ep.api.Name, time.Since(start), err)
	}
	if errors.Is(err, olap.ErrUnavailable) {
		return &httpx.APIError{Status: http.StatusServiceUnavailable,
			Message: "the engine is unavailable; retry", Err: err}
	}
	if err != nil {
		return &httpx.APIError{Status: http.StatusInternalServerError,
			Message: "the query for API " + ep.api.Name + " failed", Err: err}
	}
	body := EncodeRows(res)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(body)
	return err
}

// bind validates the query string against the API's parameters and
// returns them typed. Claim-bound parameters come only from claims.
func (ep *endpoint) bind(q url.Values, claims map[string]any) ([]olap.Param, error) {
	for k := range q {
		p, ok := ep.params[k]
		if !ok {
			return nil, httpx.Errorf(http.StatusBadRequest, "unknown parameter %q (API %s takes: %s)",
				k, ep.api.Name, listOrNone(ep.names))
		}
		if p.p.JWTClaim != "" {
			return nil, httpx.Errorf(http.StatusBadRequest,
				"parameter %q is bound from the verified token (claim %s) and cannot be sent", k, p.p.JWTClaim)
		}
	}
	out := make([]olap.Param, 0, len(ep.api.Params))
	for i := range ep.api.Params {
		pp := &ep.api.Params[i]
		p := ep.params[pp.Name]
		v, err := p.value(q[pp.Name], claims)
		if err != nil {
			return nil, err
		}
		out = append(out, olap.Param{Name: pp.Name, Type: p.typ.String(), Value: v})
	}
	return out, nil
}

func (p *param) value(vals []string, claims map[string]any) (any, error) {
	name := p.p.Name
	if c := p.p.JWTClaim; c != "" {
		cv, ok := claims[c]
		if !ok || cv == nil {
			return nil, httpx.Errorf(http.StatusBadRequest, "parameter %q: the token has no claim %q", name, c)
		}
		text, err := claimText(cv)
		if err != nil {
			return nil, httpx.Errorf(http.StatusBadRequest, "parameter %q: claim %q: %v", name, c, err)
		}
		v, err := p.typ.ParseValue(text)
		if err != nil {
			return nil, httpx.Errorf(http.StatusBadRequest, "parameter %q: claim %q: %v", name, c, err)
		}
		return v, nil
	}
	if len(vals) == 0 {
		if p.def != nil {
			return p.def, nil
		}
		return nil, httpx.Errorf(http.StatusBadRequest, "missing required parameter %q (%s)", name, p.typ)
	}
	var v any
	if p.typ.Kind == project.KindArray {
		elems := make([]any, 0, len(vals))
		for _, s := range vals {
			e, err := p.typ.Elem.ParseValue(s)
			if err != nil {
				return nil, httpx.Errorf(http.StatusBadRequest, "parameter %q: %v", name, err)
			}
			elems = append(elems, e)
		}
		v = elems
	} else {
		if len(vals) > 1 {
			return nil, httpx.Errorf(http.StatusBadRequest, "parameter %q given %d times; it takes one value", name, len(vals))
		}
		var err error
		if v, err = p.typ.ParseValue(vals[0]); err != nil {
			return nil, httpx.Errorf(http.StatusBadRequest, "parameter %q: %v", name, err)
		}
	}
	// The project loader allows min/max only on scalar numeric and date types.
	if p.min != nil && p.typ.Compare(v, p.min) < 0 {
		return nil, httpx.Errorf(http.StatusBadRequest, "parameter %q: %s is below the minimum %s", name, show(v), show(p.min))
	}
	if p.max != nil && p.typ.Compare(v, p.max) > 0 {
		return nil, httpx.Errorf(http.StatusBadRequest, "parameter %q: %s is above the maximum %s", name, show(v), show(p.max))
	}
	return v, nil
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "no parameters"
	}
	return strings.Join(names, ", ")
}

func claimText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case json.Number:
		return x.String(), nil
	case []any:
		b, err := json.Marshal(x)
		return string(b), err
	}
	return "", fmt.Errorf("unsupported claim value of type %T", v)
}

func show(v any) string {
	if t, ok := v.(time.Time); ok {
		return t.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// EncodeRows writes the result as a JSON array of objects. DateTime values
// become RFC 3339 UTC strings; every other value is the engine's JSON.
func EncodeRows(res *olap.Result) []byte {
	keys := make([][]byte, len(res.Columns))
	conv := make([]func([]byte) []byte, len(res.Columns))
	for i, c := range res.Columns {
		k, _ := json.Marshal(c.Name)
		keys[i] = k
		conv[i] = converter(c.Type)
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for ri, row := range res.Rows {
		if ri > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		for ci, v := range row {
			if ci >= len(keys) {
				break
			}
			if ci > 0 {
				b.WriteByte(',')
			}
			b.Write(keys[ci])
			b.WriteByte(':')
			if conv[ci] != nil {
				b.Write(conv[ci](v))
			} else {
				b.Write(v)
			}
		}
		b.WriteByte('}')
	}
	b.WriteString("]\n")
	return b.Bytes()
}

// converter returns how to turn a column's engine JSON into ours, or nil.
func converter(typ string) func([]byte) []byte {
	t := typ
	for _, w := range []string{"Nullable(", "LowCardinality("} {
		if strings.HasPrefix(t, w) && strings.HasSuffix(t, ")") {
			t = t[len(w) : len(t)-1]
		}
	}
	switch {
	case strings.HasPrefix(t, "DateTime64"):
		return dateTimeJSON
	case strings.HasPrefix(t, "DateTime"):
		return dateTimeJSON
	case strings.HasPrefix(t, "Array(") && strings.Contains(t, "DateTime"):
		return arrayDateTimeJSON
	}
	return nil
}

// dateTimeJSON turns "2024-01-02 03:04:05[.fff]" into "2024-01-02T03:04:05[.fff]Z".
func dateTimeJSON(v []byte) []byte {
	if len(v) < 21 || v[0] != '"' || v[11] != ' ' {
		return v // null, or already another shape
	}
	out := make([]byte, 0, len(v)+1)
	out = append(out, v[:11]...)
	out = append(out, 'T')
	out = append(out, v[12:len(v)-1]...)
	out = append(out, 'Z', '"')
	return out
}

func arrayDateTimeJSON(v []byte) []byte {
	var xs []json.RawMessage
	if err := json.Unmarshal(v, &xs); err != nil {
		return v
	}
	for i := range xs {
		xs[i] = dateTimeJSON(xs[i])
	}
	b, err := json.Marshal(xs)
	if err != nil {
		return v
	}
	return b
}
