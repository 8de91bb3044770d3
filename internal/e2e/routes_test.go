package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

const clicksModel = `
[[data_model]]
name = "Clicks"
version = "1.0"
  [[data_model.columns]]
  name = "id"
  type = "String"
  key = true
`

// TestRoutesAuth covers the scopes around ingest on a server whose ingest
// and consumption keys are set and whose admin key is not: admin fails
// closed, health is open, unknown routes get a JSON 404 with a hint.
func TestRoutesAuth(t *testing.T) {
	requireEngine(t)
	k := kit(t)
	vecs := loadVectors(t)
	s := startServer(t, serverOpts{
		Models: map[string]string{"events.toml": eventsModel, "clicks.toml": clicksModel},
		Env:    []string{"MOOSE_INGEST_API_KEY=" + vecs[0].Hash, "MOOSE_CONSUMPTION_API_KEY=" + vecs[1].Hash},
	})
	ingestKey, apiKey := "Bearer "+vecs[0].Token, "Bearer "+vecs[1].Token
	jwtValid := "Bearer " + k.rs256(t, claims("user-1", nil))

	tests := []struct {
		name       string
		method     string
		path       string
		authz      []string
		wantStatus int
		wantInBody string // substring of the body
	}{
		// The ingest key is accepted (and cached) for ingest first; the same
		// token must still be refused by every other scope.
		{name: "ingest key warms the cache", method: "POST", path: "/ingest/Events", authz: []string{ingestKey}, wantStatus: 200},

		// Admin: no admin key configured, so nothing gets in (fail closed).
		{name: "admin inframap no token", method: "GET", path: "/admin/inframap", wantStatus: 401},
		{name: "admin inframap ingest key", method: "GET", path: "/admin/inframap", authz: []string{ingestKey}, wantStatus: 401},
		{name: "admin inframap consumption key", method: "GET", path: "/admin/inframap", authz: []string{apiKey}, wantStatus: 401},
		{name: "admin inframap each vector", method: "GET", path: "/admin/inframap", authz: []string{"Bearer " + vecs[2].Token}, wantStatus: 401},
		{name: "admin inframap jwt", method: "GET", path: "/admin/inframap", authz: []string{jwtValid}, wantStatus: 401},
		{name: "admin inframap garbage", method: "GET", path: "/admin/inframap", authz: []string{"Bearer garbage"}, wantStatus: 401},
		{name: "admin plan ingest key", method: "POST", path: "/admin/plan", authz: []string{ingestKey}, wantStatus: 401},
		{name: "admin integrate-changes", method: "POST", path: "/admin/integrate-changes", authz: []string{ingestKey}, wantStatus: 401},
		{name: "admin reality-check", method: "GET", path: "/admin/reality-check", authz: []string{apiKey}, wantStatus: 401},
		{name: "admin unknown path", method: "GET", path: "/admin/nope", authz: []string{ingestKey}, wantStatus: 401},

		// Health: open with or without (any) credential.
		{name: "health", method: "GET", path: "/health", wantStatus: 200},
		{name: "ready", method: "GET", path: "/ready", wantStatus: 200},
		{name: "liveness", method: "GET", path: "/liveness", wantStatus: 200},
		{name: "health with garbage token", method: "GET", path: "/health", authz: []string{"Bearer garbage"}, wantStatus: 200},
		{name: "ready with malformed header", method: "GET", path: "/ready", authz: []string{"Basic x"}, wantStatus: 200},
		{name: "liveness with wrong key", method: "GET", path: "/liveness", authz: []string{apiKey}, wantStatus: 200},

		// Consumption: its own key only.
		{name: "api no token", method: "GET", path: "/api/count_rows", wantStatus: 401},
		{name: "api ingest key", method: "GET", path: "/api/count_rows", authz: []string{ingestKey}, wantStatus: 401},
		{name: "api consumption key", method: "GET", path: "/api/count_rows", authz: []string{apiKey}, wantStatus: 200},
		{name: "consumption alias", method: "GET", path: "/consumption/count_rows", authz: []string{apiKey}, wantStatus: 200},
		{name: "consumption alias no token", method: "GET", path: "/consumption/count_rows", wantStatus: 401},
		{name: "api jwt (not configured)", method: "GET", path: "/api/count_rows", authz: []string{jwtValid}, wantStatus: 401},

		// Ingest: its own key only; unknown model is a 404 once authenticated.
		{name: "ingest consumption key", method: "POST", path: "/ingest/Events", authz: []string{apiKey}, wantStatus: 401},
		{name: "ingest model name case-insensitive", method: "POST", path: "/ingest/events", authz: []string{ingestKey}, wantStatus: 200},
		{name: "ingest versioned route", method: "POST", path: "/ingest/Clicks/1.0", authz: []string{ingestKey}, wantStatus: 200},
		{name: "ingest unversioned route of a versioned model", method: "POST", path: "/ingest/Clicks", authz: []string{ingestKey}, wantStatus: 200},
		{name: "ingest unknown version", method: "POST", path: "/ingest/Clicks/2.0", authz: []string{ingestKey}, wantStatus: 404, wantInBody: "2.0"},
		{name: "ingest versioned route no token", method: "POST", path: "/ingest/Clicks/1.0", wantStatus: 401},
		{name: "ingest unknown model", method: "POST", path: "/ingest/Nope", authz: []string{ingestKey}, wantStatus: 404, wantInBody: "Nope"},

		// Unknown routes: JSON 404 with a hint.
		{name: "unknown route", method: "GET", path: "/nope", wantStatus: 404, wantInBody: "/ingest/"},
		{name: "unknown route with key", method: "GET", path: "/v1/things", authz: []string{ingestKey}, wantStatus: 404, wantInBody: "/api/"},
		{name: "root", method: "GET", path: "/", wantStatus: 404, wantInBody: "health"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.method == "POST" {
				body = []byte(`{"id":"r-` + strings.ReplaceAll(tc.name, " ", "-") + `"}`)
			}
			r := s.do(t, tc.method, tc.path, body, tc.authz...)
			if r.Status != tc.wantStatus {
				t.Fatalf("%s %s: got %s, want %d", tc.method, tc.path, r, tc.wantStatus)
			}
			if r.Header.Get("Access-Control-Allow-Origin") == "" {
				t.Errorf("no Access-Control-Allow-Origin on %d", r.Status)
			}
			switch r.Status {
			case http.StatusUnauthorized:
				c := credential{name: tc.name, authz: tc.authz}
				if len(tc.authz) > 0 {
					c.token = strings.TrimPrefix(tc.authz[0], "Bearer ")
				}
				checkRefusal(t, r, c)
			case http.StatusNotFound:
				var m map[string]string
				if err := json.Unmarshal(r.Body, &m); err != nil || m["error"] == "" {
					t.Fatalf("404 body is not {\"error\": ...}: %s", r.Body)
				}
			}
			if tc.wantInBody != "" && !strings.Contains(string(r.Body), tc.wantInBody) {
				t.Errorf("body does not contain %q: %s", tc.wantInBody, r.Body)
			}
		})
	}

	t.Run("preflight needs no token", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, s.BaseURL+"/ingest/Events", nil)
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Errorf("preflight: %d, want 2xx", resp.StatusCode)
		}
		if !strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "authorization") {
			t.Errorf("Access-Control-Allow-Headers = %q, want Authorization listed", resp.Header.Get("Access-Control-Allow-Headers"))
		}
	})

	t.Run("management metrics", func(t *testing.T) {
		resp, err := client.Get(s.MgmtURL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /metrics on the management port: %d", resp.StatusCode)
		}
	})

	t.Run("log", func(t *testing.T) {
		log := s.Out.String()
		for _, v := range vecs {
			checkNotLogged(t, log, "vector token", v.Token)
			checkNotLogged(t, log, "vector hash", v.Hash)
		}
		checkNotLogged(t, log, "jwt", strings.TrimPrefix(jwtValid, "Bearer "))
	})
}
