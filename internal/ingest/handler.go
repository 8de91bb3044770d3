package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/moose-go/moose/internal/httpx"
	"github.com/moose-go/moose/internal/project"
)

// Options configure a Handler.
type Options struct {
	// MaxBodyBytes caps a request body; larger bodies get 413.
	MaxBodyBytes int64
	Logger       *slog.Logger
	// OnRows, if set, is told how many rows each request stored.
	OnRows func(model string, stored, deadLettered int)
	// BoolAsInt encodes Bool as 0/1 (ClickHouse 18.16 has no Bool).
	BoolAsInt bool
}

// Handler serves the ingest routes of one project version. The server
// builds a new Handler when the project changes and swaps it in whole.
type Handler struct {
	routes map[string]*route // lower(name) and lower(name)+"/"+version
	sink   Sink
	opt    Options
	now    func() time.Time
}

type route struct {
	model   *project.Model
	enc     *Encoder
	claims  bool // some column is filled from a JWT claim
	version string
}

// NewHandler prepares an encoder per ingestible model.
func NewHandler(p *project.Project, sink Sink, opt Options) (*Handler, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{routes: map[string]*route{}, sink: sink, opt: opt, now: time.Now}
	for _, m := range p.Models {
		if !m.Ingest {
			continue
		}
		enc, err := NewEncoder(m, EncoderOptions{BoolAsInt: opt.BoolAsInt})
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", m.Name, err)
		}
		r := &route{model: m, enc: enc, version: m.Version}
		for _, c := range m.Columns {
			if c.JWTClaim != "" {
				r.claims = true
			}
		}
		key := strings.ToLower(m.Name)
		h.routes[key] = r
		if m.Version != "" {
			h.routes[key+"/"+m.Version] = r
		}
	}
	return h, nil
}

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// Register adds the ingest routes to mux under prefix (e.g. "" or "/moose").
func (h *Handler) Register(mux *http.ServeMux, wrap func(http.Handler) http.Handler) {
	hh := wrap(httpx.Handle(h.opt.Logger, h.serve))
	mux.Handle("POST /ingest/{model}", hh)
	mux.Handle("POST /ingest/{model}/{version}", hh)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	name, version := r.PathValue("model"), r.PathValue("version")
	key := strings.ToLower(name)
	if version != "" {
		key += "/" + version
	}
	rt := h.routes[key]
	if rt == nil {
		if version != "" && h.routes[strings.ToLower(name)] != nil {
			return httpx.Errorf(http.StatusNotFound, "model %s has no version %q", name, version)
		}
		return httpx.Errorf(http.StatusNotFound, "no ingest route for model %q (see GET /admin/inframap or moose ls)", name)
	}
	var claims map[string]any
	if p := httpx.PrincipalFrom(r.Context()); p != nil && p.Method == httpx.MethodJWT {
		claims = p.Claims
	}
	if rt.claims && claims == nil {
		return &httpx.APIError{Status: http.StatusUnauthorized,
			Message: "unauthorized: model " + rt.model.Name + " takes columns from a verified JWT; send one",
			Header:  http.Header{"Www-Authenticate": {httpx.BearerChallenge(httpx.TokenSent(r))}}}
	}

	bp := bodyPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 16<<20 { // don't keep huge buffers
			bodyPool.Put(bp)
		}
	}()
	body, err := readBody(w, r, h.opt.MaxBodyBytes, (*bp)[:0])
	*bp = body
	if err != nil {
		return err
	}

	op := bodyPool.Get().(*[]byte)
	defer func() {
		if cap(*op) <= 16<<20 {
			bodyPool.Put(op)
		}
	}()
	m := rt.model
	if !m.DeadLetter {
		out, n, err := rt.enc.Encode((*op)[:0], body, claims)
		*op = out
		if err != nil {
			return badRecord(err)
		}
		if err := h.sink.Write(r.Context(), m.Name, out, n); err != nil {
			return storeFailed(err)
		}
		h.rows(m.Name, n, 0)
		return writeSuccess(w)
	}

	// Dead-letter mode: good records are stored, bad ones kept with their error.
	var dl []byte
	var rejected []rejection
	received := h.now().UTC().Format("2006-01-02 15:04:05")
	out, n, err := rt.enc.EncodeEach((*op)[:0], body, claims, func(i int, raw []byte, rerr *RecordError) {
		rec, _ := json.Marshal(string(raw))
		msg, _ := json.Marshal(rerr.Error())
		dl = fmt.Appendf(dl, `{"received_at":"%s","record_index":%d,"record":%s,"error":%s}`+"\n", received, max(i, 0), rec, msg)
		rejected = append(rejected, rejection{Index: i, Field: rerr.Field, Error: rerr.Error()})
	})
	*op = out
	if err != nil {
		return badRecord(err)
	}
	if err := h.sink.Write(r.Context(), m.Name, out, n); err != nil {
		return storeFailed(err)
	}
	if len(rejected) > 0 {
		if err := h.sink.Write(r.Context(), m.DeadLetterTable().Name, dl, len(rejected)); err != nil {
			return storeFailed(err)
		}
	}
	h.rows(m.Name, n, len(rejected))
	if len(rejected) == 0 {
		return writeSuccess(w)
	}
	shown := rejected
	if len(shown) > 100 {
		shown = shown[:100]
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"status": "SUCCESS", "stored": n, "dead_lettered": len(rejected),
		"dead_letter_table": m.DeadLetterTable().Name, "errors": shown,
	})
	return nil
}

type rejection struct {
	Index int    `json:"index"`
	Field string `json:"field,omitempty"`
	Error string `json:"error"`
}

func (h *Handler) rows(model string, stored, dl int) {
	if h.opt.OnRows != nil {
		h.opt.OnRows(model, stored, dl)
	}
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64, buf []byte) ([]byte, error) {
	if limit > 0 && r.ContentLength > limit {
		return buf, httpx.Errorf(http.StatusRequestEntityTooLarge,
			"request body of %d bytes is over the limit of %d bytes (max_request_body_size)", r.ContentLength, limit)
	}
	var rd io.Reader = r.Body
	if limit > 0 {
		rd = http.MaxBytesReader(w, r.Body, limit)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return buf, httpx.Errorf(http.StatusRequestEntityTooLarge,
					"request body is over the limit of %d bytes (max_request_body_size)", limit)
			}
			return buf, httpx.Errorf(http.StatusBadRequest, "reading request body: %v", err)
		}
	}
}

func badRecord(err error) error {
	var re *RecordError
	if errors.As(err, &re) {
		return &httpx.APIError{Status: http.StatusBadRequest, Message: re.Error() + "; nothing from this request was stored"}
	}
	return &httpx.APIError{Status: http.StatusBadRequest, Message: err.Error() + "; nothing from this request was stored"}
}

func storeFailed(err error) error {
	return &httpx.APIError{Status: http.StatusServiceUnavailable,
		Message: "the records could not be stored; nothing from this request was acknowledged, retry", Err: err}
}

var success = []byte("SUCCESS")

func writeSuccess(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", "7")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(success)
	return err
}
