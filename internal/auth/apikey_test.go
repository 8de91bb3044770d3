package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestReferenceVectors(t *testing.T) {
	pairs := loadVectors(t)
	for i, p := range pairs {
		t.Run(p.Hash[:8], func(t *testing.T) {
			got, err := HashToken(p.Token)
			if err != nil {
				t.Fatalf("HashToken: %v", err)
			}
			if got != p.Hash {
				t.Fatalf("HashToken = %s, want %s", got, p.Hash)
			}
			own, err := ParseKeySet(p.Hash)
			if err != nil {
				t.Fatal(err)
			}
			if !own.Verify(p.Token) {
				t.Errorf("token %d does not verify against its own hash", i)
			}
			for j, q := range pairs {
				if j == i {
					continue
				}
				ks, err := ParseKeySet(q.Hash)
				if err != nil {
					t.Fatal(err)
				}
				if ks.Verify(p.Token) {
					t.Errorf("token %d verifies against hash %d", i, j)
				}
			}
		})
	}
}

func TestGenerateToken(t *testing.T) {
	tok, hash, err := GenerateToken()
	if err != nil {
		t.Fatal(err)
	}
	if !isAPIKeyToken(tok) {
		t.Errorf("token %q does not have the API-key shape", tok)
	}
	if len(hash) != HashHexLen || !isHex(hash) {
		t.Errorf("hash %q is not %d hex digits", hash, HashHexLen)
	}
	ks, err := ParseKeySet(hash)
	if err != nil {
		t.Fatal(err)
	}
	if !ks.Verify(tok) {
		t.Error("generated token does not verify against its hash")
	}
	tok2, _, _ := GenerateToken()
	if tok2 == tok {
		t.Error("two generated tokens are equal")
	}
}

func TestHashTokenMalformed(t *testing.T) {
	good := loadVectors(t)[0].Token
	for _, tc := range []struct{ name, token string }{
		{"empty", ""},
		{"no dot", strings.Repeat("a", 65)},
		{"two dots", good[:32] + ".." + good[34:]},
		{"short token part", good[1:]},
		{"long salt part", good + "0"},
		{"non-hex", "g" + good[1:]},
		{"jwt shape", "a.b.c"},
		{"space", good[:10] + " " + good[11:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := HashToken(tc.token); !errors.Is(err, ErrMalformedToken) {
				t.Fatalf("err = %v, want ErrMalformedToken", err)
			}
		})
	}
	t.Run("uppercase hex is hashed as text", func(t *testing.T) {
		up := strings.ToUpper(good)
		h, err := HashToken(up)
		if err != nil {
			t.Fatal(err)
		}
		if h == loadVectors(t)[0].Hash {
			t.Fatal("uppercase token must hash differently (the hex text is the password)")
		}
	})
}

func TestParseKeySet(t *testing.T) {
	v := loadVectors(t)
	h0, h1, h2 := v[0].Hash, v[1].Hash, v[2].Hash
	for _, tc := range []struct {
		name    string
		in      string
		wantLen int
		wantErr error
		errPos  string // must appear in the error
	}{
		{name: "one", in: h0, wantLen: 1},
		{name: "rotation", in: h0 + "," + h1, wantLen: 2},
		{name: "spaces and empty items", in: "  " + h0 + " ,, \t" + h1 + " , ", wantLen: 2},
		{name: "uppercase", in: strings.ToUpper(h0), wantLen: 1},
		{name: "empty", in: "", wantErr: ErrNoKeys},
		{name: "only commas", in: " , ,", wantErr: ErrNoKeys},
		{name: "short", in: h0[:39], wantErr: ErrMalformedHash, errPos: "item 1"},
		{name: "bad second", in: h0 + ",zz" + h1[2:], wantErr: ErrMalformedHash, errPos: "item 2"},
		{name: "bad third", in: h0 + "," + h1 + "," + h2 + "00", wantErr: ErrMalformedHash, errPos: "item 3"},
		{name: "bearer token instead of hash", in: v[0].Token, wantErr: ErrMalformedHash, errPos: "bearer token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := ParseKeySet(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.errPos) {
					t.Errorf("error %q does not name %q", err, tc.errPos)
				}
				for _, item := range splitList(tc.in) {
					if len(item) > 8 && strings.Contains(err.Error(), item) {
						t.Errorf("error %q quotes the configured value", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ks.Len() != tc.wantLen {
				t.Fatalf("Len = %d, want %d", ks.Len(), tc.wantLen)
			}
		})
	}
}

func TestKeySetVerifyRotation(t *testing.T) {
	v := loadVectors(t)
	ks, err := ParseKeySet(v[0].Hash + ", " + v[1].Hash + "," + v[2].Hash)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range v {
		want := i < 3
		t.Run(p.Hash[:8], func(t *testing.T) {
			if got := ks.Verify(p.Token); got != want {
				t.Fatalf("Verify = %v, want %v", got, want)
			}
		})
	}
	t.Run("zero KeySet accepts nothing", func(t *testing.T) {
		if (KeySet{}).Verify(v[0].Token) {
			t.Fatal("zero KeySet accepted a token")
		}
	})
	t.Run("malformed token", func(t *testing.T) {
		if ks.Verify("nope") {
			t.Fatal("accepted a malformed token")
		}
	})
}
