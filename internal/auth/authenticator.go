package auth

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/moose-go/moose/internal/config"
	"github.com/moose-go/moose/internal/httpx"
)

// Scope is a group of routes that shares one authentication rule.
type Scope uint8

const (
	// Ingest is /ingest/*: MOOSE_INGEST_API_KEY and enforce_on_all_ingest_apis.
	Ingest Scope = iota + 1
	// Consumption is /api/* and /consumption/*: MOOSE_CONSUMPTION_API_KEY and
	// enforce_on_all_consumptions_apis.
	Consumption
	// Admin is /admin/*: an API key only, never a JWT.
	Admin
)

// Scopes lists every scope, in a stable order.
var Scopes = []Scope{Ingest, Consumption, Admin}

func (s Scope) String() string {
	switch s {
	case Ingest:
		return "ingest"
	case Consumption:
		return "consumption"
	case Admin:
		return "admin"
	}
	return fmt.Sprintf("scope(%d)", uint8(s))
}

// Modes returned by Authenticator.Mode.
const (
	ModeJWT         = "jwt"            // a valid JWT only
	ModeJWTOrAPIKey = "jwt_or_api_key" // a valid JWT, else a valid API key
	ModeAPIKey      = "api_key"        // a valid API key only
	ModeOpen        = "open"           // no credential checked
	ModeClosed      = "closed"         // every request refused (admin without a key)
)

// Reasons in Decision.Reason, besides the "invalid_jwt: ..." family built
// from the ErrJWT* errors. None ever contains a token.
const (
	ReasonMissingToken       = "missing_token"
	ReasonMalformedHeader    = "malformed_header"
	ReasonInvalidAPIKey      = "invalid_api_key"
	ReasonJWTRequired        = "jwt_required" // a JWT-only scope got a token that is not a JWT
	ReasonAdminNotConfigured = "admin_not_configured"
	ReasonUnknownScope       = "unknown_scope"
)

// Decision is the outcome of Decide.
type Decision struct {
	// Allow is true when the request may proceed.
	Allow bool
	// Principal is set when Allow is true. It may be shared between
	// requests (the open principal, cached results): read it, never modify
	// it or its Claims.
	Principal *httpx.Principal
	// Reason says why a request was refused, for logs and metrics; empty
	// when allowed. It never contains the token.
	Reason string
	// TokenSent is true when the request carried a non-blank Authorization
	// header (RFC 6750: the challenge then says error="invalid_token").
	TokenSent bool
}

// Shared principals; read-only.
var (
	openPrincipal   = &httpx.Principal{Method: httpx.MethodNone}
	apiKeyPrincipal = &httpx.Principal{Method: httpx.MethodAPIKey}
)

// policy is one scope's rule, fixed at construction.
type policy struct {
	mode string
	jwt  bool   // a JWT is accepted
	keys KeySet // API-key hashes accepted (empty: none)
}

// Authenticator applies SPEC section 3 to each request. Build it once from
// the configuration with New; it is immutable and safe for concurrent use.
// To apply new configuration, build a new Authenticator: it starts with an
// empty cache.
type Authenticator struct {
	policies [Admin + 1]policy
	verifier *Verifier // nil when JWT is not configured
	cache    *verifyCache
	cacheTTL time.Duration
	now      func() time.Time
}

// Option adjusts New.
type Option func(*options)

type options struct {
	now       func() time.Time
	cacheSize int
	cacheTTL  time.Duration
}

// WithClock sets the clock used for JWT times and cache expiry (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithCacheSize bounds the verification cache (default DefaultCacheSize);
// 0 disables it.
func WithCacheSize(n int) Option { return func(o *options) { o.cacheSize = n } }

// WithCacheTTL sets the longest life of a cache entry (default
// DefaultCacheTTL). JWT entries also end at exp plus the leeway. A TTL
// <= 0 disables the cache.
func WithCacheTTL(d time.Duration) Option { return func(o *options) { o.cacheTTL = d } }

// New builds an Authenticator from cfg. It fails on a malformed API-key
// hash (naming the setting and the position in its list, never the value),
// on an unusable JWT public key, and on a partial [jwt] configuration
// (some but not all of secret, issuer and audience set), which would
// otherwise silently leave a scope open.
func New(cfg *config.Config, opts ...Option) (*Authenticator, error) {
	if cfg == nil {
		return nil, errors.New("auth: nil config")
	}
	o := options{now: time.Now, cacheSize: DefaultCacheSize, cacheTTL: DefaultCacheTTL}
	for _, opt := range opts {
		opt(&o)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.cacheTTL <= 0 {
		o.cacheSize = 0
	}
	a := &Authenticator{now: o.now, cacheTTL: o.cacheTTL, cache: newVerifyCache(o.cacheSize)}

	j := cfg.JWT
	if j.Configured() {
		key, err := NewStaticKey(j.Secret.Reveal())
		if err != nil {
			return nil, fmt.Errorf("auth: [jwt] secret (MOOSE_JWT_PUBLIC_KEY): %w", err)
		}
		v, err := NewVerifier(VerifierConfig{
			Keys: key, Issuer: j.Issuer, Audience: j.Audience, Leeway: j.Leeway.Duration, Now: o.now,
		})
		if err != nil {
			return nil, fmt.Errorf("auth: [jwt]: %w", err)
		}
		a.verifier = v
	} else if !j.Secret.Empty() || j.Issuer != "" || j.Audience != "" {
		return nil, fmt.Errorf("auth: [jwt] is partly configured (missing %s): set secret, issuer and audience, or none of them", missingJWT(j))
	}

	var err error
	if a.policies[Ingest], err = dataPolicy(cfg.Authentication.IngestAPIKey, "MOOSE_INGEST_API_KEY",
		a.verifier != nil, j.EnforceOnAllIngestAPIs); err != nil {
		return nil, err
	}
	if a.policies[Consumption], err = dataPolicy(cfg.Authentication.ConsumptionAPIKey, "MOOSE_CONSUMPTION_API_KEY",
		a.verifier != nil, j.EnforceOnAllConsumptionsAPIs); err != nil {
		return nil, err
	}
	if a.policies[Admin], err = adminPolicy(cfg.Authentication); err != nil {
		return nil, err
	}
	return a, nil
}

func missingJWT(j config.JWTConfig) string {
	var m []string
	if j.Secret.Empty() {
		m = append(m, "secret")
	}
	if j.Issuer == "" {
		m = append(m, "issuer")
	}
	if j.Audience == "" {
		m = append(m, "audience")
	}
	return strings.Join(m, ", ")
}

// dataPolicy is SPEC section 3's table for ingest and consumption.
func dataPolicy(key config.Secret, name string, jwtConfigured, enforce bool) (policy, error) {
	var keys KeySet
	if !key.Empty() {
		ks, err := ParseKeySet(key.Reveal())
		if err != nil {
			return policy{}, fmt.Errorf("auth: %s: %w", name, err)
		}
		keys = ks
	}
	switch {
	case jwtConfigured && (enforce || keys.Len() == 0):
		return policy{mode: ModeJWT, jwt: true}, nil
	case jwtConfigured:
		return policy{mode: ModeJWTOrAPIKey, jwt: true, keys: keys}, nil
	case keys.Len() > 0:
		return policy{mode: ModeAPIKey, keys: keys}, nil
	}
	return policy{mode: ModeOpen}, nil
}

// adminPolicy: [authentication] admin_api_key if set, else
// MOOSE_ADMIN_TOKEN; neither set closes the admin scope.
func adminPolicy(c config.AuthenticationConfig) (policy, error) {
	if !c.AdminAPIKey.Empty() {
		ks, err := ParseKeySet(c.AdminAPIKey.Reveal())
		if err != nil {
			return policy{}, fmt.Errorf("auth: [authentication] admin_api_key: %w", err)
		}
		return policy{mode: ModeAPIKey, keys: ks}, nil
	}
	if !c.AdminToken.Empty() {
		ks, err := parseAdminToken(c.AdminToken.Reveal())
		if err != nil {
			return policy{}, fmt.Errorf("auth: MOOSE_ADMIN_TOKEN: %w", err)
		}
		return policy{mode: ModeAPIKey, keys: ks}, nil
	}
	return policy{mode: ModeClosed}, nil
}

// parseAdminToken reads MOOSE_ADMIN_TOKEN: a comma-separated list whose
// items are each either a hash (40 hex digits) or a plain bearer token
// (32 hex digits "." 32 hex digits), which is hashed here. The two shapes
// differ in length and in the dot, so neither can be taken for the other.
func parseAdminToken(s string) (KeySet, error) {
	var ks KeySet
	for i, item := range splitList(s) {
		switch {
		case item == "":
			continue
		case isAPIKeyToken(item):
			h, err := deriveKey(item)
			if err != nil {
				return KeySet{}, fmt.Errorf("item %d of the list: %w", i+1, err)
			}
			ks.hashes = append(ks.hashes, h)
		default:
			h, err := parseHash(item)
			if err != nil {
				return KeySet{}, fmt.Errorf("item %d of the list is neither a hash nor a bearer token: %w", i+1, ErrMalformedHash)
			}
			ks.hashes = append(ks.hashes, h)
		}
	}
	if len(ks.hashes) == 0 {
		return KeySet{}, ErrNoKeys
	}
	return ks, nil
}

func (a *Authenticator) policy(s Scope) (policy, bool) {
	if s < Ingest || s > Admin {
		return policy{}, false
	}
	return a.policies[s], true
}

// Mode describes a scope's rule: ModeJWT, ModeJWTOrAPIKey, ModeAPIKey,
// ModeOpen or ModeClosed ("" for an unknown scope). For `moose ls` and
// start-up logs.
func (a *Authenticator) Mode(s Scope) string {
	p, _ := a.policy(s)
	return p.mode
}

// Open reports whether scope s checks no credential at all.
func (a *Authenticator) Open(s Scope) bool { return a.Mode(s) == ModeOpen }

// JWTConfigured reports whether JWTs can be verified at all (so routes that
// bind jwt_claim can ever be reached).
func (a *Authenticator) JWTConfigured() bool { return a.verifier != nil }

// Decide applies scope's rule to the value of the request's Authorization
// header ("" when absent).
func (a *Authenticator) Decide(scope Scope, authorizationHeader string) Decision {
	sent := !isBlank(authorizationHeader)
	deny := func(reason string) Decision { return Decision{Reason: reason, TokenSent: sent} }

	p, ok := a.policy(scope)
	switch {
	case !ok:
		return deny(ReasonUnknownScope)
	case p.mode == ModeOpen:
		return Decision{Allow: true, Principal: openPrincipal, TokenSent: sent}
	case p.mode == ModeClosed:
		return deny(ReasonAdminNotConfigured)
	}

	token, err := ParseAuthorization(authorizationHeader)
	if err != nil {
		if errors.Is(err, ErrNoCredentials) {
			return deny(ReasonMissingToken)
		}
		return deny(ReasonMalformedHeader)
	}

	if len(token) > MaxTokenBytes {
		// No valid credential is this long; refuse before hashing it.
		if p.jwt {
			return deny(jwtReason(ErrTokenTooLarge))
		}
		return deny(ReasonInvalidAPIKey)
	}

	now := a.now()
	var key cacheKey
	if a.cache != nil {
		key = newCacheKey(scope, token)
		if pr, ok := a.cache.get(key, now); ok {
			return Decision{Allow: true, Principal: pr, TokenSent: true}
		}
	}

	reason := ReasonInvalidAPIKey
	if p.jwt {
		if looksLikeJWT(token) {
			claims, exp, err := a.verifier.Verify(token)
			if err == nil {
				pr := &httpx.Principal{Method: httpx.MethodJWT, Claims: claims}
				a.remember(key, pr, now, exp.Add(a.verifier.Leeway()))
				return Decision{Allow: true, Principal: pr, TokenSent: true}
			}
			reason = jwtReason(err)
		} else if p.keys.Len() == 0 {
			reason = ReasonJWTRequired
		}
	}
	if p.keys.Len() > 0 && p.keys.Verify(token) {
		a.remember(key, apiKeyPrincipal, now, now.Add(a.cacheTTL))
		return Decision{Allow: true, Principal: apiKeyPrincipal, TokenSent: true}
	}
	return deny(reason)
}

// remember caches a positive result until the earlier of validUntil (when
// the full check would start refusing) and now plus the cache TTL.
func (a *Authenticator) remember(key cacheKey, p *httpx.Principal, now, validUntil time.Time) {
	if a.cache == nil {
		return
	}
	until := now.Add(a.cacheTTL)
	if validUntil.Before(until) {
		until = validUntil
	}
	a.cache.put(key, p, now, until)
}

func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' {
			return false
		}
	}
	return true
}
