package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxFuzzInput caps fuzz inputs: large enough to cross MaxTokenBytes.
const maxFuzzInput = 2*MaxTokenBytes + 64

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"", " ", "Bearer", "Bearer ", "Bearer abc", "bearer  abc  ", "BEARER\tabc",
		"Basic dXNlcjpwYXNz", "Bearer a b", "Bearer abc==", "Bearer ==", "Bearer a=b",
		"Bearer c26b3bfa2f541cbc65c8260882f68dfe.1a193b37d7d37bebda6819d1039f9c2e",
		"Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "Bearer\x00abc", "Bearerabc",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if len(h) > maxFuzzInput {
			t.Skip()
		}
		tok, err := ParseAuthorization(h)
		if err != nil {
			if !errors.Is(err, ErrNoCredentials) && !errors.Is(err, ErrMalformedHeader) {
				t.Fatalf("unexpected error %v", err)
			}
			if tok != "" {
				t.Fatal("token returned with an error")
			}
			if errors.Is(err, ErrNoCredentials) && strings.Trim(h, " \t") != "" {
				t.Fatalf("non-blank header %q reported as absent", h)
			}
			return
		}
		if tok == "" || !isB64Token(tok) || !strings.Contains(h, tok) {
			t.Fatalf("bad token %q from %q", tok, h)
		}
		if !strings.EqualFold(strings.TrimLeft(h, " \t")[:6], "bearer") {
			t.Fatalf("accepted a non-Bearer header %q", h)
		}
	})
}

func FuzzVerifyJWT(f *testing.F) {
	k := keys()
	valid := map[string]bool{}
	for _, c := range []jwt.MapClaims{
		goodClaims(),
		with(goodClaims(), "aud", []string{"x", testAudience}),
		with(goodClaims(), "nbf", t0.Add(-time.Minute).Unix()),
	} {
		tok := signRS256(f, c)
		valid[tok] = true
		f.Add(tok)
	}
	for _, s := range []string{
		sign(f, jwt.SigningMethodNone, goodClaims(), jwt.UnsafeAllowNoneSignatureType),
		sign(f, jwt.SigningMethodHS256, goodClaims(), []byte(k.pkixPEM)),
		sign(f, jwt.SigningMethodPS256, goodClaims(), k.priv),
		sign(f, jwt.SigningMethodRS256, goodClaims(), k.other),
		signRS256(f, with(goodClaims(), "exp", "soon")),
		signRS256(f, with(goodClaims(), "exp", nil)),
		"", ".", "..", "a.b.c", "a.b", "e30.e30.", "eyJhbGciOiJSUzI1NiJ9.bnVsbA.AA",
	} {
		f.Add(s)
	}
	v := newTestVerifier(f, k.pkixPEM, func() time.Time { return t0 })
	f.Fuzz(func(t *testing.T, tok string) {
		if len(tok) > maxFuzzInput {
			t.Skip()
		}
		claims, exp, err := v.Verify(tok)
		if err != nil {
			if claims != nil || !exp.IsZero() {
				t.Fatal("claims or exp returned with an error")
			}
			if jwtReason(err) == "invalid_jwt" {
				t.Fatalf("error outside the fixed set: %v", err)
			}
			return
		}
		// Only the signer can make a valid token, and strict decoding
		// leaves exactly one encoding of each: anything accepted must be
		// one of the seeds.
		if !valid[tok] {
			t.Fatalf("accepted a token that was never signed: %q", tok)
		}
		if claims["iss"] != testIssuer || exp.IsZero() {
			t.Fatalf("claims %v exp %v", claims, exp)
		}
	})
}
