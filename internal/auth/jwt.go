package auth

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenBytes is the largest bearer token considered at all; longer
// tokens are refused before any decoding.
const MaxTokenBytes = 8 << 10

// DefaultLeeway is the clock leeway applied to exp and nbf when the
// configuration does not set one; MaxLeeway is the largest accepted.
const (
	DefaultLeeway = 30 * time.Second
	MaxLeeway     = 5 * time.Minute
)

// MinRSABits is the smallest RSA public key accepted for JWT verification.
const MinRSABits = 2048

// algRS256 is the only JWT signing algorithm moose accepts.
const algRS256 = "RS256"

// Errors returned by Verifier.Verify. Each is a fixed string, so that the
// reason built from it ("invalid_jwt: " + err.Error()) is a bounded metric
// label and never contains token content.
var (
	ErrTokenTooLarge   = errors.New("token too large")
	ErrJWTMalformed    = errors.New("token is malformed")
	ErrJWTAlgorithm    = errors.New("signing algorithm not allowed")
	ErrJWTSignature    = errors.New("signature is invalid")
	ErrJWTNoKey        = errors.New("no verification key")
	ErrJWTMissingExp   = errors.New("token has no exp")
	ErrJWTExpired      = errors.New("token is expired")
	ErrJWTNotYetValid  = errors.New("token is not valid yet")
	ErrJWTIssuer       = errors.New("token has invalid issuer")
	ErrJWTAudience     = errors.New("token has invalid audience")
	ErrJWTInvalidClaim = errors.New("token has a claim of the wrong type")
)

// ErrBadPublicKey: the configured JWT public key cannot be used.
var ErrBadPublicKey = errors.New("bad JWT public key")

// KeySource supplies the RSA public key that verifies a token's signature.
// kid is the "kid" header of the token ("" when absent); a source may use
// it only to choose among keys it was configured with (a JWKS fetched from
// a configured URL), never to fetch a key named by the token. The static
// source ignores it. Implementations must be safe for concurrent use.
type KeySource interface {
	VerificationKey(kid string) (*rsa.PublicKey, error)
}

// StaticKey is a KeySource holding one configured key.
type StaticKey struct{ key *rsa.PublicKey }

var _ KeySource = StaticKey{}

// NewStaticKey parses a PEM RSA public key (see ParseRSAPublicKeyPEM).
func NewStaticKey(pemText string) (StaticKey, error) {
	k, err := ParseRSAPublicKeyPEM(pemText)
	if err != nil {
		return StaticKey{}, err
	}
	return StaticKey{key: k}, nil
}

// VerificationKey returns the configured key whatever kid is.
func (s StaticKey) VerificationKey(string) (*rsa.PublicKey, error) {
	if s.key == nil {
		return nil, ErrJWTNoKey
	}
	return s.key, nil
}

// ParseRSAPublicKeyPEM parses one PEM block of type "PUBLIC KEY" (PKIX) or
// "RSA PUBLIC KEY" (PKCS#1) holding an RSA key of at least MinRSABits.
// Literal "\n" sequences (a PEM squeezed into one line of a .env file) are
// read as newlines. Errors wrap ErrBadPublicKey and never quote the input.
func ParseRSAPublicKeyPEM(pemText string) (*rsa.PublicKey, error) {
	text := strings.TrimSpace(pemText)
	if !strings.Contains(text, "\n") && strings.Contains(text, `\n`) {
		text = strings.ReplaceAll(text, `\n`, "\n")
	}
	block, rest := pem.Decode([]byte(text))
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found (expected -----BEGIN PUBLIC KEY-----)", ErrBadPublicKey)
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, fmt.Errorf("%w: unexpected data after the PEM block", ErrBadPublicKey)
	}
	var key *rsa.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: PUBLIC KEY block does not parse", ErrBadPublicKey)
		}
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: key is %T, RS256 needs an RSA key", ErrBadPublicKey, pub)
		}
		key = k
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: RSA PUBLIC KEY block does not parse", ErrBadPublicKey)
		}
		key = k
	default:
		return nil, fmt.Errorf("%w: PEM block is %q, expected PUBLIC KEY or RSA PUBLIC KEY", ErrBadPublicKey, block.Type)
	}
	if bits := key.N.BitLen(); bits < MinRSABits {
		return nil, fmt.Errorf("%w: RSA key has %d bits, at least %d required", ErrBadPublicKey, bits, MinRSABits)
	}
	return key, nil
}

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Keys supplies the verification key. Required.
	Keys KeySource
	// Issuer must equal the token's "iss". Required.
	Issuer string
	// Audience must be the token's "aud" or one of its members. Required.
	Audience string
	// Leeway is the clock skew allowed on exp and nbf, 0..MaxLeeway.
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier checks RS256 JWTs. It is immutable and safe for concurrent use.
//
// Parsing and the signature check use github.com/golang-jwt/jwt/v5 (already
// a dependency, widely reviewed), pinned to RS256 with strict base64url
// decoding; its own claim validation is switched off and the claims are
// checked here, so that the exp/nbf/leeway arithmetic is exactly the one the
// cache relies on and every error maps to one of the fixed ErrJWT* values.
type Verifier struct {
	keys     KeySource
	issuer   string
	audience string
	leeway   time.Duration
	now      func() time.Time
	parser   *jwt.Parser
}

// NewVerifier checks c and returns a Verifier.
func NewVerifier(c VerifierConfig) (*Verifier, error) {
	switch {
	case c.Keys == nil:
		return nil, errors.New("jwt verifier: no key source")
	case c.Issuer == "":
		return nil, errors.New("jwt verifier: issuer is empty")
	case c.Audience == "":
		return nil, errors.New("jwt verifier: audience is empty")
	case c.Leeway < 0 || c.Leeway > MaxLeeway:
		return nil, fmt.Errorf("jwt verifier: leeway %s is outside 0s..%s", c.Leeway, MaxLeeway)
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	return &Verifier{
		keys:     c.Keys,
		issuer:   c.Issuer,
		audience: c.Audience,
		leeway:   c.Leeway,
		now:      now,
		// The library does the segment split, strict base64url decoding,
		// JSON decoding and the RSA PKCS#1 v1.5 check; claims are checked
		// below so that their rules (and the cache's) are exactly ours.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{algRS256}),
			jwt.WithStrictDecoding(),
			jwt.WithoutClaimsValidation(),
		),
	}, nil
}

// Leeway returns the configured clock leeway.
func (v *Verifier) Leeway() time.Duration { return v.leeway }

// Verify checks token and returns its claims and its expiry (exp). The
// token is valid until, and not including, exp plus the leeway. Errors are
// one of the ErrJWT* values (or ErrTokenTooLarge), possibly wrapped.
func (v *Verifier) Verify(token string) (claims map[string]any, exp time.Time, err error) {
	if len(token) > MaxTokenBytes {
		return nil, time.Time{}, ErrTokenTooLarge
	}
	var keyErr error
	mc := jwt.MapClaims{}
	t, err := v.parser.ParseWithClaims(token, mc, func(t *jwt.Token) (any, error) {
		// Only the registered RS256 method reaches here (WithValidMethods);
		// check again so that a change of options cannot open HS256.
		if t.Method != jwt.SigningMethodRS256 {
			keyErr = ErrJWTAlgorithm
			return nil, keyErr
		}
		// RFC 7515 4.1.11: extensions marked critical must be understood;
		// moose understands none (this also refuses b64=false).
		if _, ok := t.Header["crit"]; ok {
			keyErr = ErrJWTMalformed
			return nil, keyErr
		}
		kid, _ := t.Header["kid"].(string)
		k, err := v.keys.VerificationKey(kid)
		if err != nil || k == nil {
			keyErr = ErrJWTNoKey
			return nil, keyErr
		}
		return k, nil
	})
	if err != nil {
		return nil, time.Time{}, classifyParseError(t, err, keyErr)
	}
	exp, err = v.checkClaims(mc)
	if err != nil {
		return nil, time.Time{}, err
	}
	return map[string]any(mc), exp, nil
}

// classifyParseError maps the library's error to one of ours, keeping its
// text (which may quote decoded token content) out of the result.
func classifyParseError(t *jwt.Token, err, keyErr error) error {
	switch {
	case keyErr != nil:
		return keyErr
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ErrJWTMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// alg missing or not a registered algorithm.
		return ErrJWTAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if t == nil || t.Method == nil || t.Method.Alg() != algRS256 {
			return ErrJWTAlgorithm
		}
		return ErrJWTSignature
	}
	return ErrJWTMalformed
}

// checkClaims applies exp (required), nbf, iss and aud at v.now().
// Valid means now < exp+leeway and, if nbf is present, now >= nbf-leeway.
func (v *Verifier) checkClaims(mc jwt.MapClaims) (time.Time, error) {
	now := v.now()
	exp, err := mc.GetExpirationTime()
	if err != nil {
		return time.Time{}, fmt.Errorf("exp: %w", ErrJWTInvalidClaim)
	}
	if exp == nil {
		return time.Time{}, ErrJWTMissingExp
	}
	if !now.Before(exp.Add(v.leeway)) {
		return time.Time{}, ErrJWTExpired
	}
	nbf, err := mc.GetNotBefore()
	if err != nil {
		return time.Time{}, fmt.Errorf("nbf: %w", ErrJWTInvalidClaim)
	}
	if nbf != nil && now.Before(nbf.Add(-v.leeway)) {
		return time.Time{}, ErrJWTNotYetValid
	}
	iss, err := mc.GetIssuer()
	if err != nil || iss != v.issuer {
		return time.Time{}, ErrJWTIssuer
	}
	aud, err := mc.GetAudience()
	if err != nil || !slices.Contains([]string(aud), v.audience) {
		return time.Time{}, ErrJWTAudience
	}
	return exp.Time, nil
}

// looksLikeJWT reports whether token has the three dot-separated segments
// of a JWS compact serialization.
func looksLikeJWT(token string) bool {
	return strings.Count(token, ".") == 2
}

// jwtReason returns the Decision reason for a verification error: one of a
// fixed set of strings.
func jwtReason(err error) string {
	for _, e := range []error{
		ErrTokenTooLarge, ErrJWTMalformed, ErrJWTAlgorithm, ErrJWTSignature, ErrJWTNoKey,
		ErrJWTMissingExp, ErrJWTExpired, ErrJWTNotYetValid, ErrJWTIssuer, ErrJWTAudience,
		ErrJWTInvalidClaim,
	} {
		if errors.Is(err, e) {
			return "invalid_jwt: " + e.Error()
		}
	}
	return "invalid_jwt"
}
