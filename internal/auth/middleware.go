package auth

import (
	"log/slog"
	"net/http"

	"github.com/moose-go/moose/internal/httpx"
)

// Messages in 401 bodies. None quotes the token.
const (
	msgMissingToken       = "unauthorized: missing bearer token"
	msgMalformedHeader    = `unauthorized: malformed Authorization header (expected "Bearer <token>")`
	msgInvalidToken       = "unauthorized: invalid token"
	msgAdminNotConfigured = "unauthorized: admin API key not configured"
)

// Middleware guards a route group with scope's rule. An allowed request
// continues with its Principal in the context (httpx.WithPrincipal). A
// refused one gets 401 with
//
//	WWW-Authenticate: Bearer realm="moose"[, error="invalid_token"]
//
// (the error only when a credential was sent, RFC 6750 3.1), a JSON body
// {"error": "..."} that never quotes the token, one log line (Info when no
// credential was sent, Warn otherwise) with scope, reason, remote address
// and path, and a call to onDeny (for metrics; may be nil). A request with
// more than one Authorization header is refused as malformed. CORS headers
// are the job of an outer middleware.
func (a *Authenticator) Middleware(scope Scope, log *slog.Logger, onDeny func(scope Scope, reason string)) func(http.Handler) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var d Decision
			switch vals := r.Header.Values("Authorization"); len(vals) {
			case 0:
				d = a.Decide(scope, "")
			case 1:
				d = a.Decide(scope, vals[0])
			default:
				d = Decision{Reason: ReasonMalformedHeader, TokenSent: true}
			}
			if d.Allow {
				next.ServeHTTP(w, r.WithContext(httpx.WithPrincipal(r.Context(), d.Principal)))
				return
			}
			refuse(w, r, log, scope, d)
			if onDeny != nil {
				onDeny(scope, d.Reason)
			}
		})
	}
}

func refuse(w http.ResponseWriter, r *http.Request, log *slog.Logger, scope Scope, d Decision) {
	challenge := httpx.BearerChallenge(d.TokenSent)
	level := slog.LevelWarn
	if d.Reason == ReasonMissingToken {
		level = slog.LevelInfo
	}
	log.LogAttrs(r.Context(), level, "request refused",
		slog.String("scope", scope.String()),
		slog.String("reason", d.Reason),
		slog.String("remote_addr", r.RemoteAddr),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("request_id", httpx.RequestID(r.Context())),
	)
	httpx.WriteError(log, w, r, &httpx.APIError{
		Status:  http.StatusUnauthorized,
		Message: denyMessage(d.Reason),
		Header:  http.Header{"Www-Authenticate": {challenge}},
	})
}

func denyMessage(reason string) string {
	switch reason {
	case ReasonMissingToken:
		return msgMissingToken
	case ReasonMalformedHeader:
		return msgMalformedHeader
	case ReasonAdminNotConfigured:
		return msgAdminNotConfigured
	}
	return msgInvalidToken
}
