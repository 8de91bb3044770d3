package auth

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moose-go/moose/internal/httpx"
)

func TestMiddleware(t *testing.T) {
	v := loadVectors(t)
	c := testCreds(t)
	// ingest: JWT or key v0; consumption: JWT only; admin: not configured.
	a := mustNew(t, testConfig(cfgOpts{jwt: true, ingestKey: v[0].Hash}), WithClock(func() time.Time { return t0 }))
	const (
		challenge        = `Bearer realm="moose"`
		challengeInvalid = `Bearer realm="moose", error="invalid_token"`
	)
	for _, tc := range []struct {
		name       string
		scope      Scope
		headers    []string // Authorization values
		wantStatus int
		wantMethod httpx.Method
		wantWWW    string
		wantBody   string
		wantReason string
		wantLevel  string
		secret     string // must not appear in the body or the log
	}{
		{name: "no header", scope: Ingest, wantStatus: 401, wantWWW: challenge,
			wantBody: "unauthorized: missing bearer token", wantReason: ReasonMissingToken, wantLevel: "INFO"},
		{name: "malformed", scope: Ingest, headers: []string{"Token " + v[0].Token}, wantStatus: 401, wantWWW: challengeInvalid,
			wantBody: msgMalformedHeader, wantReason: ReasonMalformedHeader, wantLevel: "WARN", secret: v[0].Token},
		{name: "wrong key", scope: Ingest, headers: []string{"Bearer " + v[1].Token}, wantStatus: 401, wantWWW: challengeInvalid,
			wantBody: "unauthorized: invalid token", wantReason: ReasonInvalidAPIKey, wantLevel: "WARN", secret: v[1].Token},
		{name: "valid key", scope: Ingest, headers: []string{"Bearer " + v[0].Token}, wantStatus: 200, wantMethod: httpx.MethodAPIKey},
		{name: "valid jwt", scope: Ingest, headers: []string{"bearer  " + c.jwt}, wantStatus: 200, wantMethod: httpx.MethodJWT},
		{name: "expired jwt", scope: Consumption, headers: []string{"Bearer " + c.expiredJWT}, wantStatus: 401, wantWWW: challengeInvalid,
			wantBody: "unauthorized: invalid token", wantReason: "invalid_jwt: token is expired", wantLevel: "WARN", secret: c.expiredJWT},
		{name: "key on jwt-only scope", scope: Consumption, headers: []string{"Bearer " + v[0].Token}, wantStatus: 401, wantWWW: challengeInvalid,
			wantBody: "unauthorized: invalid token", wantReason: ReasonJWTRequired, wantLevel: "WARN", secret: v[0].Token},
		{name: "two Authorization headers", scope: Ingest, headers: []string{"Bearer " + v[0].Token, "Bearer " + v[0].Token}, wantStatus: 401,
			wantWWW: challengeInvalid, wantBody: msgMalformedHeader, wantReason: ReasonMalformedHeader, wantLevel: "WARN", secret: v[0].Token},
		{name: "admin not configured", scope: Admin, headers: []string{"Bearer " + v[0].Token}, wantStatus: 401, wantWWW: challengeInvalid,
			wantBody: "unauthorized: admin API key not configured", wantReason: ReasonAdminNotConfigured, wantLevel: "WARN", secret: v[0].Token},
		{name: "admin not configured, no header", scope: Admin, wantStatus: 401, wantWWW: challenge,
			wantBody: "unauthorized: admin API key not configured", wantReason: ReasonAdminNotConfigured, wantLevel: "WARN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logBuf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			var denied []string
			var mu sync.Mutex
			onDeny := func(s Scope, reason string) {
				mu.Lock()
				defer mu.Unlock()
				denied = append(denied, s.String()+":"+reason)
			}
			var seen *httpx.Principal
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = httpx.PrincipalFrom(r.Context())
				w.Write([]byte("SUCCESS"))
			})
			srv := httptest.NewServer(a.Middleware(tc.scope, log, onDeny)(next))
			defer srv.Close()

			req, err := http.NewRequest(http.MethodPost, srv.URL+"/ingest/PageView?x=1", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range tc.headers {
				req.Header.Add("Authorization", h)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body bytes.Buffer
			body.ReadFrom(resp.Body)

			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tc.wantStatus, body.String())
			}
			if tc.wantStatus == 200 {
				if seen == nil || seen.Method != tc.wantMethod {
					t.Fatalf("principal = %+v, want method %s", seen, tc.wantMethod)
				}
				if logBuf.Len() != 0 || len(denied) != 0 {
					t.Fatalf("allowed request logged %q / onDeny %v", logBuf.String(), denied)
				}
				return
			}
			if seen != nil {
				t.Fatal("next handler ran on a refused request")
			}
			if got := resp.Header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != tc.wantWWW {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.wantWWW)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var jb map[string]string
			if err := json.Unmarshal(body.Bytes(), &jb); err != nil {
				t.Fatalf("body %q: %v", body.String(), err)
			}
			if len(jb) != 1 || jb["error"] != tc.wantBody {
				t.Errorf("body = %v, want {error: %q}", jb, tc.wantBody)
			}
			if len(denied) != 1 || denied[0] != tc.scope.String()+":"+tc.wantReason {
				t.Errorf("onDeny calls = %v", denied)
			}

			lines := strings.Split(strings.TrimSpace(logBuf.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("want one log line, got %d: %s", len(lines), logBuf.String())
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]string{
				"level": tc.wantLevel, "scope": tc.scope.String(), "reason": tc.wantReason,
				"path": "/ingest/PageView", "method": "POST",
			} {
				if rec[k] != want {
					t.Errorf("log %s = %v, want %q", k, rec[k], want)
				}
			}
			if ra, _ := rec["remote_addr"].(string); !strings.HasPrefix(ra, "127.0.0.1:") {
				t.Errorf("log remote_addr = %v", rec["remote_addr"])
			}
			if tc.secret != "" {
				for _, part := range strings.Split(tc.secret, ".") {
					if strings.Contains(body.String(), part) {
						t.Error("response body contains the token")
					}
					if strings.Contains(logBuf.String(), part) {
						t.Error("log contains the token")
					}
				}
			}
		})
	}
}

func TestMiddlewareNilLoggerAndHook(t *testing.T) {
	a := mustNew(t, testConfig(cfgOpts{}))
	h := a.Middleware(Admin, nil, nil)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Fatal("admin reached without configuration")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/admin/inframap", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status = %d", rec.Code)
	}
}

func TestMiddlewareOpenScope(t *testing.T) {
	a := mustNew(t, testConfig(cfgOpts{}))
	var seen *httpx.Principal
	h := a.Middleware(Ingest, nil, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = httpx.PrincipalFrom(r.Context())
	}))
	req := httptest.NewRequest(http.MethodPost, "/ingest/X", nil)
	req.Header.Set("Authorization", "garbage garbage garbage")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || seen == nil || seen.Method != httpx.MethodNone {
		t.Fatalf("status %d, principal %+v", rec.Code, seen)
	}
}
