package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// PBKDF2 parameters of MooseStack's API keys. Changing any of them breaks
// every hash printed by `moose generate hash-token`.
const (
	// TokenPartBytes is the number of random bytes in each half of a bearer
	// token (the token part and the salt part).
	TokenPartBytes = 16
	// PBKDF2Iterations is the PBKDF2-HMAC-SHA256 iteration count.
	PBKDF2Iterations = 1000
	// HashBytes is the length of the derived key; hex-encoded it is
	// HashHexLen characters.
	HashBytes = 20
	// HashHexLen is the length of a configured hash.
	HashHexLen = 2 * HashBytes
	// tokenPartHexLen is the length of each half of a bearer token.
	tokenPartHexLen = 2 * TokenPartBytes
	// tokenLen is the length of a whole bearer token: token "." salt.
	tokenLen = 2*tokenPartHexLen + 1
)

var (
	// ErrMalformedToken: a bearer token does not have the API-key shape
	// (32 hex digits, ".", 32 hex digits).
	ErrMalformedToken = errors.New("bearer token is not 32 hex digits, '.', 32 hex digits")
	// ErrMalformedHash: a configured API-key hash is not 40 hex digits.
	ErrMalformedHash = errors.New("API key hash is not 40 hex digits")
	// ErrNoKeys: a configured API-key value is set but lists no hash.
	ErrNoKeys = errors.New("API key value lists no hash")
)

// GenerateToken returns a new bearer token and its hash, as
// `moose generate hash-token` prints them: the token goes to clients, the
// hash into MOOSE_INGEST_API_KEY, MOOSE_CONSUMPTION_API_KEY,
// MOOSE_ADMIN_TOKEN or [authentication] admin_api_key.
func GenerateToken() (token, hash string, err error) {
	var b [2 * TokenPartBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("generating token: %w", err)
	}
	token = hex.EncodeToString(b[:TokenPartBytes]) + "." + hex.EncodeToString(b[TokenPartBytes:])
	hash, err = HashToken(token)
	if err != nil {
		return "", "", err
	}
	return token, hash, nil
}

// HashToken returns the hex PBKDF2 hash of a bearer token. The token must
// have the shape GenerateToken produces; otherwise ErrMalformedToken.
//
// MooseStack's server hashes any "a.b" string; moose accepts only the shape
// its CLI generates (SPEC section 3), which lets a malformed token be
// refused without running PBKDF2.
func HashToken(token string) (string, error) {
	sum, err := deriveKey(token)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(sum[:]), nil
}

// isAPIKeyToken reports whether token has the bearer-token shape: 32 hex
// digits, ".", 32 hex digits (either case).
func isAPIKeyToken(token string) bool {
	if len(token) != tokenLen || token[tokenPartHexLen] != '.' {
		return false
	}
	return isHex(token[:tokenPartHexLen]) && isHex(token[tokenPartHexLen+1:])
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// deriveKey runs PBKDF2 over the token's hex text and the salt's hex text,
// exactly as MooseStack does (the text bytes, not the decoded bytes).
func deriveKey(token string) ([HashBytes]byte, error) {
	var out [HashBytes]byte
	if !isAPIKeyToken(token) {
		return out, ErrMalformedToken
	}
	password, salt := token[:tokenPartHexLen], token[tokenPartHexLen+1:]
	k, err := pbkdf2.Key(sha256.New, password, []byte(salt), PBKDF2Iterations, HashBytes)
	if err != nil {
		return out, fmt.Errorf("hashing token: %w", err)
	}
	copy(out[:], k)
	return out, nil
}

// KeySet is a parsed list of API-key hashes: every hash that currently
// opens one scope. The zero KeySet holds no hash and accepts nothing.
type KeySet struct {
	hashes [][HashBytes]byte
}

// ParseKeySet parses a configured value: one or more 40-hex-digit hashes
// separated by commas (key rotation). Spaces around items are trimmed and
// empty items ignored. A malformed item is an error naming its position in
// the list (1-based), never its value. A value that lists no hash at all is
// ErrNoKeys: a key that is set but empty must not silently open a scope.
func ParseKeySet(s string) (KeySet, error) {
	var ks KeySet
	for i, item := range splitList(s) {
		if item == "" {
			continue
		}
		h, err := parseHash(item)
		if err != nil {
			return KeySet{}, fmt.Errorf("item %d of the list: %w", i+1, err)
		}
		ks.hashes = append(ks.hashes, h)
	}
	if len(ks.hashes) == 0 {
		return KeySet{}, ErrNoKeys
	}
	return ks, nil
}

// splitList splits a comma-separated value and trims spaces and tabs
// around each item.
func splitList(s string) []string {
	items := strings.Split(s, ",")
	for i, it := range items {
		items[i] = strings.Trim(it, " \t\r\n")
	}
	return items
}

func parseHash(item string) ([HashBytes]byte, error) {
	var h [HashBytes]byte
	if len(item) != HashHexLen || !isHex(item) {
		if isAPIKeyToken(item) {
			return h, fmt.Errorf("%w (it has the shape of a bearer token: configure the hash that `moose generate hash-token` prints next to it)", ErrMalformedHash)
		}
		return h, ErrMalformedHash
	}
	if _, err := hex.Decode(h[:], []byte(item)); err != nil {
		return h, ErrMalformedHash
	}
	return h, nil
}

// Len returns the number of hashes in the set.
func (k KeySet) Len() int { return len(k.hashes) }

// Verify reports whether token is a bearer token whose hash is in the set.
// A token of the wrong shape is refused without running PBKDF2. Otherwise
// the derived key is compared in constant time against every hash, with no
// early exit, so the timing does not tell which hash (if any) matched.
func (k KeySet) Verify(token string) bool {
	if len(k.hashes) == 0 {
		return false
	}
	sum, err := deriveKey(token)
	if err != nil {
		return false
	}
	match := 0
	for i := range k.hashes {
		match |= subtle.ConstantTimeCompare(sum[:], k.hashes[i][:])
	}
	return match == 1
}
