package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/moose-go/moose/internal/config"
	"github.com/moose-go/moose/internal/httpx"
)

// credentials used across the decision table.
type creds struct {
	key, otherKey, jwt, expiredJWT, otherKeyJWT string
}

func testCreds(t testing.TB) creds {
	v := loadVectors(t)
	return creds{
		key:         v[0].Token,
		otherKey:    v[1].Token,
		jwt:         signRS256(t, goodClaims()),
		expiredJWT:  signRS256(t, with(goodClaims(), "exp", t0.Add(-time.Hour).Unix())),
		otherKeyJWT: sign(t, jwt.SigningMethodRS256, goodClaims(), keys().other),
	}
}

// want is an expected outcome: "" allow (with the method), else the reason.
type want struct {
	allow  bool
	method httpx.Method
	reason string
}

var (
	allowJWT  = want{allow: true, method: httpx.MethodJWT}
	allowKey  = want{allow: true, method: httpx.MethodAPIKey}
	allowNone = want{allow: true, method: httpx.MethodNone}
)

func deny(reason string) want { return want{reason: reason} }

func checkDecision(t *testing.T, d Decision, w want, token string) {
	t.Helper()
	if d.Allow != w.allow {
		t.Fatalf("Allow = %v (reason %q), want %v", d.Allow, d.Reason, w.allow)
	}
	if w.allow {
		if d.Principal == nil || d.Principal.Method != w.method {
			t.Fatalf("Principal = %+v, want method %s", d.Principal, w.method)
		}
		if d.Reason != "" {
			t.Fatalf("Reason = %q on allow", d.Reason)
		}
		if w.method == httpx.MethodJWT && d.Principal.Claims["sub"] != "user-42" {
			t.Fatalf("claims = %v", d.Principal.Claims)
		}
		return
	}
	if d.Principal != nil {
		t.Fatalf("Principal set on deny")
	}
	if d.Reason != w.reason {
		t.Fatalf("Reason = %q, want %q", d.Reason, w.reason)
	}
	if token != "" && strings.Contains(d.Reason, token) {
		t.Fatalf("Reason %q contains the token", d.Reason)
	}
}

// TestDecideDataScopes runs SPEC section 3's table for ingest and
// consumption: every row against every kind of credential.
func TestDecideDataScopes(t *testing.T) {
	c := testCreds(t)
	v := loadVectors(t)
	keyHash := v[0].Hash
	const expired = "invalid_jwt: token is expired"
	const badSig = "invalid_jwt: signature is invalid"

	rows := []struct {
		name     string
		jwt      bool
		enforce  bool
		keySet   bool
		mode     string
		missing  want
		garbage  want // "Bearer not-a-token"
		key      want
		otherKey want
		jwtTok   want
		expired  want
		otherJWT want
	}{
		{
			name: "jwt configured, enforce, key set", jwt: true, enforce: true, keySet: true, mode: ModeJWT,
			missing: deny(ReasonMissingToken), garbage: deny(ReasonJWTRequired),
			key: deny(ReasonJWTRequired), otherKey: deny(ReasonJWTRequired),
			jwtTok: allowJWT, expired: deny(expired), otherJWT: deny(badSig),
		},
		{
			name: "jwt configured, enforce, no key", jwt: true, enforce: true, mode: ModeJWT,
			missing: deny(ReasonMissingToken), garbage: deny(ReasonJWTRequired),
			key: deny(ReasonJWTRequired), otherKey: deny(ReasonJWTRequired),
			jwtTok: allowJWT, expired: deny(expired), otherJWT: deny(badSig),
		},
		{
			name: "jwt configured, not enforced, key set", jwt: true, keySet: true, mode: ModeJWTOrAPIKey,
			missing: deny(ReasonMissingToken), garbage: deny(ReasonInvalidAPIKey),
			key: allowKey, otherKey: deny(ReasonInvalidAPIKey),
			jwtTok: allowJWT, expired: deny(expired), otherJWT: deny(badSig),
		},
		{
			name: "jwt configured, not enforced, no key", jwt: true, mode: ModeJWT,
			missing: deny(ReasonMissingToken), garbage: deny(ReasonJWTRequired),
			key: deny(ReasonJWTRequired), otherKey: deny(ReasonJWTRequired),
			jwtTok: allowJWT, expired: deny(expired), otherJWT: deny(badSig),
		},
		{
			name: "no jwt, key set", keySet: true, mode: ModeAPIKey,
			missing: deny(ReasonMissingToken), garbage: deny(ReasonInvalidAPIKey),
			key: allowKey, otherKey: deny(ReasonInvalidAPIKey),
			jwtTok: deny(ReasonInvalidAPIKey), expired: deny(ReasonInvalidAPIKey), otherJWT: deny(ReasonInvalidAPIKey),
		},
		{
			name: "no jwt, enforce flag without jwt, key set", enforce: true, keySet: true, mode: ModeAPIKey,
			missing: deny(ReasonMissingToken), garbage: deny(ReasonInvalidAPIKey),
			key: allowKey, otherKey: deny(ReasonInvalidAPIKey),
			jwtTok: deny(ReasonInvalidAPIKey), expired: deny(ReasonInvalidAPIKey), otherJWT: deny(ReasonInvalidAPIKey),
		},
		{
			name: "neither (open)", mode: ModeOpen,
			missing: allowNone, garbage: allowNone, key: allowNone, otherKey: allowNone,
			jwtTok: allowNone, expired: allowNone, otherJWT: allowNone,
		},
	}
	for _, scope := range []Scope{Ingest, Consumption} {
		for _, row := range rows {
			o := cfgOpts{jwt: row.jwt}
			if scope == Ingest {
				o.enforceIngest = row.enforce
				if row.keySet {
					o.ingestKey = keyHash
				}
			} else {
				o.enforceConsumption = row.enforce
				if row.keySet {
					o.consumptionKey = keyHash
				}
			}
			for _, cached := range []bool{false, true} {
				name := scope.String() + "/" + row.name
				opts := []Option{WithClock(func() time.Time { return t0 })}
				if cached {
					name += "/cached"
				} else {
					opts = append(opts, WithCacheSize(0))
				}
				t.Run(name, func(t *testing.T) {
					a := mustNew(t, testConfig(o), opts...)
					if got := a.Mode(scope); got != row.mode {
						t.Errorf("Mode = %q, want %q", got, row.mode)
					}
					if got := a.Open(scope); got != (row.mode == ModeOpen) {
						t.Errorf("Open = %v", got)
					}
					for _, cr := range []struct {
						name, header, token string
						w                   want
					}{
						{"missing", "", "", row.missing},
						{"malformed header", "Basic dXNlcjpwYXNz", "dXNlcjpwYXNz", orMalformed(row.missing)},
						{"garbage token", "Bearer not-a-token", "not-a-token", row.garbage},
						{"valid key", "Bearer " + c.key, c.key, row.key},
						{"wrong key", "Bearer " + c.otherKey, c.otherKey, row.otherKey},
						{"valid jwt", "Bearer " + c.jwt, c.jwt, row.jwtTok},
						{"expired jwt", "Bearer " + c.expiredJWT, c.expiredJWT, row.expired},
						{"jwt by another key", "Bearer " + c.otherKeyJWT, c.otherKeyJWT, row.otherJWT},
					} {
						t.Run(cr.name, func(t *testing.T) {
							// Twice: the second may be served from the cache.
							for range 2 {
								d := a.Decide(scope, cr.header)
								checkDecision(t, d, cr.w, cr.token)
								if d.TokenSent != (cr.header != "") {
									t.Fatalf("TokenSent = %v", d.TokenSent)
								}
							}
						})
					}
				})
			}
		}
	}
}

// orMalformed: where a missing token is refused, a malformed header is
// refused as malformed; an open scope lets it through.
func orMalformed(missing want) want {
	if missing.allow {
		return missing
	}
	return deny(ReasonMalformedHeader)
}

func TestDecideScopesAreIndependent(t *testing.T) {
	v := loadVectors(t)
	c := testCreds(t)
	a := mustNew(t, testConfig(cfgOpts{
		jwt: true, enforceIngest: true,
		ingestKey: v[0].Hash, consumptionKey: v[1].Hash, adminAPIKey: v[2].Hash,
	}), WithClock(func() time.Time { return t0 }))
	for _, tc := range []struct {
		name  string
		scope Scope
		token string
		w     want
	}{
		{"ingest key refused on ingest (enforced)", Ingest, v[0].Token, deny(ReasonJWTRequired)},
		{"jwt on ingest", Ingest, c.jwt, allowJWT},
		{"consumption key on consumption", Consumption, v[1].Token, allowKey},
		{"ingest key refused on consumption", Consumption, v[0].Token, deny(ReasonInvalidAPIKey)},
		{"jwt on consumption (not enforced)", Consumption, c.jwt, allowJWT},
		{"consumption key refused on admin", Admin, v[1].Token, deny(ReasonInvalidAPIKey)},
		{"admin key on admin", Admin, v[2].Token, allowKey},
		{"admin key refused on consumption", Consumption, v[2].Token, deny(ReasonInvalidAPIKey)},
		{"admin key refused on ingest", Ingest, v[2].Token, deny(ReasonJWTRequired)},
		{"jwt refused on admin", Admin, c.jwt, deny(ReasonInvalidAPIKey)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 {
				checkDecision(t, a.Decide(tc.scope, "Bearer "+tc.token), tc.w, tc.token)
			}
		})
	}
}

func TestDecideAdmin(t *testing.T) {
	v := loadVectors(t)
	c := testCreds(t)
	for _, tc := range []struct {
		name   string
		o      cfgOpts
		mode   string
		header string
		w      want
	}{
		{"admin_api_key hash", cfgOpts{adminAPIKey: v[0].Hash}, ModeAPIKey, "Bearer " + v[0].Token, allowKey},
		{"admin_api_key wrong token", cfgOpts{adminAPIKey: v[0].Hash}, ModeAPIKey, "Bearer " + v[1].Token, deny(ReasonInvalidAPIKey)},
		{"admin_api_key missing token", cfgOpts{adminAPIKey: v[0].Hash}, ModeAPIKey, "", deny(ReasonMissingToken)},
		{"admin_api_key malformed header", cfgOpts{adminAPIKey: v[0].Hash}, ModeAPIKey, "Bearer", deny(ReasonMalformedHeader)},
		{"admin_api_key rotation", cfgOpts{adminAPIKey: v[0].Hash + "," + v[1].Hash}, ModeAPIKey, "Bearer " + v[1].Token, allowKey},
		{"admin_api_key wins over MOOSE_ADMIN_TOKEN", cfgOpts{adminAPIKey: v[0].Hash, adminToken: v[1].Hash}, ModeAPIKey, "Bearer " + v[1].Token, deny(ReasonInvalidAPIKey)},
		{"MOOSE_ADMIN_TOKEN as hash", cfgOpts{adminToken: v[0].Hash}, ModeAPIKey, "Bearer " + v[0].Token, allowKey},
		{"MOOSE_ADMIN_TOKEN as hash, wrong token", cfgOpts{adminToken: v[0].Hash}, ModeAPIKey, "Bearer " + v[1].Token, deny(ReasonInvalidAPIKey)},
		{"MOOSE_ADMIN_TOKEN as plain token", cfgOpts{adminToken: v[0].Token}, ModeAPIKey, "Bearer " + v[0].Token, allowKey},
		{"MOOSE_ADMIN_TOKEN as plain token, wrong token", cfgOpts{adminToken: v[0].Token}, ModeAPIKey, "Bearer " + v[1].Token, deny(ReasonInvalidAPIKey)},
		{"MOOSE_ADMIN_TOKEN plain token is not accepted as its own hash", cfgOpts{adminToken: v[0].Token}, ModeAPIKey, "Bearer " + v[0].Hash, deny(ReasonInvalidAPIKey)},
		{"MOOSE_ADMIN_TOKEN mixed list", cfgOpts{adminToken: " " + v[0].Hash + " , " + v[1].Token}, ModeAPIKey, "Bearer " + v[1].Token, allowKey},
		{"JWT refused on admin", cfgOpts{jwt: true, adminAPIKey: v[0].Hash}, ModeAPIKey, "Bearer " + c.jwt, deny(ReasonInvalidAPIKey)},
		{"none configured: valid-looking token", cfgOpts{}, ModeClosed, "Bearer " + v[0].Token, deny(ReasonAdminNotConfigured)},
		{"none configured: no token", cfgOpts{}, ModeClosed, "", deny(ReasonAdminNotConfigured)},
		{"none configured: JWT", cfgOpts{jwt: true}, ModeClosed, "Bearer " + c.jwt, deny(ReasonAdminNotConfigured)},
		{"none configured, data keys set", cfgOpts{ingestKey: v[0].Hash, consumptionKey: v[0].Hash}, ModeClosed, "Bearer " + v[0].Token, deny(ReasonAdminNotConfigured)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := mustNew(t, testConfig(tc.o), WithClock(func() time.Time { return t0 }))
			if got := a.Mode(Admin); got != tc.mode {
				t.Errorf("Mode(Admin) = %q, want %q", got, tc.mode)
			}
			if a.Open(Admin) {
				t.Error("admin scope is open")
			}
			token := strings.TrimPrefix(tc.header, "Bearer ")
			for range 2 {
				checkDecision(t, a.Decide(Admin, tc.header), tc.w, token)
			}
		})
	}
}

func TestDecideOversizedToken(t *testing.T) {
	v := loadVectors(t)
	huge := strings.Repeat("a", MaxTokenBytes+1)
	for _, tc := range []struct {
		name   string
		o      cfgOpts
		reason string
	}{
		{"api key scope", cfgOpts{ingestKey: v[0].Hash}, ReasonInvalidAPIKey},
		{"jwt scope", cfgOpts{jwt: true}, "invalid_jwt: token too large"},
		{"jwt or key scope", cfgOpts{jwt: true, ingestKey: v[0].Hash}, "invalid_jwt: token too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := mustNew(t, testConfig(tc.o))
			checkDecision(t, a.Decide(Ingest, "Bearer "+huge), deny(tc.reason), huge)
			if a.cache.len() != 0 {
				t.Fatal("cached a refusal")
			}
		})
	}
}

func TestDecideUnknownScope(t *testing.T) {
	a := mustNew(t, testConfig(cfgOpts{}))
	for _, s := range []Scope{0, Admin + 1, 255} {
		t.Run(s.String(), func(t *testing.T) {
			d := a.Decide(s, "")
			if d.Allow || d.Reason != ReasonUnknownScope {
				t.Fatalf("Decide(%v) = %+v", s, d)
			}
			if a.Mode(s) != "" || a.Open(s) {
				t.Fatal("unknown scope has a mode")
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	v := loadVectors(t)
	bad := "zz" + v[0].Hash[2:]
	for _, tc := range []struct {
		name    string
		mutate  func(*config.Config)
		wantIn  []string // substrings of the error
		wantIs  error
		secrets []string // must not appear in the error
	}{
		{"malformed ingest hash", func(c *config.Config) { c.Authentication.IngestAPIKey = config.Secret(v[0].Hash + "," + bad) },
			[]string{"MOOSE_INGEST_API_KEY", "item 2"}, ErrMalformedHash, []string{bad, v[0].Hash}},
		{"malformed consumption hash", func(c *config.Config) { c.Authentication.ConsumptionAPIKey = config.Secret(bad) },
			[]string{"MOOSE_CONSUMPTION_API_KEY", "item 1"}, ErrMalformedHash, []string{bad}},
		{"bearer token as ingest hash", func(c *config.Config) { c.Authentication.IngestAPIKey = config.Secret(v[0].Token) },
			[]string{"MOOSE_INGEST_API_KEY", "bearer token"}, ErrMalformedHash, []string{v[0].Token}},
		{"ingest key set but empty list", func(c *config.Config) { c.Authentication.IngestAPIKey = " , " },
			[]string{"MOOSE_INGEST_API_KEY"}, ErrNoKeys, nil},
		{"malformed admin_api_key", func(c *config.Config) { c.Authentication.AdminAPIKey = config.Secret(bad) },
			[]string{"admin_api_key", "item 1"}, ErrMalformedHash, []string{bad}},
		{"malformed MOOSE_ADMIN_TOKEN", func(c *config.Config) { c.Authentication.AdminToken = config.Secret(v[0].Hash + ",secret-ish") },
			[]string{"MOOSE_ADMIN_TOKEN", "item 2"}, ErrMalformedHash, []string{"secret-ish"}},
		{"blank MOOSE_ADMIN_TOKEN", func(c *config.Config) { c.Authentication.AdminToken = "  " },
			[]string{"MOOSE_ADMIN_TOKEN"}, ErrNoKeys, nil},
		{"bad PEM", func(c *config.Config) {
			c.JWT.Secret, c.JWT.Issuer, c.JWT.Audience = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "i", "a"
		}, []string{"[jwt] secret"}, ErrBadPublicKey, []string{"AAAA"}},
		{"partial jwt: no issuer", func(c *config.Config) {
			c.JWT.Secret, c.JWT.Audience = config.Secret(keys().pkixPEM), "a"
		}, []string{"issuer"}, nil, nil},
		{"partial jwt: only audience", func(c *config.Config) { c.JWT.Audience = "a" }, []string{"secret", "issuer"}, nil, nil},
		{"leeway too large", func(c *config.Config) {
			c.JWT.Secret, c.JWT.Issuer, c.JWT.Audience = config.Secret(keys().pkixPEM), "i", "a"
			c.JWT.Leeway.Duration = time.Hour
		}, []string{"leeway"}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			tc.mutate(&cfg)
			a, err := New(&cfg)
			if err == nil {
				t.Fatalf("New succeeded: modes %s/%s/%s", a.Mode(Ingest), a.Mode(Consumption), a.Mode(Admin))
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("err = %v, want %v", err, tc.wantIs)
			}
			for _, s := range tc.wantIn {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			for _, s := range tc.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q quotes a configured value", err)
				}
			}
		})
	}
	t.Run("nil config", func(t *testing.T) {
		if _, err := New(nil); err == nil {
			t.Fatal("New(nil) succeeded")
		}
	})
}

func TestJWTConfigured(t *testing.T) {
	if mustNew(t, testConfig(cfgOpts{})).JWTConfigured() {
		t.Error("JWTConfigured without [jwt]")
	}
	if !mustNew(t, testConfig(cfgOpts{jwt: true})).JWTConfigured() {
		t.Error("not JWTConfigured with [jwt]")
	}
}
