// Package auth is moose's security core: it decides, for one request scope
// (ingest, consumption or admin) and one Authorization header, whether the
// request may proceed and as which httpx.Principal.
//
// It owns:
//
//   - API keys, compatible with MooseStack's `moose generate hash-token`:
//     a bearer token is hex(16 random bytes) "." hex(16 random bytes)
//     (token.salt) and its stored hash is
//     hex(PBKDF2-HMAC-SHA256(token hex text, salt hex text, 1000, 20 bytes)).
//     A configured value may list several hashes separated by commas (key
//     rotation); a token is compared against every one in constant time.
//   - JWT verification: RS256 only, against a configured PEM RSA public key,
//     with iss, aud, exp (required) and nbf checked under a small clock
//     leeway. No key is ever taken from a token header (jku, x5u, jwk); the
//     key comes from a KeySource, which a later JWKS-by-kid source can
//     implement without changing the verifier.
//   - Authorization header parsing ("Bearer <token>").
//   - The decision table of SPEC section 3 (Authenticator.Decide), and the
//     HTTP middleware that applies it and answers 401 in RFC 6750 form.
//   - A bounded cache of successful verifications.
//
// # Tokens are never echoed
//
// No error, Decision.Reason, response body or log line produced here
// contains a token, a configured hash or a key. Reasons come from a small
// fixed set so that they can be used as metric labels.
//
// # Immutability, reload and the cache
//
// An Authenticator is built once from a *config.Config by New and is
// immutable afterwards; it is safe for concurrent use. Reloading
// configuration (new keys, rotated hashes) means building a new
// Authenticator and swapping it in: the new one starts with an empty cache,
// so nothing accepted under the old configuration is served under the new
// one.
//
// The cache holds only positive results, keyed by SHA-256 of the scope and
// the token (never the token itself). An entry is never valid after the full
// check would refuse the same token: a JWT entry expires no later than its
// exp plus the leeway, and every entry lives at most the cache TTL (default
// 5 minutes). Negative results are not cached, so a token that fails costs
// a full check every time (a PBKDF2 run for a well-formed API key, an RSA
// verification for a well-formed JWT); tokens of the wrong shape are refused
// before any of that. Limiting repeated failures per client is the job of a
// separate rate limiter.
//
// # Boundaries
//
// Package auth imports only httpx, config, the standard library and
// github.com/golang-jwt/jwt/v5. It must not import server, ingest, api,
// admin, olap or stream; handlers read the Principal through httpx.
package auth
