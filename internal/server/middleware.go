package server

import (
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/moose-go/moose/internal/httpx"
)

// chain applies middlewares so that the first listed runs first.
func chain(h http.Handler, mws ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// requestID gives every request an ID, echoed in X-Request-Id.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := httpx.NewRequestID()
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(httpx.WithRequestID(r.Context(), id)))
	})
}

// recoverer turns a handler panic into a 500 and a log line with the stack.
func recoverer(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.Error("handler panic", "request_id", httpx.RequestID(r.Context()),
						"path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
					httpx.WriteJSON(w, http.StatusInternalServerError, map[string]string{
						"error": "internal error", "request_id": httpx.RequestID(r.Context())})
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// cors adds the CORS headers to every response (refusals included, so a
// browser can read a 401) and answers preflight requests without auth.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, baggage, sentry-trace, traceparent, tracestate")
		h.Set("Access-Control-Expose-Headers", "X-Request-Id, WWW-Authenticate")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
