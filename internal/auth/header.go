package auth

import (
	"errors"
	"strings"
)

var (
	// ErrNoCredentials: the Authorization header is absent or blank.
	ErrNoCredentials = errors.New("no Authorization header")
	// ErrMalformedHeader: the header is present but is not
	// "Bearer <token>" with a well-formed token.
	ErrMalformedHeader = errors.New(`Authorization header is not "Bearer <token>"`)
)

// ParseAuthorization extracts the token from an Authorization header value
// of the form "Bearer <token>". The scheme is matched case-insensitively;
// spaces and tabs around the value and between scheme and token are
// ignored. The token must be non-empty and made only of the RFC 6750
// b64token characters (ALPHA DIGIT - . _ ~ + / then trailing =), so inner
// whitespace, a second token or control characters make it malformed.
//
// A blank value is ErrNoCredentials; anything else that is not a bearer
// credential (another scheme, no token) is ErrMalformedHeader. The returned
// token is a substring of h; errors never contain it.
func ParseAuthorization(h string) (string, error) {
	h = strings.Trim(h, " \t")
	if h == "" {
		return "", ErrNoCredentials
	}
	const scheme = "bearer"
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) ||
		(h[len(scheme)] != ' ' && h[len(scheme)] != '\t') {
		return "", ErrMalformedHeader
	}
	token := strings.TrimLeft(h[len(scheme):], " \t")
	if !isB64Token(token) {
		return "", ErrMalformedHeader
	}
	return token, nil
}

// b64tokenChar marks the characters of RFC 6750's b64token other than "=".
var b64tokenChar = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()

// isB64Token reports whether s matches RFC 6750's
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for i < len(s) && b64tokenChar[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
