package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// APIError is an error with an HTTP status and a message that is safe to
// show the client. Err, if set, is the cause: logged, never sent.
type APIError struct {
	Status  int
	Message string
	Err     error
	// Header is added to the response (e.g. WWW-Authenticate).
	Header http.Header
}

func (e *APIError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Message)
}

func (e *APIError) Unwrap() error { return e.Err }

// Errorf builds an APIError with a formatted client-safe message.
func Errorf(status int, format string, args ...any) *APIError {
	return &APIError{Status: status, Message: fmt.Sprintf(format, args...)}
}

// HandlerFunc is an http handler that returns an error instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts h: a returned *APIError becomes its status and
// {"error": message}; any other error becomes a 500 whose body carries only
// the request ID, with the detail in the log.
func Handle(log *slog.Logger, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteError(log, w, r, err)
		}
	})
}

// WriteError writes err as HandleFunc does.
func WriteError(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	var ae *APIError
	if !errors.As(err, &ae) {
		ae = &APIError{Status: http.StatusInternalServerError, Message: "internal error", Err: err}
	}
	id := RequestID(r.Context())
	body := map[string]string{"error": ae.Message}
	if ae.Status >= 500 {
		body["request_id"] = id
		log.ErrorContext(r.Context(), "request failed", "request_id", id, "method", r.Method,
			"path", r.URL.Path, "status", ae.Status, "err", err)
	} else if ae.Err != nil {
		log.DebugContext(r.Context(), "request refused", "request_id", id, "path", r.URL.Path,
			"status", ae.Status, "err", ae.Err)
	}
	for k, vs := range ae.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	WriteJSON(w, ae.Status, body)
}

// WriteJSON writes v as a JSON response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // messages quote <Model>; keep them readable
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"internal error"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
	principalKey
)

var reqSeq atomic.Uint64
var reqPrefix = strconv.FormatInt(time.Now().UnixNano()%1e9, 36)

// NewRequestID returns a process-unique request ID.
func NewRequestID() string {
	return reqPrefix + "-" + strconv.FormatUint(reqSeq.Add(1), 36)
}

// WithRequestID stores id in ctx.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request's ID, or "" if none was set.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// Method is how a request was authenticated.
type Method string

const (
	MethodNone   Method = "none"    // open scope, no credential checked
	MethodJWT    Method = "jwt"     // verified RS256 JWT
	MethodAPIKey Method = "api_key" // PBKDF2 API key
)

// Principal is who made the request, as auth decided. It is read-only:
// auth shares one Principal (and its Claims) between requests that carry
// the same cached token.
type Principal struct {
	Method Method
	// Claims are the verified JWT's claims (nil unless Method is MethodJWT).
	Claims map[string]any
}

// BearerChallenge is the WWW-Authenticate value of a 401 (RFC 6750):
// error="invalid_token" is added when the request carried credentials.
func BearerChallenge(tokenSent bool) string {
	if tokenSent {
		return `Bearer realm="moose", error="invalid_token"`
	}
	return `Bearer realm="moose"`
}

// TokenSent reports whether r carries a non-blank Authorization header.
func TokenSent(r *http.Request) bool {
	return strings.Trim(r.Header.Get("Authorization"), " \t") != ""
}

// WithPrincipal stores p in ctx.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// PrincipalFrom returns the request's Principal, or nil when auth did not run.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey).(*Principal)
	return p
}
