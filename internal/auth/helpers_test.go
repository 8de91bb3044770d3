package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/moose-go/moose/internal/config"
)

const (
	testIssuer   = "https://auth.example.com/"
	testAudience = "my-moose-app"
)

var jwtRS256Method = jwt.SigningMethodRS256

// t0 is the fake "now" of most tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type testKeys struct {
	priv, other *rsa.PrivateKey
	pkixPEM     string // PUBLIC KEY of priv
	pkcs1PEM    string // RSA PUBLIC KEY of priv
}

// keys generates the RSA keys once per test binary.
var keys = sync.OnceValue(func() testKeys {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		panic(err)
	}
	return testKeys{
		priv:     priv,
		other:    other,
		pkixPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		pkcs1PEM: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&priv.PublicKey)})),
	}
})

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// goodClaims returns valid claims at t0: exp t0+1h.
func goodClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer,
		"aud": testAudience,
		"sub": "user-42",
		"iat": t0.Unix(),
		"exp": t0.Add(time.Hour).Unix(),
	}
}

// with returns a copy of c with the given changes; a nil value deletes.
func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
		} else {
			out[k] = kv[i+1]
		}
	}
	return out
}

func signRS256(t testing.TB, c jwt.MapClaims) string {
	t.Helper()
	return sign(t, jwt.SigningMethodRS256, c, keys().priv)
}

func sign(t testing.TB, m jwt.SigningMethod, c jwt.MapClaims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return s
}

// rawJWT assembles a token from a header and payload (JSON-encoded) and a
// raw signature.
func rawJWT(t testing.TB, header, payload any, sig []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(header) + "." + enc(payload) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// vectorPair is one pair printed by the reference CLI.
type vectorPair struct {
	Token string `json:"bearer_token"`
	Hash  string `json:"api_key_hash"`
}

func loadVectors(t testing.TB) []vectorPair {
	t.Helper()
	b, err := os.ReadFile("testdata/moose-hash-tokens.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Pairs []vectorPair `json:"pairs"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Pairs) < 2 {
		t.Fatalf("want at least 2 vector pairs, got %d", len(v.Pairs))
	}
	return v.Pairs
}

// cfgOpts describes a configuration for Authenticator tests.
type cfgOpts struct {
	jwt                bool
	enforceIngest      bool
	enforceConsumption bool
	ingestKey          string
	consumptionKey     string
	adminAPIKey        string
	adminToken         string
}

func testConfig(o cfgOpts) *config.Config {
	cfg := config.Default()
	if o.jwt {
		cfg.JWT.Secret = config.Secret(keys().pkixPEM)
		cfg.JWT.Issuer = testIssuer
		cfg.JWT.Audience = testAudience
	}
	cfg.JWT.EnforceOnAllIngestAPIs = o.enforceIngest
	cfg.JWT.EnforceOnAllConsumptionsAPIs = o.enforceConsumption
	cfg.Authentication.IngestAPIKey = config.Secret(o.ingestKey)
	cfg.Authentication.ConsumptionAPIKey = config.Secret(o.consumptionKey)
	cfg.Authentication.AdminAPIKey = config.Secret(o.adminAPIKey)
	cfg.Authentication.AdminToken = config.Secret(o.adminToken)
	return &cfg
}

func mustNew(t testing.TB, cfg *config.Config, opts ...Option) *Authenticator {
	t.Helper()
	a, err := New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}
