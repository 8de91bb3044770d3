package auth

import (
	"errors"
	"testing"
)

func TestParseAuthorization(t *testing.T) {
	const tok = "c26b3bfa2f541cbc65c8260882f68dfe.1a193b37d7d37bebda6819d1039f9c2e"
	const jwtTok = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_"
	for _, tc := range []struct {
		name    string
		in      string
		want    string
		wantErr error
	}{
		{"no header", "", "", ErrNoCredentials},
		{"blank", "   ", "", ErrNoCredentials},
		{"tab only", "\t", "", ErrNoCredentials},
		{"bearer", "Bearer " + tok, tok, nil},
		{"lowercase scheme", "bearer " + tok, tok, nil},
		{"uppercase scheme", "BEARER " + tok, tok, nil},
		{"mixed-case scheme", "bEaReR " + tok, tok, nil},
		{"surrounding spaces", "  Bearer " + tok + "  ", tok, nil},
		{"several spaces after scheme", "Bearer    " + tok, tok, nil},
		{"tab after scheme", "Bearer\t" + tok, tok, nil},
		{"jwt", "Bearer " + jwtTok, jwtTok, nil},
		{"b64token padding", "Bearer abc+/==", "abc+/==", nil},
		{"scheme only", "Bearer", "", ErrMalformedHeader},
		{"scheme and spaces", "Bearer    ", "", ErrMalformedHeader},
		{"no space after scheme", "Bearer" + tok, "", ErrMalformedHeader},
		{"token without scheme", tok, "", ErrMalformedHeader},
		{"basic", "Basic dXNlcjpwYXNz", "", ErrMalformedHeader},
		{"other scheme", "Token " + tok, "", ErrMalformedHeader},
		{"inner space", "Bearer abc def", "", ErrMalformedHeader},
		{"inner tab", "Bearer abc\tdef", "", ErrMalformedHeader},
		{"newline", "Bearer abc\ndef", "", ErrMalformedHeader},
		{"two bearers", "Bearer Bearer " + tok, "", ErrMalformedHeader},
		{"comma list", "Bearer a, Bearer b", "", ErrMalformedHeader},
		{"quoted", `Bearer "abc"`, "", ErrMalformedHeader},
		{"only padding", "Bearer ==", "", ErrMalformedHeader},
		{"padding inside", "Bearer a=b", "", ErrMalformedHeader},
		{"NUL", "Bearer abc\x00", "", ErrMalformedHeader},
		{"non-ASCII", "Bearer abcé", "", ErrMalformedHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAuthorization(tc.in)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("token = %q, want %q", got, tc.want)
			}
		})
	}
}
