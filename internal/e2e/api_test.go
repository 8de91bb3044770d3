package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/golang-jwt/jwt/v5"
)

// The consumption scope end to end: SPEC section 3's table for
// /api/* and /consumption/*, parameter binding and its errors, claim-bound
// parameters, injection safety, JSON types, engine errors, and the CLI
// commands that read data (ls, peek, query).

const (
	caIssuer   = "https://issuer.consumption.e2e/"
	caAudience = "moose-consumption-e2e"
)

// caModels is the project of every test in this file.
const caModels = `
[[data_model]]
name = "Event"
order_by = ["id"]
  [[data_model.columns]]
  name = "id"
  type = "String"
  key = true
  [[data_model.columns]]
  name = "path"
  type = "String"
  [[data_model.columns]]
  name = "owner"
  type = "String"
  [[data_model.columns]]
  name = "n"
  type = "Int64"
  [[data_model.columns]]
  name = "u"
  type = "UInt64"
  [[data_model.columns]]
  name = "ts"
  type = "DateTime"
  [[data_model.columns]]
  name = "d"
  type = "Float64"
  required = false

[[api]]
name = "count_events"
sql = "SELECT count() AS n FROM Event"

[[api]]
name = "echo"
sql = "SELECT {s:String} AS s, length({s:String}) AS len"

[[api]]
name = "by_path"
sql = "SELECT id, path FROM Event WHERE path = {p:String} ORDER BY id"

[[api]]
name = "typed"
sql = """
SELECT {num:Int32} AS num, {day:Date} AS day, {when:DateTime} AS when, {flag:Bool} AS flag,
       {big:UInt64} AS big
"""
  [[api.params]]
  name = "num"
  min = "-5"
  max = "100"
  [[api.params]]
  name = "flag"
  default = "false"
  [[api.params]]
  name = "big"
  default = "18446744073709551615"
  [[api.params]]
  name = "when"
  default = "2024-01-02 03:04:05"
  min = "2000-01-01 00:00:00"

[[api]]
name = "arrays"
sql = "SELECT {tags:Array(String)} AS tags, {nums:Array(UInt32)} AS nums, length({tags:Array(String)}) AS n"
  [[api.params]]
  name = "nums"
  default = "[]"

[[api]]
name = "mine"
sql = "SELECT id, owner FROM Event WHERE owner = {me:String} ORDER BY id"
  [[api.params]]
  name = "me"
  jwt_claim = "sub"

[[api]]
name = "extremes"
sql = """
SELECT toInt64(-9223372036854775808) AS i64min, toInt64(9223372036854775807) AS i64max,
       toUInt64(18446744073709551615) AS u64max, CAST(NULL AS Nullable(Int32)) AS nul,
       toDateTime('2024-01-02 03:04:05', 'UTC') AS dt,
       toDateTime64('2024-01-02 03:04:05.123', 3, 'UTC') AS dt64,
       [toDateTime('2030-05-06 07:08:09', 'UTC')] AS dts,
       toFloat64(1.5) AS f, true AS b, 'x' AS s, [1, 2] AS arr
"""

[[api]]
name = "boom"
sql = "SELECT throwIf({x:UInt8} = 1, 'kaboom-secret-detail') AS ok"
`

// caJWT is an RSA key pair the server trusts.
type caJWT struct {
	key    *rsa.PrivateKey
	pubPEM string
}

var caKeyOnce = sync.OnceValues(func() (*caJWT, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	return &caJWT{key: k, pubPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}, nil
})

func caKey(t *testing.T) *caJWT {
	t.Helper()
	k, err := caKeyOnce()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// toml is a [jwt] table trusting the key.
func (k *caJWT) toml(enforceConsumption bool) string {
	return fmt.Sprintf("[jwt]\nsecret = \"\"\"\n%s\"\"\"\nissuer = %q\naudience = %q\nenforce_on_all_consumptions_apis = %t\n",
		k.pubPEM, caIssuer, caAudience, enforceConsumption)
}

// bearer is an Authorization header with a valid RS256 token for sub.
func (k *caJWT) bearer(t *testing.T, sub string) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{"iss": caIssuer, "aud": caAudience, "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(k.key)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + s
}

// expiredBearer is a correctly signed token that expired an hour ago.
func (k *caJWT) expiredBearer(t *testing.T) string {
	t.Helper()
	past := time.Now().Add(-2 * time.Hour)
	c := jwt.MapClaims{"iss": caIssuer, "aud": caAudience, "sub": "alice", "iat": past.Unix(), "exp": past.Add(time.Hour).Unix()}
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(k.key)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + s
}

// caGet sends GET path (a raw path and query) and returns the reply.
func caGet(t *testing.T, s *server, rawPath string, authz ...string) reply {
	t.Helper()
	return s.do(t, http.MethodGet, rawPath, nil, authz...)
}

// caRows decodes a 200 reply as rows, numbers kept exact.
func caRows(t *testing.T, r reply) []map[string]any {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("want 200, got %s", r)
	}
	var rows []map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("not a JSON array of objects: %v\n%s", err, r.Body)
	}
	return rows
}

// caError decodes an error reply's {"error": ...}.
func caError(t *testing.T, r reply) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil || e.Error == "" {
		t.Fatalf("want a JSON error body, got %s", r)
	}
	return e.Error
}

// The main server: JWT configured (enforce false) and a consumption API
// key, so JWT and API-key callers both get in (SPEC row 2); ingest needs a
// JWT; the admin token is set for the CLI.
type caSetup struct {
	s                *server
	jwt              *caJWT
	apiKey, adminTok string // Authorization values
	admin            hashVector
}

func startCA(t *testing.T) *caSetup {
	t.Helper()
	requireEngine(t)
	k := caKey(t)
	vecs := loadVectors(t)
	s := startServer(t, serverOpts{
		Models: map[string]string{"models.toml": caModels},
		Config: k.toml(false),
		Env:    []string{"MOOSE_CONSUMPTION_API_KEY=" + vecs[0].Hash, "MOOSE_ADMIN_TOKEN=" + vecs[1].Hash},
	})
	return &caSetup{s: s, jwt: k, apiKey: "Bearer " + vecs[0].Token, admin: vecs[1]}
}

// seed stores three rows: two of alice's, one of bob's, with awkward paths.
func (c *caSetup) seed(t *testing.T) {
	t.Helper()
	body := `[
	 {"id":"1","path":"/a'b\"c\\d","owner":"alice","n":-9223372036854775808,"u":18446744073709551615,"ts":"2024-01-01T10:00:00Z","d":null},
	 {"id":"2","path":"/x","owner":"alice","n":9223372036854775807,"u":0,"ts":"2024-01-01 10:00:05","d":35.5},
	 {"id":"3","path":"/x","owner":"bob","n":0,"u":1,"ts":"2106-02-07T06:28:15Z"}]`
	if r := c.s.ingest(t, "Event", body, c.jwt.bearer(t, "alice")); r.Status != http.StatusOK {
		t.Fatalf("seeding: %s", r)
	}
}

// TestConsumptionAuthModes: SPEC section 3's table for the consumption
// scope, one server per row.
func TestConsumptionAuthModes(t *testing.T) {
	requireEngine(t)
	k := caKey(t)
	vecs := loadVectors(t)
	key := "Bearer " + vecs[0].Token
	other := "Bearer " + vecs[2].Token // a valid token of another configured scope's shape, not this key
	type want map[string]int           // credential name -> status
	rows := []struct {
		name   string
		config string
		env    []string
		want   want
	}{
		{"jwt enforced, key set: JWT only", k.toml(true), []string{"MOOSE_CONSUMPTION_API_KEY=" + vecs[0].Hash},
			want{"none": 401, "jwt": 200, "key": 401, "wrong key": 401, "expired jwt": 401, "garbage": 401}},
		{"jwt enforced, no key: JWT only", k.toml(true), nil,
			want{"none": 401, "jwt": 200, "key": 401, "expired jwt": 401}},
		{"jwt not enforced, key set: JWT else key", k.toml(false), []string{"MOOSE_CONSUMPTION_API_KEY=" + vecs[0].Hash},
			want{"none": 401, "jwt": 200, "key": 200, "wrong key": 401, "expired jwt": 401, "garbage": 401}},
		{"jwt not enforced, no key: JWT only", k.toml(false), nil,
			want{"none": 401, "jwt": 200, "key": 401, "expired jwt": 401}},
		{"no jwt, key set: key only", "", []string{"MOOSE_CONSUMPTION_API_KEY=" + vecs[0].Hash},
			want{"none": 401, "jwt": 401, "key": 200, "wrong key": 401, "garbage": 401}},
		{"no jwt, no key: open in dev", "", nil,
			want{"none": 200, "jwt": 200, "key": 200, "garbage": 200}},
	}
	creds := map[string][]string{
		"none": nil, "jwt": {k.bearer(t, "alice")}, "key": {key}, "wrong key": {other},
		"expired jwt": {k.expiredBearer(t)}, "garbage": {"Bearer not-a-token"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, serverOpts{Models: map[string]string{"models.toml": caModels}, Config: row.config, Env: row.env})
			for cred, status := range row.want {
				for _, root := range []string{"/api/", "/consumption/"} {
					r := caGet(t, s, root+"count_events", creds[cred]...)
					if r.Status != status {
						t.Errorf("%s with %s: got %s, want %d", root, cred, r, status)
						continue
					}
					if status == http.StatusUnauthorized {
						if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
							t.Errorf("%s with %s: 401 without WWW-Authenticate: Bearer", root, cred)
						}
						if r.Header.Get("Access-Control-Allow-Origin") == "" {
							t.Errorf("%s with %s: 401 without CORS headers", root, cred)
						}
						for _, tok := range creds[cred] {
							if bytes.Contains(r.Body, []byte(strings.TrimPrefix(tok, "Bearer "))) {
								t.Errorf("%s with %s: the 401 echoes the token", root, cred)
							}
						}
					}
				}
			}
			if row.config == "" && row.env == nil && !strings.Contains(s.Out.String(), "unauthenticated") {
				t.Error("open dev server: no warning in the log")
			}
		})
	}
}

// TestConsumptionParams: every binding error is a 400 that names the
// parameter; arrays come from repeated keys; defaults and bounds apply.
func TestConsumptionParams(t *testing.T) {
	c := startCA(t)
	s, key := c.s, c.apiKey
	base := "num=7&day=2024-02-29&flag=true"
	errCases := []struct {
		name, query, param string
	}{
		{"unknown param", base + "&zzz_unknown=1", "zzz_unknown"},
		{"missing required", "day=2024-02-29", "num"},
		{"missing required date", "num=1", "day"},
		{"wrong type int", "num=abc&day=2024-02-29", "num"},
		{"float for int", "num=1.5&day=2024-02-29", "num"},
		{"int32 overflow", "num=99999999999&day=2024-02-29", "num"},
		{"below min", "num=-6&day=2024-02-29", "num"},
		{"above max", "num=101&day=2024-02-29", "num"},
		{"bad date", "num=1&day=2024-13-01", "day"},
		{"not a leap day", "num=1&day=2023-02-29", "day"},
		{"date before 1970", "num=1&day=1969-12-31", "day"},
		{"bad datetime", "num=1&day=2024-02-29&when=yesterday", "when"},
		{"datetime below min", "num=1&day=2024-02-29&when=1999-12-31T23:59:59Z", "when"},
		{"bad bool", "num=1&day=2024-02-29&flag=yes", "flag"},
		{"uint64 overflow", "num=1&day=2024-02-29&big=18446744073709551616", "big"},
		{"negative uint64", "num=1&day=2024-02-29&big=-1", "big"},
		{"repeated non-array", "num=1&num=2&day=2024-02-29", "num"},
		{"empty value", "num=&day=2024-02-29", "num"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			r := caGet(t, s, "/api/typed?"+tc.query, key)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("got %s, want 400", r)
			}
			if msg := caError(t, r); !strings.Contains(msg, `"`+tc.param+`"`) {
				t.Errorf("error %q does not name parameter %q", msg, tc.param)
			}
		})
	}
	t.Run("malformed query string", func(t *testing.T) {
		if r := caGet(t, s, "/api/typed?num=%zz&day=2024-02-29", key); r.Status != http.StatusBadRequest {
			t.Errorf("got %s, want 400", r)
		}
	})
	t.Run("valid with defaults", func(t *testing.T) {
		rows := caRows(t, caGet(t, s, "/api/typed?num=-5&day=2024-02-29", key))
		want := map[string]any{"num": json.Number("-5"), "day": "2024-02-29", "when": "2024-01-02T03:04:05Z",
			"flag": false, "big": json.Number("18446744073709551615")}
		if len(rows) != 1 || fmt.Sprint(rows[0]) != fmt.Sprint(want) {
			t.Errorf("got %v, want %v", rows, want)
		}
	})
	t.Run("valid, every value given, on /consumption", func(t *testing.T) {
		q := url.Values{"num": {"100"}, "day": {"2149-06-06"}, "when": {"2024-05-06T07:08:09+02:00"}, "flag": {"1"}, "big": {"0"}}
		rows := caRows(t, caGet(t, s, "/consumption/typed?"+q.Encode(), key))
		want := map[string]any{"num": json.Number("100"), "day": "2149-06-06", "when": "2024-05-06T05:08:09Z",
			"flag": true, "big": json.Number("0")}
		if len(rows) != 1 || fmt.Sprint(rows[0]) != fmt.Sprint(want) {
			t.Errorf("got %v, want %v", rows, want)
		}
	})
	t.Run("arrays from repeated keys", func(t *testing.T) {
		rows := caRows(t, caGet(t, s, "/api/arrays?tags=a&tags=b%2Cc&tags=&nums=1&nums=4294967295", key))
		got, _ := json.Marshal(rows)
		if string(got) != `[{"n":3,"nums":[1,4294967295],"tags":["a","b,c",""]}]` {
			t.Errorf("got %s", got)
		}
		rows = caRows(t, caGet(t, s, "/api/arrays?tags=only", key))
		got, _ = json.Marshal(rows)
		if string(got) != `[{"n":1,"nums":[],"tags":["only"]}]` {
			t.Errorf("default array: got %s", got)
		}
		for _, q := range []string{"tags=a&nums=x", "tags=a&nums=-1", "tags=a&nums=4294967296"} {
			r := caGet(t, s, "/api/arrays?"+q, key)
			if r.Status != http.StatusBadRequest || !strings.Contains(caError(t, r), `"nums"`) {
				t.Errorf("%s: got %s, want 400 naming nums", q, r)
			}
		}
		if r := caGet(t, s, "/api/arrays", key); r.Status != http.StatusBadRequest || !strings.Contains(caError(t, r), `"tags"`) {
			t.Errorf("missing array: got %s", r)
		}
	})
	t.Run("unknown api", func(t *testing.T) {
		if r := caGet(t, s, "/api/nope", key); r.Status != http.StatusNotFound {
			t.Errorf("got %s, want 404", r)
		}
	})
}

// TestConsumptionClaims: a claim-bound parameter comes from the verified
// token only.
func TestConsumptionClaims(t *testing.T) {
	c := startCA(t)
	c.seed(t)
	s := c.s
	alice, bob := c.jwt.bearer(t, "alice"), c.jwt.bearer(t, "bob")
	ids := func(rows []map[string]any) []string {
		var out []string
		for _, r := range rows {
			out = append(out, fmt.Sprint(r["id"], ":", r["owner"]))
		}
		return out
	}
	if got := ids(caRows(t, caGet(t, s, "/api/mine", alice))); !slices.Equal(got, []string{"1:alice", "2:alice"}) {
		t.Errorf("alice sees %v", got)
	}
	if got := ids(caRows(t, caGet(t, s, "/consumption/mine", bob))); !slices.Equal(got, []string{"3:bob"}) {
		t.Errorf("bob sees %v", got)
	}
	if got := ids(caRows(t, caGet(t, s, "/api/mine", c.jwt.bearer(t, "' OR 1=1 --")))); len(got) != 0 {
		t.Errorf("a sub that looks like SQL sees %v", got)
	}
	for _, q := range []string{"me=bob", "me=alice", "me="} {
		r := caGet(t, s, "/api/mine?"+q, alice)
		if r.Status != http.StatusBadRequest || !strings.Contains(caError(t, r), `"me"`) {
			t.Errorf("?%s: got %s, want 400 naming me", q, r)
		}
	}
	r := caGet(t, s, "/api/mine", c.apiKey)
	if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("API-key caller: got %s, want 401 with WWW-Authenticate", r)
	}
	if r := caGet(t, s, "/api/mine"); r.Status != http.StatusUnauthorized {
		t.Errorf("no credential: got %s, want 401", r)
	}
	// The same API-key caller reads APIs without claims.
	if n := s.count(t, "count_events", c.apiKey); n != 3 {
		t.Errorf("count_events = %d, want 3", n)
	}
}

// TestConsumptionInjection: string parameters are data, never SQL.
func TestConsumptionInjection(t *testing.T) {
	c := startCA(t)
	c.seed(t)
	s, key := c.s, c.apiKey
	inputs := []string{
		`'`, `''`, `"`, `\`, `\'`, `\\'`, `'; DROP TABLE Event; --`, `' OR '1'='1`,
		`{x:String}`, `{s:String}`, `{p:String}'`, `-- comment`, `/* c */ 1`, `*/`, "a\x00b", "\x00",
		"line\nbreak\r\ttab", "日本語 🦆", "`backtick`", "%00", "a+b c", strings.Repeat("x", 5000),
	}
	for _, in := range inputs {
		q := url.Values{"s": {in}}.Encode()
		r := caGet(t, s, "/api/echo?"+q, key)
		rows := caRows(t, r)
		if len(rows) != 1 || rows[0]["s"] != in {
			t.Errorf("echo %q: got %v", in, rows)
			continue
		}
		if asInt(t, rows[0]["len"]) != int64(len(in)) {
			t.Errorf("echo %q: length %v, want %d bytes", in, rows[0]["len"], len(in))
		}
	}
	t.Run("invalid UTF-8", func(t *testing.T) {
		for _, raw := range []string{"%FF", "a%C3", "%ED%A0%80"} {
			r := caGet(t, s, "/api/echo?s="+raw, key)
			if r.Status != http.StatusBadRequest || !strings.Contains(caError(t, r), `"s"`) {
				t.Errorf("s=%s: got %s, want 400 naming s", raw, r)
			}
		}
	})
	t.Run("where clause", func(t *testing.T) {
		for _, p := range []string{`' OR '1'='1`, `/x' --`, `/x'; DROP TABLE Event; --`, `%`, `/a'b"c\\d`} {
			if rows := caRows(t, caGet(t, s, "/api/by_path?"+url.Values{"p": {p}}.Encode(), key)); len(rows) != 0 {
				t.Errorf("p=%q matched %v", p, rows)
			}
		}
		rows := caRows(t, caGet(t, s, "/api/by_path?"+url.Values{"p": {`/a'b"c\d`}}.Encode(), key))
		if len(rows) != 1 || rows[0]["id"] != "1" || rows[0]["path"] != `/a'b"c\d` {
			t.Errorf("the exact path: got %v", rows)
		}
		if n := s.count(t, "count_events", key); n != 3 {
			t.Errorf("after the attempts the table has %d rows, want 3", n)
		}
	})
}

// TestConsumptionJSONTypes: 64-bit extremes are exact JSON numbers, NULL is
// null, DateTime is RFC 3339 UTC.
func TestConsumptionJSONTypes(t *testing.T) {
	c := startCA(t)
	r := caGet(t, c.s, "/api/extremes", c.apiKey)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	rows := caRows(t, r)
	want := `[{"arr":[1,2],"b":true,"dt":"2024-01-02T03:04:05Z","dt64":"2024-01-02T03:04:05.123Z","dts":["2030-05-06T07:08:09Z"],` +
		`"f":1.5,"i64max":9223372036854775807,"i64min":-9223372036854775808,"nul":null,"s":"x","u64max":18446744073709551615}]`
	got, _ := json.Marshal(rows)
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, raw := range []string{`"i64min":-9223372036854775808`, `"u64max":18446744073709551615`, `"nul":null`} {
		if !bytes.Contains(r.Body, []byte(raw)) {
			t.Errorf("body lacks %s: %s", raw, r.Body)
		}
	}
	// Columns keep the query's order.
	if i, j := bytes.Index(r.Body, []byte(`"i64min"`)), bytes.Index(r.Body, []byte(`"arr"`)); i < 0 || j < i {
		t.Errorf("columns out of order: %s", r.Body)
	}

	c.seed(t)
	rows = caRows(t, caGet(t, c.s, "/api/by_path?p=%2Fx", c.apiKey))
	if len(rows) != 2 {
		t.Fatalf("by_path /x: %v", rows)
	}
}

// TestConsumptionEngineError: a query that fails in the engine is a 500
// with a request ID and no SQL or engine detail.
func TestConsumptionEngineError(t *testing.T) {
	c := startCA(t)
	if rows := caRows(t, caGet(t, c.s, "/api/boom?x=0", c.apiKey)); len(rows) != 1 {
		t.Fatalf("x=0: %v", rows)
	}
	r := caGet(t, c.s, "/api/boom?x=1", c.apiKey)
	if r.Status != http.StatusInternalServerError {
		t.Fatalf("got %s, want 500", r)
	}
	var body map[string]string
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("body: %v (%s)", err, r.Body)
	}
	if body["request_id"] == "" || body["request_id"] != r.Header.Get("X-Request-Id") {
		t.Errorf("request_id %q, X-Request-Id %q", body["request_id"], r.Header.Get("X-Request-Id"))
	}
	for _, leak := range []string{"kaboom", "throwIf", "SELECT", "Code:", "DB::Exception"} {
		if bytes.Contains(r.Body, []byte(leak)) {
			t.Errorf("the 500 body leaks %q: %s", leak, r.Body)
		}
	}
	// The log line (with the engine's detail, for operators) carries the ID;
	// it may be written just after the response.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(c.s.Out.String(), "request_id="+body["request_id"]) {
		if time.Now().After(deadline) {
			t.Fatal("the server log does not carry the request_id")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOpenAPIServed: the management port serves a valid document listing
// every route.
func TestOpenAPIServed(t *testing.T) {
	c := startCA(t)
	resp, err := client.Get(c.s.MgmtURL + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("got %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	doc, err := openapi3.NewLoader().LoadFromData(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid document: %v", err)
	}
	for _, p := range []string{"/ingest/Event", "/api/echo", "/consumption/echo", "/api/mine", "/api/typed", "/api/extremes"} {
		if doc.Paths.Find(p) == nil {
			t.Errorf("no path %s", p)
		}
	}
	if got := len(doc.Paths.Map()); got != 1+2*8 {
		t.Errorf("%d paths, want 17", got)
	}
	if mine := doc.Paths.Find("/api/mine").Get; len(mine.Parameters) != 0 {
		t.Errorf("the claim-bound param is listed: %v", mine.Parameters)
	}
	// The main port does not serve it.
	if r := caGet(t, c.s, "/openapi.yaml", c.apiKey); r.Status != http.StatusNotFound {
		t.Errorf("main port /openapi.yaml: %s", r)
	}
	// The CLI writes the same document.
	code, out, errOut := caCLI(t, c.s.Dir, nil, "generate", "openapi")
	if code != 0 || out != b.String() {
		t.Errorf("moose generate openapi: exit %d (%s); equal to the served one: %v", code, errOut, out == b.String())
	}
}

// caCLI runs the moose binary in dir (the test's environment without
// MOOSE_* variables, plus env) and returns its exit code and output.
func caCLI(t *testing.T, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mooseBin, args...)
	cmd.Dir = dir
	cmd.Env = environ(serverOpts{LogLevel: "error", Env: env})
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("moose %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return code, out.String(), errb.String()
}

// TestCLIInspect: moose ls, peek and query against a running server (with
// the admin token), then query with no server (the engine directly).
func TestCLIInspect(t *testing.T) {
	c := startCA(t)
	c.seed(t)
	dir, tok := c.s.Dir, c.admin.Token
	oneLine := func(t *testing.T, code int, errOut string, want ...string) {
		t.Helper()
		if code != 1 || strings.Count(errOut, "\n") != 1 {
			t.Errorf("want exit 1 with one line, got %d: %q", code, errOut)
		}
		for _, w := range want {
			if !strings.Contains(errOut, w) {
				t.Errorf("stderr %q lacks %q", errOut, w)
			}
		}
		if strings.Contains(errOut, tok) {
			t.Error("the token was echoed")
		}
	}

	t.Run("ls", func(t *testing.T) {
		code, out, errOut := caCLI(t, dir, []string{"MOOSE_CONSUMPTION_API_KEY=" + loadVectors(t)[0].Hash}, "ls")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, w := range []string{"POST    /ingest/Event", "GET     /consumption/mine", "mine", "sub",
			"Event", "Nullable(Float64)", "consumption  jwt_or_api_key", "ingest       jwt", "admin        closed"} {
			if !strings.Contains(out, w) {
				t.Errorf("ls output lacks %q:\n%s", w, out)
			}
		}
		code, out, _ = caCLI(t, dir, nil, "ls", "--json")
		var v struct {
			Routes []map[string]any
			Auth   map[string]string
		}
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil || len(v.Routes) != 1+2*8 {
			t.Errorf("ls --json: exit %d, %d routes:\n%s", code, len(v.Routes), out)
		}
	})
	t.Run("peek via the server", func(t *testing.T) {
		code, out, errOut := caCLI(t, dir, []string{"MOOSE_ADMIN_TOKEN=" + tok}, "peek", "event", "-n", "2", "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var rows []map[string]any
		if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 2 {
			t.Fatalf("peek --json: %v\n%s", err, out)
		}
		code, out, errOut = caCLI(t, dir, nil, "peek", "Event", "--token", tok)
		if code != 0 || !strings.Contains(out, "(3 rows)") || !strings.Contains(out, "18446744073709551615") ||
			!strings.Contains(out, "2106-02-07T06:28:15Z") || !strings.Contains(out, "NULL") {
			t.Errorf("peek: exit %d (%s)\n%s", code, errOut, out)
		}
		code, _, errOut = caCLI(t, dir, nil, "peek", "Event")
		oneLine(t, code, errOut, "--token", "MOOSE_ADMIN_TOKEN")
		code, _, errOut = caCLI(t, dir, nil, "peek", "Nope", "--token", tok)
		oneLine(t, code, errOut, "Nope", "Event")
		code, _, errOut = caCLI(t, dir, nil, "peek", "Event", "--token", "0123.4567")
		oneLine(t, code, errOut, "401")
	})
	t.Run("query via the server", func(t *testing.T) {
		code, out, errOut := caCLI(t, dir, []string{"MOOSE_ADMIN_TOKEN=" + tok}, "query",
			"SELECT owner, count() AS cnt, min(n) AS lo FROM Event GROUP BY owner ORDER BY owner", "--json")
		want := "[\n  {\"owner\": \"alice\", \"cnt\": 2, \"lo\": -9223372036854775808},\n  {\"owner\": \"bob\", \"cnt\": 1, \"lo\": 0}\n]\n"
		if code != 0 || out != want {
			t.Errorf("exit %d (%s)\ngot  %q\nwant %q", code, errOut, out, want)
		}
		code, _, errOut = caCLI(t, dir, []string{"MOOSE_ADMIN_TOKEN=" + tok}, "query", "DROP TABLE Event")
		oneLine(t, code, errOut, "read-only")
		code, _, errOut = caCLI(t, dir, []string{"MOOSE_ADMIN_TOKEN=" + tok}, "query", "SELECT * FROM NoSuchTable")
		oneLine(t, code, errOut, "400")
	})
	t.Run("engine in use", func(t *testing.T) {
		// The CLI looks for the server on another port, finds none, and the
		// engine refuses a second process.
		code, _, errOut := caCLI(t, dir, []string{"MOOSE_HTTP_SERVER_CONFIG__PORT=1"}, "query", "SELECT 1")
		oneLine(t, code, errOut, "in use", "--token")
	})

	if code := c.s.stop(15 * time.Second); code != 0 {
		t.Fatalf("the server exited %d", code)
	}
	t.Run("query with no server", func(t *testing.T) {
		code, out, errOut := caCLI(t, dir, nil, "query", "SELECT id, path, ts, d FROM Event ORDER BY id")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		want := "id  path      ts                    d\n" +
			"1   /a'b\"c\\d  2024-01-01T10:00:00Z  NULL\n" +
			"2   /x        2024-01-01T10:00:05Z  35.5\n" +
			"3   /x        2106-02-07T06:28:15Z  NULL\n" +
			"(3 rows)\n"
		if out != want {
			t.Errorf("got\n%s\nwant\n%s", out, want)
		}
		code, out, errOut = caCLI(t, dir, nil, "peek", "Event", "-n", "1", "--json")
		if code != 0 || strings.Count(out, "{") != 1 {
			t.Errorf("peek with no server: exit %d (%s)\n%s", code, errOut, out)
		}
		code, _, errOut = caCLI(t, dir, nil, "query", "SELECT * FROM NoSuchTable")
		oneLine(t, code, errOut, "NoSuchTable")
	})
}
