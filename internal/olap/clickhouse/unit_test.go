package clickhouse

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/moose-go/moose/internal/config"
	"github.com/moose-go/moose/internal/olap"
)

// Tests in this file need no server.

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in           string
		major, minor int
		legacy       bool
		params       bool
		wantErr      bool
	}{
		{in: "18.16.1\n", major: 18, minor: 16, legacy: true},
		{in: "19.10.1.5", major: 19, minor: 10},
		{in: "19.11.3.11", major: 19, minor: 11, params: true},
		{in: "24.3.1.2672", major: 24, minor: 3, params: true},
		{in: "26.7.3.1-stable", major: 26, minor: 7, params: true},
		{in: "garbage", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			v, err := ParseVersion(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseVersion(%q) = %v, want error", tt.in, v)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Major != tt.major || v.Minor != tt.minor {
				t.Errorf("got %d.%d, want %d.%d", v.Major, v.Minor, tt.major, tt.minor)
			}
			if got := v.Major < 19; got != tt.legacy {
				t.Errorf("legacy = %v, want %v", got, tt.legacy)
			}
			if got := v.AtLeast(19, 11); got != tt.params {
				t.Errorf("AtLeast(19, 11) = %v, want %v", got, tt.params)
			}
		})
	}
}

func TestServerErrorParsing(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header string
		body   string
		code   int
		kind   error
		msg    string
	}{
		{
			name: "18.16 unknown table", status: 404,
			body: "Code: 60, e.displayText() = DB::Exception: Table default.nope doesn't exist., e.what() = DB::Exception\n",
			code: 60, kind: olap.ErrTableNotFound, msg: "Table default.nope doesn't exist.",
		},
		{
			name: "current unknown table", status: 404, header: "60",
			body: "Code: 60. DB::Exception: Table default.nope does not exist. (UNKNOWN_TABLE) (version 24.3.1.2672 (official build))\n",
			code: 60, kind: olap.ErrTableNotFound, msg: "Table default.nope does not exist. (UNKNOWN_TABLE) (version 24.3.1.2672 (official build))",
		},
		{
			name: "18.16 multi-line parse error", status: 400,
			body: "Code: 41, e.displayText() = DB::Exception: Cannot read DateTime: unexpected word: (at row 3)\n, e.what() = DB::Exception\n",
			code: 41, kind: olap.ErrBadQuery, msg: "Cannot read DateTime: unexpected word: (at row 3)",
		},
		{
			name: "unknown field is a 500 on 18.16 but a bad query", status: 500,
			body: "Code: 117, e.displayText() = DB::Exception: Unknown field found while parsing JSONEachRow format: zz: (at row 1)\n, e.what() = DB::Exception",
			code: 117, kind: olap.ErrBadQuery, msg: "Unknown field found while parsing JSONEachRow format: zz: (at row 1)",
		},
		{
			name: "wrong password", status: 401,
			body: "Code: 193, e.displayText() = DB::Exception: Wrong password for user moose_auth, e.what() = DB::Exception",
			code: 193, kind: olap.ErrUnavailable, msg: "Wrong password for user moose_auth",
		},
		{name: "too many parts", status: 500, body: "Code: 252, e.displayText() = DB::Exception: Too many parts (300)", code: 252, kind: olap.ErrUnavailable},
		{name: "proxy 502 without code", status: 502, body: "<html>bad gateway</html>", kind: olap.ErrUnavailable},
		{name: "503 empty", status: 503, body: "", kind: olap.ErrUnavailable, msg: "no message"},
		{name: "plain 400", status: 400, body: "bad", kind: olap.ErrBadQuery},
		{name: "header wins", status: 500, header: "62", body: "Code: 1, odd", code: 62, kind: olap.ErrBadQuery},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := serverError("query", tt.status, tt.header, []byte(tt.body))
			if e.Code != tt.code {
				t.Errorf("code %d, want %d", e.Code, tt.code)
			}
			if !errors.Is(e, tt.kind) {
				t.Errorf("error %v is not %v", e, tt.kind)
			}
			if tt.msg != "" && e.Msg != tt.msg {
				t.Errorf("msg %q, want %q", e.Msg, tt.msg)
			}
			if strings.Contains(e.Error(), "\n") {
				t.Errorf("message has a newline: %q", e.Error())
			}
		})
	}
}

func TestOrderByFromEngine(t *testing.T) {
	tests := []struct {
		engine string
		want   []string
	}{
		{"MergeTree() ORDER BY a SETTINGS index_granularity = 8192", []string{"a"}},
		{"MergeTree() ORDER BY (a, b) SETTINGS index_granularity = 8192", []string{"a", "b"}},
		{"MergeTree() ORDER BY tuple() SETTINGS index_granularity = 8192", []string{}},
		{"MergeTree() PARTITION BY toYYYYMM(d) ORDER BY (`a b`, `c\\`d`) SAMPLE BY x SETTINGS index_granularity = 8192", []string{"a b", "c`d"}},
		{"ReplacingMergeTree(v) ORDER BY (id, toDate(ts))", []string{"id", "toDate(ts)"}},
		{"Memory", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.engine, func(t *testing.T) {
			if got := splitKey(orderByFromEngine(tt.engine)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSplitKey(t *testing.T) {
	tests := []struct {
		key  string
		want []string
	}{
		{"", []string{}},
		{"tuple()", []string{}},
		{"a", []string{"a"}},
		{"a, b", []string{"a", "b"}},
		{"`a, b`, c", []string{"a, b", "c"}},
		{"(a, b)", []string{"a", "b"}},
		{"f(a, b), c", []string{"f(a, b)", "c"}},
		{"(a), (b)", []string{"(a)", "(b)"}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := splitKey(tt.key); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("splitKey(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		want    string
		wantErr string
	}{
		{name: "defaults", o: Options{}, want: "http://localhost:8123"},
		{name: "ssl default port", o: Options{Host: "ch.example", UseSSL: true}, want: "https://ch.example:8443"},
		{name: "host port", o: Options{Host: "::1", Port: 18123}, want: "http://[::1]:18123"},
		{name: "url wins", o: Options{URL: "http://127.0.0.1:1234/prefix?x=1", Host: "other"}, want: "http://127.0.0.1:1234/prefix"},
		{name: "credentials refused", o: Options{URL: "http://u:secret@127.0.0.1:1"}, wantErr: "must not contain credentials"},
		{name: "bad scheme", o: Options{URL: "tcp://127.0.0.1:9000"}, wantErr: "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := baseURL(tt.o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.String() != tt.want {
				t.Errorf("got %s, want %s", u, tt.want)
			}
		})
	}
}

func TestOptionsFromConfig(t *testing.T) {
	c := config.Default().ClickHouse
	c.Password = "pw"
	c.UseSSL = true
	o := OptionsFromConfig(c)
	want := Options{Host: "localhost", Port: 18123, UseSSL: true, User: "default", Password: "pw", Database: "local"}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got %+v, want %+v", o, want)
	}
}
