package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func newTestVerifier(t testing.TB, pemText string, now func() time.Time) *Verifier {
	t.Helper()
	k, err := NewStaticKey(pemText)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(VerifierConfig{Keys: k, Issuer: testIssuer, Audience: testAudience, Leeway: DefaultLeeway, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifyJWT(t *testing.T) {
	k := keys()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := signRS256(t, goodClaims())
	parts := strings.Split(good, ".")

	tamperedPayload := func() string {
		b, _ := json.Marshal(with(goodClaims(), "sub", "admin"))
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}
	tamperedSig := func() string {
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil {
			t.Fatal(err)
		}
		sig[len(sig)/2] ^= 0x01
		return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	big := signRS256(t, with(goodClaims(), "pad", strings.Repeat("x", MaxTokenBytes)))
	rs256Header := map[string]any{"alg": "RS256", "typ": "JWT"}
	signRaw := func(header map[string]any, c jwt.MapClaims) string {
		h, _ := json.Marshal(header)
		p, _ := json.Marshal(c)
		input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
		sig, err := jwt.SigningMethodRS256.Sign(input, k.priv)
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}

	for _, tc := range []struct {
		name    string
		token   string
		wantErr error
	}{
		{"valid", good, nil},
		{"expired", signRS256(t, with(goodClaims(), "exp", t0.Add(-time.Minute).Unix())), ErrJWTExpired},
		{"expired within leeway", signRS256(t, with(goodClaims(), "exp", t0.Add(-10*time.Second).Unix())), nil},
		{"expired exactly at leeway", signRS256(t, with(goodClaims(), "exp", t0.Add(-DefaultLeeway).Unix())), ErrJWTExpired},
		{"fractional exp", signRS256(t, with(goodClaims(), "exp", float64(t0.Unix())+0.5)), nil},
		{"no exp", signRS256(t, with(goodClaims(), "exp", nil)), ErrJWTMissingExp},
		{"exp zero", signRS256(t, with(goodClaims(), "exp", 0)), ErrJWTMissingExp},
		{"exp string", signRS256(t, with(goodClaims(), "exp", "9999999999")), ErrJWTInvalidClaim},
		{"nbf past", signRS256(t, with(goodClaims(), "nbf", t0.Add(-time.Minute).Unix())), nil},
		{"nbf future within leeway", signRS256(t, with(goodClaims(), "nbf", t0.Add(10*time.Second).Unix())), nil},
		{"nbf future", signRS256(t, with(goodClaims(), "nbf", t0.Add(5*time.Minute).Unix())), ErrJWTNotYetValid},
		{"nbf string", signRS256(t, with(goodClaims(), "nbf", "soon")), ErrJWTInvalidClaim},
		{"wrong iss", signRS256(t, with(goodClaims(), "iss", "https://evil.example.com/")), ErrJWTIssuer},
		{"no iss", signRS256(t, with(goodClaims(), "iss", nil)), ErrJWTIssuer},
		{"iss not a string", signRS256(t, with(goodClaims(), "iss", 7)), ErrJWTIssuer},
		{"wrong aud", signRS256(t, with(goodClaims(), "aud", "other-app")), ErrJWTAudience},
		{"aud array containing", signRS256(t, with(goodClaims(), "aud", []string{"other-app", testAudience})), nil},
		{"aud array without", signRS256(t, with(goodClaims(), "aud", []string{"a", "b"})), ErrJWTAudience},
		{"aud empty array", signRS256(t, with(goodClaims(), "aud", []string{})), ErrJWTAudience},
		{"no aud", signRS256(t, with(goodClaims(), "aud", nil)), ErrJWTAudience},
		{"aud number", signRS256(t, with(goodClaims(), "aud", 1)), ErrJWTAudience},
		{"aud array with number", signRS256(t, with(goodClaims(), "aud", []any{testAudience, 1})), ErrJWTAudience},
		{"alg none", sign(t, jwt.SigningMethodNone, goodClaims(), jwt.UnsafeAllowNoneSignatureType), ErrJWTAlgorithm},
		{"alg none, RS256 signature kept", rawJWT(t, map[string]any{"alg": "none"}, goodClaims(), mustDecode(t, parts[2])), ErrJWTAlgorithm},
		{"HS256 signed with the public key text", sign(t, jwt.SigningMethodHS256, goodClaims(), []byte(k.pkixPEM)), ErrJWTAlgorithm},
		{"ES256", sign(t, jwt.SigningMethodES256, goodClaims(), ecKey), ErrJWTAlgorithm},
		{"PS256 with the right key", sign(t, jwt.SigningMethodPS256, goodClaims(), k.priv), ErrJWTAlgorithm},
		{"RS512 with the right key", sign(t, jwt.SigningMethodRS512, goodClaims(), k.priv), ErrJWTAlgorithm},
		{"unknown alg", rawJWT(t, map[string]any{"alg": "XX256"}, goodClaims(), []byte("sig")), ErrJWTAlgorithm},
		{"no alg", rawJWT(t, map[string]any{"typ": "JWT"}, goodClaims(), []byte("sig")), ErrJWTAlgorithm},
		{"tampered payload", tamperedPayload(), ErrJWTSignature},
		{"tampered signature", tamperedSig(), ErrJWTSignature},
		{"empty signature", parts[0] + "." + parts[1] + ".", ErrJWTSignature},
		{"other key", sign(t, jwt.SigningMethodRS256, goodClaims(), k.other), ErrJWTSignature},
		{"jku to another key is not fetched", signRawWith(t, k.other, map[string]any{"alg": "RS256", "jku": "https://evil.example.com/jwks.json", "kid": "x"}, goodClaims()), ErrJWTSignature},
		{"kid is ignored by the static key", signRaw(map[string]any{"alg": "RS256", "kid": "whatever"}, goodClaims()), nil},
		{"crit header", signRaw(map[string]any{"alg": "RS256", "crit": []string{"b64"}, "b64": false}, goodClaims()), ErrJWTMalformed},
		{"two segments", parts[0] + "." + parts[1], ErrJWTMalformed},
		{"four segments", good + ".x", ErrJWTMalformed},
		{"empty segments", "..", ErrJWTMalformed},
		{"empty", "", ErrJWTMalformed},
		{"bad base64 header", "!!." + parts[1] + "." + parts[2], ErrJWTMalformed},
		{"padded segment", parts[0] + "=." + parts[1] + "." + parts[2], ErrJWTMalformed},
		{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + parts[1] + "." + parts[2], ErrJWTMalformed},
		{"payload array", signRawPayload(t, k.priv, rs256Header, []byte("[1,2]")), ErrJWTMalformed},
		{"payload null", signRawPayload(t, k.priv, rs256Header, []byte("null")), ErrJWTMissingExp},
		{"over 8 KiB, validly signed", big, ErrTokenTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newTestVerifier(t, k.pkixPEM, func() time.Time { return t0 })
			claims, exp, err := v.Verify(tc.token)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if claims["iss"] != testIssuer || exp.IsZero() {
					t.Fatalf("claims = %v, exp = %v", claims, exp)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if claims != nil || !exp.IsZero() {
				t.Fatal("claims or exp returned with an error")
			}
			if len(tc.token) > 20 && strings.Contains(err.Error(), tc.token[len(tc.token)-20:]) {
				t.Fatalf("error %q quotes the token", err)
			}
		})
	}
}

func TestVerifyReturnsClaimsAndExp(t *testing.T) {
	for _, tc := range []struct{ name, pem string }{
		{"PKIX", keys().pkixPEM},
		{"PKCS1", keys().pkcs1PEM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newTestVerifier(t, tc.pem, func() time.Time { return t0 })
			claims, exp, err := v.Verify(signRS256(t, goodClaims()))
			if err != nil {
				t.Fatal(err)
			}
			if claims["sub"] != "user-42" {
				t.Errorf("sub = %v", claims["sub"])
			}
			if !exp.Equal(t0.Add(time.Hour)) {
				t.Errorf("exp = %v, want %v", exp, t0.Add(time.Hour))
			}
		})
	}
}

func TestNewVerifierErrors(t *testing.T) {
	key, err := NewStaticKey(keys().pkixPEM)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    VerifierConfig
	}{
		{"no keys", VerifierConfig{Issuer: "i", Audience: "a"}},
		{"no issuer", VerifierConfig{Keys: key, Audience: "a"}},
		{"no audience", VerifierConfig{Keys: key, Issuer: "i"}},
		{"negative leeway", VerifierConfig{Keys: key, Issuer: "i", Audience: "a", Leeway: -time.Second}},
		{"huge leeway", VerifierConfig{Keys: key, Issuer: "i", Audience: "a", Leeway: time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewVerifier(tc.c); err == nil {
				t.Fatal("NewVerifier succeeded")
			}
		})
	}
	t.Run("zero leeway is exact", func(t *testing.T) {
		v, err := NewVerifier(VerifierConfig{Keys: key, Issuer: testIssuer, Audience: testAudience, Now: func() time.Time { return t0 }})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := v.Verify(signRS256(t, with(goodClaims(), "exp", t0.Add(-time.Second).Unix()))); !errors.Is(err, ErrJWTExpired) {
			t.Fatalf("err = %v, want ErrJWTExpired", err)
		}
	})
}

func TestParseRSAPublicKeyPEM(t *testing.T) {
	k := keys()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallDER, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	pemOf := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	for _, tc := range []struct {
		name string
		in   string
		ok   bool
	}{
		{"PKIX", k.pkixPEM, true},
		{"PKCS1", k.pkcs1PEM, true},
		{"surrounding whitespace", "\n  " + k.pkixPEM + "\n\n", true},
		{"escaped newlines (one-line .env value)", strings.ReplaceAll(strings.TrimSpace(k.pkixPEM), "\n", `\n`), true},
		{"empty", "", false},
		{"garbage", "not a key at all", false},
		{"truncated", k.pkixPEM[:len(k.pkixPEM)/2], false},
		{"EC key", pemOf("PUBLIC KEY", ecDER), false},
		{"certificate type", pemOf("CERTIFICATE", []byte{1, 2, 3}), false},
		{"private key type", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.priv)), false},
		{"PKCS1 bytes labelled PKIX", pemOf("PUBLIC KEY", x509.MarshalPKCS1PublicKey(&k.priv.PublicKey)), false},
		{"two blocks", k.pkixPEM + k.pkcs1PEM, false},
		{"1024-bit key", pemOf("PUBLIC KEY", smallDER), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := ParseRSAPublicKeyPEM(tc.in)
			if tc.ok {
				if err != nil || key == nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrBadPublicKey) {
				t.Fatalf("err = %v, want ErrBadPublicKey", err)
			}
			if len(tc.in) > 40 && strings.Contains(err.Error(), tc.in[30:40]) {
				t.Fatalf("error %q quotes the input", err)
			}
		})
	}
}

func mustDecode(t testing.TB, seg string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func signRawWith(t testing.TB, key *rsa.PrivateKey, header map[string]any, c jwt.MapClaims) string {
	t.Helper()
	p, _ := json.Marshal(c)
	return signRawPayload(t, key, header, p)
}

func signRawPayload(t testing.TB, key *rsa.PrivateKey, header map[string]any, payload []byte) string {
	t.Helper()
	h, _ := json.Marshal(header)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := jwt.SigningMethodRS256.Sign(input, key)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}
