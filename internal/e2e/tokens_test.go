package e2e

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "https://auth.e2e.example/"
	testAudience = "moose-e2e"
)

// jwtKit is an RSA key pair whose public half the server trusts, and a
// second pair it does not.
type jwtKit struct {
	key, otherKey *rsa.PrivateKey
	pubPEM        string // PKIX PEM of key's public half
}

var kitOnce = sync.OnceValues(func() (*jwtKit, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	o, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return &jwtKit{key: k, otherKey: o, pubPEM: string(p)}, nil
})

func kit(t *testing.T) *jwtKit {
	t.Helper()
	k, err := kitOnce()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// jwtTOML is a [jwt] table trusting the kit's key.
func (k *jwtKit) jwtTOML(enforceIngest bool) string {
	return fmt.Sprintf("[jwt]\nsecret = \"\"\"\n%s\"\"\"\nissuer = %q\naudience = %q\nenforce_on_all_ingest_apis = %t\n",
		k.pubPEM, testIssuer, testAudience, enforceIngest)
}

// jwtEnv sets the same through the seed's variables.
func (k *jwtKit) jwtEnv() []string {
	return []string{"MOOSE_JWT_PUBLIC_KEY=" + k.pubPEM, "MOOSE_JWT_ISSUER=" + testIssuer, "MOOSE_JWT_AUDIENCE=" + testAudience}
}

// claims are the claims of a valid token for sub, changed by edit.
func claims(sub string, edit func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": testIssuer, "aud": testAudience, "iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	if sub != "" {
		c["sub"] = sub
	}
	if edit != nil {
		edit(c)
	}
	return c
}

// rs256 signs c with the trusted key.
func (k *jwtKit) rs256(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	return signRS256(t, k.key, c)
}

func signRS256(t *testing.T, key *rsa.PrivateKey, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// handMade builds a JWT by hand: header and claims as JSON, signed by sign
// (nil: empty signature).
func handMade(t *testing.T, header map[string]any, c jwt.MapClaims, sign func(input []byte) []byte) string {
	t.Helper()
	enc := base64.RawURLEncoding
	h, err := json.Marshal(header)
	must(t, err)
	p, err := json.Marshal(c)
	must(t, err)
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(p)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + enc.EncodeToString(sig)
}

// badJWTs are tokens a correctly configured server must refuse, by name.
func (k *jwtKit) badJWTs(t *testing.T) map[string]string {
	t.Helper()
	hs := func(input []byte) []byte {
		m := hmac.New(sha256.New, []byte(k.pubPEM))
		m.Write(input)
		return m.Sum(nil)
	}
	return map[string]string{
		"jwt expired":         k.rs256(t, claims("user-1", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() })),
		"jwt wrong iss":       k.rs256(t, claims("user-1", func(c jwt.MapClaims) { c["iss"] = "https://evil.example/" })),
		"jwt wrong aud":       k.rs256(t, claims("user-1", func(c jwt.MapClaims) { c["aud"] = "someone-else" })),
		"jwt no exp":          k.rs256(t, claims("user-1", func(c jwt.MapClaims) { delete(c, "exp") })),
		"jwt nbf in future":   k.rs256(t, claims("user-1", func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() })),
		"jwt other key":       signRS256(t, k.otherKey, claims("user-1", nil)),
		"jwt alg none":        handMade(t, map[string]any{"alg": "none", "typ": "JWT"}, claims("user-1", nil), nil),
		"jwt HS256 pubkey":    handMade(t, map[string]any{"alg": "HS256", "typ": "JWT"}, claims("user-1", nil), hs),
		"jwt tampered claims": tamper(t, k.rs256(t, claims("user-1", nil))),
	}
}

// tamper swaps a signed token's claims for others (sub changed) and keeps
// the signature.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	p, err := json.Marshal(claims("admin", nil))
	must(t, err)
	parts[1] = base64.RawURLEncoding.EncodeToString(p)
	return strings.Join(parts, ".")
}

// randomAPIToken is a well-formed bearer token no server knows.
func randomAPIToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:16]) + "." + hex.EncodeToString(b[16:])
}
