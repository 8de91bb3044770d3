package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

const ownedModel = `
[[data_model]]
name = "Owned"
  [[data_model.columns]]
  name = "id"
  type = "String"
  key = true
  [[data_model.columns]]
  name = "user_id"
  type = "String"
  jwt_claim = "sub"

[[api]]
name = "owned_rows"
sql = "SELECT id, user_id FROM Owned ORDER BY id"

[[api]]
name = "my_rows"
sql = "SELECT id FROM Owned WHERE user_id = {me:String} ORDER BY id"
  [[api.params]]
  name = "me"
  jwt_claim = "sub"

[[api]]
name = "count_owned"
sql = "SELECT count() AS n FROM Owned"
`

// TestJWTClaimColumn: a jwt_claim column is filled from the verified
// token, never from the client, and needs a JWT.
func TestJWTClaimColumn(t *testing.T) {
	requireEngine(t)
	k := kit(t)
	vecs := loadVectors(t)
	s := startServer(t, serverOpts{
		Models: map[string]string{"owned.toml": ownedModel},
		Config: k.jwtTOML(false),
		Env:    []string{"MOOSE_INGEST_API_KEY=" + vecs[0].Hash, "MOOSE_CONSUMPTION_API_KEY=" + vecs[1].Hash},
	})
	tok := func(sub string) string { return "Bearer " + k.rs256(t, claims(sub, nil)) }
	tests := []struct {
		name   string
		body   string
		authz  []string
		want   int
		errHas string
	}{
		{name: "filled from sub", body: `{"id":"1"}`, authz: []string{tok("user-42")}, want: 200},
		{name: "batch filled from sub", body: `[{"id":"4"},{"id":"5"}]`, authz: []string{tok("user-44")}, want: 200},
		{name: "client sends the claim column", body: `{"id":"2","user_id":"mallory"}`, authz: []string{tok("user-43")}, want: 400, errHas: `field "user_id"`},
		{name: "client sends it in record 1", body: `[{"id":"6"},{"id":"7","user_id":"user-43"}]`, authz: []string{tok("user-43")}, want: 400, errHas: "record 1"},
		{name: "client sends null for it", body: `{"id":"2","user_id":null}`, authz: []string{tok("user-43")}, want: 400, errHas: "user_id"},
		{name: "token without the claim", body: `{"id":"3"}`, authz: []string{"Bearer " + k.rs256(t, claims("", nil))}, want: 400, errHas: "sub"},
		{name: "api key instead of a jwt", body: `{"id":"8"}`, authz: []string{"Bearer " + vecs[0].Token}, want: 401},
		{name: "no token", body: `{"id":"9"}`, want: 401},
		{name: "expired jwt", body: `{"id":"10"}`, authz: []string{"Bearer " + k.rs256(t, claims("user-42", func(c jwt.MapClaims) { c["exp"] = int64(1) }))}, want: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.ingest(t, "Owned", tc.body, tc.authz...)
			if r.Status != tc.want {
				t.Fatalf("got %s, want %d", r, tc.want)
			}
			switch tc.want {
			case http.StatusBadRequest:
				if msg := errorMessage(t, r); !strings.Contains(msg, tc.errHas) {
					t.Errorf("error %q does not contain %q", msg, tc.errHas)
				}
			case http.StatusUnauthorized:
				c := credential{name: tc.name, authz: tc.authz}
				if len(tc.authz) > 0 {
					c.token = strings.TrimPrefix(tc.authz[0], "Bearer ")
				}
				checkRefusal(t, r, c)
			}
		})
	}
	t.Run("stored rows carry the token's sub", func(t *testing.T) {
		rows := s.query(t, "owned_rows", nil, tok("reader"))
		got := make([]string, len(rows))
		for i, r := range rows {
			got[i] = fmt.Sprintf("%v=%v", r["id"], r["user_id"])
		}
		if want := "1=user-42 4=user-44 5=user-44"; strings.Join(got, " ") != want {
			t.Errorf("rows = %v, want %s", got, want)
		}
	})
	t.Run("api param bound from sub", func(t *testing.T) {
		rows := s.query(t, "my_rows", nil, tok("user-44"))
		if len(rows) != 2 || rows[0]["id"] != "4" || rows[1]["id"] != "5" {
			t.Errorf("my_rows for user-44 = %v, want ids 4 and 5", rows)
		}
		if r := s.do(t, "GET", "/api/my_rows?me=user-42", nil, tok("user-44")); r.Status != http.StatusBadRequest {
			t.Errorf("client-sent claim param: %s, want 400", r)
		}
		// The consumption scope accepts this API key, but the API needs a JWT.
		c := credential{name: "consumption api key", authz: []string{"Bearer " + vecs[1].Token}, token: vecs[1].Token}
		r := s.do(t, "GET", "/api/my_rows", nil, c.authz...)
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("API key to a claim-bound API: %s, want 401", r)
		}
		checkRefusal(t, r, c)
	})
	t.Run("log", func(t *testing.T) {
		checkNotLogged(t, s.Out.String(), "api key", vecs[0].Token)
		checkNotLogged(t, s.Out.String(), "api key", vecs[1].Token)
		checkNotLogged(t, s.Out.String(), "hash", vecs[0].Hash)
	})
}

// TestJWTClaimWithoutJWT: a project that takes a column from a claim while
// no JWT is configured starts with a warning, and that route refuses every
// request (SPEC 3), even though the ingest scope itself is open.
func TestJWTClaimWithoutJWT(t *testing.T) {
	requireEngine(t)
	vecs := loadVectors(t)
	s := startServer(t, serverOpts{Models: map[string]string{"owned.toml": ownedModel}})
	if log := s.Out.String(); !strings.Contains(log, "no JWT is configured") {
		t.Errorf("no start-up warning about the jwt_claim column:\n%s", log)
	}
	for _, tc := range []struct {
		name  string
		body  string
		authz []string
	}{
		{"no token", `{"id":"1"}`, nil},
		{"client sends the column", `{"id":"1","user_id":"u"}`, nil},
		{"api key", `{"id":"1"}`, []string{"Bearer " + vecs[0].Token}},
		{"garbage token", `{"id":"1"}`, []string{"Bearer abc.def.ghi"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.ingest(t, "Owned", tc.body, tc.authz...)
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("got %s, want 401", r)
			}
			c := credential{name: tc.name, authz: tc.authz}
			if len(tc.authz) > 0 {
				c.token = strings.TrimPrefix(tc.authz[0], "Bearer ")
			}
			checkRefusal(t, r, c)
		})
	}
	if n := s.count(t, "count_owned"); n != 0 {
		t.Errorf("rows in Owned = %d, want 0", n)
	}
}
