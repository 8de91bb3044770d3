package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// eventsModel is a one-column model with a counting API.
const eventsModel = `
[[data_model]]
name = "Events"
  [[data_model.columns]]
  name = "id"
  type = "String"
  key = true

[[api]]
name = "count_rows"
sql = "SELECT count() AS n FROM Events"
`

// credential is one way of (not) authenticating a request.
type credential struct {
	name  string
	authz []string // Authorization header values; empty: no header
	token string   // the secret part, which must never be echoed or logged
}

// sent reports whether the request carries a non-blank Authorization header.
func (c credential) sent() bool {
	for _, a := range c.authz {
		if strings.TrimSpace(a) != "" {
			return true
		}
	}
	return false
}

func bearer(name, token string) credential {
	return credential{name: name, authz: []string{"Bearer " + token}, token: token}
}

// Names of the credentials every configuration sees.
const (
	credVector       = "vector %d" // reference token/hash pair i
	credJWTValid     = "jwt valid"
	credJWTAudList   = "jwt aud list containing audience"
	credJWTLeeway    = "jwt expired within leeway"
	credSchemeLower  = "scheme bearer (lowercase)"
	credSchemeUpper  = "scheme BEARER"
	credSchemeSpaces = "extra spaces around and inside"
	credSchemeTab    = "tab after scheme"
)

// alwaysRefused are refused even when the scope is open: the middleware
// treats more than one Authorization header as malformed before it looks at
// the scope's rule (auth.Middleware's documented contract).
var alwaysRefused = map[string]bool{"two Authorization headers": true}

// schemeVariants send the accepted token with the scheme spelt differently
// (SPEC 3: scheme case-insensitive, surrounding spaces ignored).
var schemeVariants = []string{credSchemeLower, credSchemeUpper, credSchemeSpaces, credSchemeTab}

// credentials builds the catalogue; primary is the token the configuration
// under test accepts, used for the scheme variants and the malformed forms.
func credentials(t *testing.T, k *jwtKit, vecs []hashVector, primary string) []credential {
	t.Helper()
	cs := []credential{
		{name: "no header"},
		{name: "Basic scheme", authz: []string{"Basic x"}, token: ""},
		{name: "Basic scheme with primary token", authz: []string{"Basic " + primary}, token: primary},
		{name: "Bearer alone", authz: []string{"Bearer"}},
		{name: "Bearer and spaces only", authz: []string{"Bearer    "}},
		{name: "token without scheme", authz: []string{primary}, token: primary},
		{name: "primary token plus junk", authz: []string{"Bearer " + primary + " junk"}, token: primary},
		{name: "two Authorization headers", authz: []string{"Bearer " + primary, "Bearer " + primary}, token: primary},
		bearer("garbage token", "not-a-real-token-at-all"),
		bearer("oversized token", strings.Repeat("a", 20000)),
		bearer("wrong api key", randomAPIToken(t)),
		bearer("api key with wrong salt", strings.SplitN(vecs[0].Token, ".", 2)[0]+"."+strings.SplitN(vecs[1].Token, ".", 2)[1]),
		bearer("configured hash sent as token", vecs[0].Hash),
		{name: credSchemeLower, authz: []string{"bearer " + primary}, token: primary},
		{name: credSchemeUpper, authz: []string{"BEARER " + primary}, token: primary},
		{name: credSchemeSpaces, authz: []string{"  Bearer    " + primary + "   "}, token: primary},
		{name: credSchemeTab, authz: []string{"Bearer\t" + primary}, token: primary},
		bearer(credJWTValid, k.rs256(t, claims("user-1", nil))),
		bearer(credJWTAudList, k.rs256(t, claims("user-1", func(c jwt.MapClaims) { c["aud"] = []string{"other", testAudience} }))),
		bearer(credJWTLeeway, k.rs256(t, claims("user-1", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-5 * time.Second).Unix() }))),
	}
	for i, v := range vecs {
		cs = append(cs, bearer(fmt.Sprintf(credVector, i), v.Token))
	}
	for name, tok := range k.badJWTs(t) {
		cs = append(cs, bearer(name, tok))
	}
	return cs
}

// authCase is one server configuration of SPEC section 3's table.
type authCase struct {
	name    string
	opts    serverOpts
	primary func(k *jwtKit, vecs []hashVector) string // the token it accepts
	// accept names the credentials that get 200 besides the primary token's
	// scheme variants; open accepts everything.
	accept []string
	open   bool
	// query is the credential the count API needs (consumption scope).
	query func(k *jwtKit, vecs []hashVector) []string
	// secrets must not appear in the log (configured hashes).
	secrets func(vecs []hashVector) []string
	logHas  []string // substrings the log must contain
}

func TestIngestAuthMatrix(t *testing.T) {
	requireEngine(t)
	k := kit(t)
	vecs := loadVectors(t)
	models := map[string]string{"events.toml": eventsModel}
	vec := func(i int) func(*jwtKit, []hashVector) string {
		return func(_ *jwtKit, v []hashVector) string { return v[i].Token }
	}
	jwtTok := func(k *jwtKit, _ []hashVector) string { return k.rs256(t, claims("user-1", nil)) }
	noAuth := func(*jwtKit, []hashVector) []string { return nil }
	jwtAuth := func(k *jwtKit, _ []hashVector) []string {
		return []string{"Bearer " + k.rs256(t, claims("user-1", nil))}
	}
	validJWTs := []string{credJWTValid, credJWTAudList, credJWTLeeway}

	cases := []authCase{
		{
			name:    "api key only",
			opts:    serverOpts{Models: models, Env: []string{"MOOSE_INGEST_API_KEY=" + vecs[0].Hash}},
			primary: vec(0), accept: []string{fmt.Sprintf(credVector, 0)},
			query:   noAuth, // consumption stays open in dev
			secrets: func(v []hashVector) []string { return []string{v[0].Hash} },
			logHas:  []string{"auth: ingest=api_key ", "unauthenticated endpoints"}, // consumption is open
		},
		{
			name:    "two api key hashes (rotation)",
			opts:    serverOpts{Models: models, Env: []string{"MOOSE_INGEST_API_KEY=" + vecs[1].Hash + " , " + vecs[2].Hash}},
			primary: vec(2), accept: []string{fmt.Sprintf(credVector, 1), fmt.Sprintf(credVector, 2)},
			query:   noAuth,
			secrets: func(v []hashVector) []string { return []string{v[1].Hash, v[2].Hash} },
			logHas:  []string{"auth: ingest=api_key "},
		},
		{
			name: "jwt and api key, enforce false",
			opts: serverOpts{Models: models, Config: k.jwtTOML(false),
				DotEnv: "MOOSE_INGEST_API_KEY=" + vecs[3].Hash + "\n"},
			primary: vec(3), accept: append([]string{fmt.Sprintf(credVector, 3)}, validJWTs...),
			query:   jwtAuth,
			secrets: func(v []hashVector) []string { return []string{v[3].Hash} },
			logHas:  []string{"auth: ingest=jwt_or_api_key "},
		},
		{
			name: "jwt and api key, enforce true",
			opts: serverOpts{Models: models, Config: k.jwtTOML(true),
				Env: []string{"MOOSE_INGEST_API_KEY=" + vecs[0].Hash}},
			primary: jwtTok, accept: validJWTs,
			query:   jwtAuth,
			secrets: func(v []hashVector) []string { return []string{v[0].Hash} },
			logHas:  []string{"auth: ingest=jwt "},
		},
		{
			name:    "jwt only (env), no api key",
			opts:    serverOpts{Models: models, Env: k.jwtEnv()},
			primary: jwtTok, accept: validJWTs,
			query:  jwtAuth,
			logHas: []string{"auth: ingest=jwt "},
		},
		{
			name:    "nothing configured (dev)",
			opts:    serverOpts{Models: models},
			primary: vec(0), open: true,
			query:  noAuth,
			logHas: []string{"level=WARN", "unauthenticated endpoints", "auth: ingest=open "},
		},
		{
			name: "prod with allow_unauthenticated",
			opts: serverOpts{Mode: "prod", Models: models,
				Config: "[authentication]\nallow_unauthenticated = true\n"},
			primary: vec(0), open: true,
			query:  noAuth,
			logHas: []string{"level=WARN", "unauthenticated endpoints"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runAuthCase(t, k, vecs, tc)
		})
	}
}

func runAuthCase(t *testing.T, k *jwtKit, vecs []hashVector, tc authCase) {
	s := startServer(t, tc.opts)
	primary := tc.primary(k, vecs)
	creds := credentials(t, k, vecs, primary)
	accepted := map[string]bool{}
	for _, n := range tc.accept {
		accepted[n] = true
	}
	for _, n := range schemeVariants {
		accepted[n] = true
	}
	var stored atomic.Int64
	var n int
	for _, c := range creds {
		t.Run(c.name, func(t *testing.T) {
			n++
			want := http.StatusUnauthorized
			if (tc.open || accepted[c.name]) && !alwaysRefused[c.name] {
				want = http.StatusOK
			}
			body := fmt.Sprintf(`{"id":"%s-%d"}`, strings.ReplaceAll(c.name, " ", "_"), n)
			r := s.ingest(t, "Events", body, c.authz...)
			if r.Status != want {
				t.Fatalf("POST /ingest/Events with %q: got %s, want %d", c.name, r, want)
			}
			if want == http.StatusOK {
				stored.Add(1)
				if string(r.Body) != "SUCCESS" {
					t.Errorf("200 body = %q, want SUCCESS", r.Body)
				}
				return
			}
			checkRefusal(t, r, c)
		})
	}
	t.Run("only accepted requests were stored", func(t *testing.T) {
		if got := s.count(t, "count_rows", tc.query(k, vecs)...); got != stored.Load() {
			t.Errorf("rows in Events = %d, want %d (one per accepted request)", got, stored.Load())
		}
	})
	t.Run("log", func(t *testing.T) {
		log := s.Out.String()
		for _, c := range creds {
			checkNotLogged(t, log, c.name, c.token)
		}
		if tc.secrets != nil {
			for _, h := range tc.secrets(vecs) {
				checkNotLogged(t, log, "configured hash", h)
			}
		}
		for _, want := range tc.logHas {
			if !strings.Contains(log, want) {
				t.Errorf("log does not contain %q:\n%s", want, tail(log, 4000))
			}
		}
	})
}

// checkRefusal asserts SPEC 3's 401: the RFC 6750 challenge, a JSON error
// body that does not echo the token, and the CORS headers.
func checkRefusal(t *testing.T, r reply, c credential) {
	t.Helper()
	wa := r.Header.Get("WWW-Authenticate")
	if !strings.HasPrefix(wa, "Bearer") {
		t.Errorf("WWW-Authenticate = %q, want it to start with Bearer", wa)
	}
	if got, want := strings.Contains(wa, `error="invalid_token"`), c.sent(); got != want {
		t.Errorf("WWW-Authenticate = %q: error=\"invalid_token\" present = %t, want %t (token sent: %t)", wa, got, want, want)
	}
	if r.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("401 without Access-Control-Allow-Origin; headers: %v", r.Header)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Errorf("401 body is not JSON: %v: %s", err, r.Body)
	} else if msg, _ := body["error"].(string); msg == "" {
		t.Errorf(`401 body has no "error" string: %s`, r.Body)
	}
	if c.token != "" && strings.Contains(string(r.Body), c.token) {
		t.Errorf("401 body echoes the token: %s", r.Body)
	}
	if c.token != "" && strings.Contains(wa, c.token) {
		t.Errorf("WWW-Authenticate echoes the token: %s", wa)
	}
}

// checkNotLogged fails if the token, or the signature of a JWT, is in log.
func checkNotLogged(t *testing.T, log, what, token string) {
	t.Helper()
	if len(token) < 8 {
		return
	}
	needles := []string{token}
	if parts := strings.Split(token, "."); len(parts) == 3 && len(parts[2]) >= 16 {
		needles = append(needles, parts[2])
	}
	if parts := strings.Split(token, "."); len(parts) == 2 {
		needles = append(needles, parts...) // API key: neither half
	}
	for _, n := range needles {
		if strings.Contains(log, n) {
			t.Errorf("the server's log contains the secret of %q", what)
		}
	}
}

func TestProdRefusesToStartOpen(t *testing.T) {
	requireEngine(t)
	vecs := loadVectors(t)
	models := map[string]string{"events.toml": eventsModel}
	cases := []struct {
		name    string
		opts    serverOpts
		wantOut []string
	}{
		{name: "nothing configured", opts: serverOpts{Mode: "prod", Models: models},
			wantOut: []string{"refusing to start", "allow_unauthenticated", "MOOSE_INGEST_API_KEY", "[jwt]"}},
		{name: "ingest key only: consumption would be open",
			opts:    serverOpts{Mode: "prod", Models: models, Env: []string{"MOOSE_INGEST_API_KEY=" + vecs[0].Hash}},
			wantOut: []string{"refusing to start", "consumption", "MOOSE_CONSUMPTION_API_KEY", "allow_unauthenticated"}},
		{name: "allow_unauthenticated = false spelt out",
			opts:    serverOpts{Mode: "prod", Models: models, Config: "[authentication]\nallow_unauthenticated = false\n"},
			wantOut: []string{"refusing to start", "allow_unauthenticated"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := launch(t, tc.opts)
			if !s.waitExit(20 * time.Second) {
				t.Fatalf("moose prod kept running with an open data scope:\n%s", s.Out.String())
			}
			out := s.Out.String()
			if code := s.Cmd.ProcessState.ExitCode(); code == 0 {
				t.Errorf("moose prod exit code 0, want non-zero:\n%s", out)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output does not name %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, vecs[0].Hash) {
				t.Errorf("output contains the configured hash:\n%s", out)
			}
		})
	}
	t.Run("keys for both scopes: starts", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, serverOpts{Mode: "prod", Models: models,
			Env: []string{"MOOSE_INGEST_API_KEY=" + vecs[0].Hash, "MOOSE_CONSUMPTION_API_KEY=" + vecs[1].Hash}})
		if r := s.ingest(t, "Events", `{"id":"a"}`); r.Status != http.StatusUnauthorized {
			t.Errorf("no token: %s, want 401", r)
		}
		if r := s.ingest(t, "Events", `{"id":"a"}`, "Bearer "+vecs[0].Token); r.Status != http.StatusOK {
			t.Errorf("ingest key: %s, want 200", r)
		}
		if n := s.count(t, "count_rows", "Bearer "+vecs[1].Token); n != 1 {
			t.Errorf("count = %d, want 1", n)
		}
		if strings.Contains(s.Out.String(), "unauthenticated endpoints") {
			t.Errorf("warned about unauthenticated endpoints with both scopes keyed:\n%s", s.Out.String())
		}
	})
}

// TestStartupRefusesBadSecurityConfig: a security setting that cannot be
// used stops start-up with a clear error that does not quote the value.
func TestStartupRefusesBadSecurityConfig(t *testing.T) {
	requireEngine(t)
	k := kit(t)
	vecs := loadVectors(t)
	models := map[string]string{"events.toml": eventsModel}
	badHash := "zz" + vecs[0].Hash[2:]
	cases := []struct {
		name    string
		opts    serverOpts
		wantOut []string
		secret  string // must not be in the output
	}{
		{name: "malformed ingest hash", opts: serverOpts{Models: models, Env: []string{"MOOSE_INGEST_API_KEY=" + badHash}},
			wantOut: []string{"MOOSE_INGEST_API_KEY"}, secret: badHash},
		{name: "short hash in a list", opts: serverOpts{Models: models, Env: []string{"MOOSE_CONSUMPTION_API_KEY=" + vecs[1].Hash + ",abc123"}},
			wantOut: []string{"MOOSE_CONSUMPTION_API_KEY"}, secret: vecs[1].Hash},
		{name: "bearer token where a hash belongs", opts: serverOpts{Models: models, Env: []string{"MOOSE_INGEST_API_KEY=" + vecs[0].Token}},
			wantOut: []string{"MOOSE_INGEST_API_KEY"}, secret: vecs[0].Token},
		{name: "jwt secret without issuer and audience", opts: serverOpts{Models: models, Env: []string{"MOOSE_JWT_PUBLIC_KEY=" + k.pubPEM}},
			wantOut: []string{"issuer", "audience"}},
		{name: "jwt secret not a PEM key", opts: serverOpts{Models: models,
			Env: []string{"MOOSE_JWT_PUBLIC_KEY=not-a-key", "MOOSE_JWT_ISSUER=" + testIssuer, "MOOSE_JWT_AUDIENCE=" + testAudience}},
			wantOut: []string{"secret"}},
		{name: "two names for the issuer with different values", opts: serverOpts{Models: models,
			Env: append(k.jwtEnv(), "MOOSE_JWT__ISSUER=https://other.example/")},
			wantOut: []string{"MOOSE_JWT_ISSUER", "MOOSE_JWT__ISSUER"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := launch(t, tc.opts)
			if !s.waitExit(20 * time.Second) {
				t.Fatalf("moose dev kept running:\n%s", s.Out.String())
			}
			out := s.Out.String()
			if code := s.Cmd.ProcessState.ExitCode(); code <= 0 {
				t.Errorf("exit code %d, want non-zero:\n%s", code, out)
			}
			if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
				t.Errorf("start-up panicked:\n%s", out)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output does not name %q:\n%s", w, out)
				}
			}
			if tc.secret != "" && strings.Contains(out, tc.secret) {
				t.Errorf("output quotes the configured value:\n%s", out)
			}
		})
	}
}
