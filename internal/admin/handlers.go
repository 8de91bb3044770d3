package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"unicode"

	"github.com/moose-go/moose/internal/httpx"
	"github.com/moose-go/moose/internal/olap"
)

// maxAdminBody caps an admin request body (a map is small).
const maxAdminBody = 8 << 20

// Handlers serves /admin/*. Authentication (API key only) wraps it in the
// server's routes.go.
type Handlers struct {
	svc *Service
	r   olap.Reader
	log *slog.Logger
	// Encode turns a query result into JSON rows (the api package's format).
	Encode func(*olap.Result) []byte
}

// NewHandlers returns the admin handlers over svc; r serves /admin/query.
func NewHandlers(svc *Service, r olap.Reader, encode func(*olap.Result) []byte, log *slog.Logger) *Handlers {
	return &Handlers{svc: svc, r: r, log: log, Encode: encode}
}

// Register adds the admin routes to mux.
func (h *Handlers) Register(mux *http.ServeMux) {
	mux.Handle("GET /admin/inframap", httpx.Handle(h.log, h.inframap))
	mux.Handle("POST /admin/plan", httpx.Handle(h.log, h.plan))
	mux.Handle("POST /admin/integrate-changes", httpx.Handle(h.log, h.integrate))
	mux.Handle("GET /admin/reality-check", httpx.Handle(h.log, h.realityCheck))
	mux.Handle("POST /admin/query", httpx.Handle(h.log, h.query))
}

func (h *Handlers) inframap(w http.ResponseWriter, r *http.Request) error {
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"status": "success", "infra_map": h.svc.Current()})
	return nil
}

type planRequest struct {
	InfraMap         json.RawMessage `json:"infra_map"`
	AllowDestructive bool            `json:"allow_destructive"`
}

func decodeRequest(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBody+1))
	if err != nil {
		return httpx.Errorf(http.StatusBadRequest, "reading the request body: %v", err)
	}
	if len(body) > maxAdminBody {
		return httpx.Errorf(http.StatusRequestEntityTooLarge, "request body over %d bytes", maxAdminBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return httpx.Errorf(http.StatusBadRequest, "bad JSON request: %v", err)
	}
	if dec.More() {
		return httpx.Errorf(http.StatusBadRequest, "bad JSON request: trailing data")
	}
	return nil
}

func (h *Handlers) plan(w http.ResponseWriter, r *http.Request) error {
	var req planRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	next, _, err := DecodeMap(req.InfraMap)
	if err != nil {
		return httpx.Errorf(http.StatusBadRequest, "%v", err)
	}
	p, err := h.svc.Plan(next)
	if err != nil {
		return httpx.Errorf(http.StatusBadRequest, "planning: %v", err)
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"status": "success", "changes": p.Changes})
	return nil
}

func (h *Handlers) integrate(w http.ResponseWriter, r *http.Request) error {
	var req planRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	next, proj, err := DecodeMap(req.InfraMap)
	if err != nil {
		return httpx.Errorf(http.StatusBadRequest, "%v", err)
	}
	p, err := h.svc.Apply(r.Context(), next, proj, req.AllowDestructive)
	switch {
	case errors.Is(err, ErrBusy):
		return httpx.Errorf(http.StatusConflict, "another apply is running; try again when it ends")
	case errors.Is(err, ErrDestructive):
		httpx.WriteJSON(w, http.StatusConflict, map[string]any{
			"error":       "the plan has destructive changes; nothing was applied (send allow_destructive: true to apply them)",
			"destructive": p.Destructive(),
		})
		return nil
	case err != nil:
		return &httpx.APIError{Status: http.StatusInternalServerError, Message: "applying the plan failed: " + firstLine(err.Error()), Err: err}
	}
	h.log.Info("applied a new infrastructure map", "changes", len(p.Changes))
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"status": "success", "changes": p.Changes})
	return nil
}

func (h *Handlers) realityCheck(w http.ResponseWriter, r *http.Request) error {
	diffs, err := h.svc.RealityCheck(r.Context())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"status": "success", "in_sync": len(diffs) == 0, "differences": diffs})
	return nil
}

type queryRequest struct {
	SQL string `json:"sql"`
}

// readOnlyStarts are the statements /admin/query runs.
var readOnlyStarts = []string{"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS"}

// ReadOnly reports whether sql is one statement that starts with a
// read-only keyword. A second statement after a semicolon ("SELECT 1; DROP
// TABLE t") is refused: the engine would run it.
func ReadOnly(sql string) bool {
	if !singleStatement(sql) {
		return false
	}
	s := strings.TrimLeftFunc(sql, func(r rune) bool { return unicode.IsSpace(r) || r == '(' })
	end := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	if end < 0 {
		end = len(s)
	}
	word := strings.ToUpper(s[:end])
	for _, k := range readOnlyStarts {
		if word == k {
			return true
		}
	}
	return false
}

// singleStatement reports whether sql holds at most one statement: no
// semicolon outside string literals, quoted names and comments, except
// trailing ones.
func singleStatement(sql string) bool {
	semi := false
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			for i++; i < len(sql) && sql[i] != c; i++ {
				if sql[i] == '\\' {
					i++
				}
			}
			if semi {
				return false
			}
			continue
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			continue
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return true // an unterminated comment ends the text
			}
			i += end + 3
			continue
		case c == ';':
			semi = true
			continue
		case unicode.IsSpace(rune(c)):
			continue
		}
		if semi {
			return false
		}
	}
	return true
}

func (h *Handlers) query(w http.ResponseWriter, r *http.Request) error {
	var req queryRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	if !ReadOnly(req.SQL) {
		return httpx.Errorf(http.StatusBadRequest, "only one read-only statement (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS) is run here")
	}
	res, err := h.r.Query(r.Context(), req.SQL, nil)
	if err != nil {
		if errors.Is(err, olap.ErrBadQuery) || errors.Is(err, olap.ErrTableNotFound) {
			return httpx.Errorf(http.StatusBadRequest, "%s", firstLine(err.Error()))
		}
		return err
	}
	cols := make([]olap.ColumnMeta, len(res.Columns))
	copy(cols, res.Columns)
	w.Header().Set("Content-Type", "application/json")
	rows := h.Encode(res)
	meta, _ := json.Marshal(cols)
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, `{"columns":`)
	w.Write(meta)
	io.WriteString(w, `,"rows":`)
	w.Write(bytes.TrimRight(rows, "\n"))
	io.WriteString(w, "}\n")
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
