package clickhouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/moose-go/moose/internal/config"
	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/olap/chsql"
)

// Options configure Open. Zero values take the documented defaults.
type Options struct {
	// URL is the server's HTTP endpoint, e.g. "http://127.0.0.1:8123". When
	// empty it is built from Host, Port and UseSSL. It must not carry
	// credentials; use User and Password.
	URL    string
	Host   string // default "localhost"
	Port   int    // default 8123, or 8443 with UseSSL
	UseSSL bool

	User     string // default "default"
	Password string // sent only in the X-ClickHouse-Key header
	// Database is created on Open when missing and is the default database
	// of every request. Default "local".
	Database string

	// Logger receives the detected version (Info) and nothing per request.
	// Default: discard.
	Logger *slog.Logger
	// HTTPClient is used as is when set. By default the store owns a client
	// whose idle connections close before the server's keep-alive timeout.
	HTTPClient *http.Client

	// forceLiterals renders parameters as literals even when the server can
	// bind them (tests only).
	forceLiterals bool
}

// OptionsFromConfig maps [clickhouse_config] to Options.
func OptionsFromConfig(c config.ClickHouseConfig) Options {
	return Options{
		Host:     c.Host,
		Port:     c.HostPort,
		UseSSL:   c.UseSSL,
		User:     c.User,
		Password: c.Password.Reveal(),
		Database: c.DBName,
	}
}

// Version is a server version, e.g. 18.16.1.
type Version struct {
	Major, Minor int
	Text         string // as the server reports it
}

// AtLeast reports whether v >= major.minor.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

func (v Version) String() string { return v.Text }

var versionRE = regexp.MustCompile(`^(\d+)\.(\d+)`)

// ParseVersion reads "major.minor[...]".
func ParseVersion(s string) (Version, error) {
	s = strings.TrimSpace(s)
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("unrecognised ClickHouse version %q", s)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return Version{Major: major, Minor: minor, Text: s}, nil
}

// Store is an olap.Store over one ClickHouse server database.
type Store struct {
	base     *url.URL
	user     string
	password string
	db       string
	log      *slog.Logger
	client   *http.Client
	own      *http.Transport // non-nil when the store made the client

	version   Version
	dialect   chsql.Dialect
	useParams bool // server binds param_<name> (>= 19.11)
	extra     url.Values

	closed atomic.Bool
}

var (
	_ olap.Store  = (*Store)(nil)
	_ olap.Pinger = (*Store)(nil)
)

// Open connects, detects the server version and creates the database.
func Open(ctx context.Context, o Options) (*Store, error) {
	base, err := baseURL(o)
	if err != nil {
		return nil, err
	}
	s := &Store{
		base:     base,
		user:     o.User,
		password: o.Password,
		db:       o.Database,
		log:      o.Logger,
		client:   o.HTTPClient,
	}
	if s.user == "" {
		s.user = "default"
	}
	if s.db == "" {
		s.db = "local"
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.client == nil {
		s.own = newTransport(2 * time.Second)
		s.client = &http.Client{Transport: s.own}
	}

	// The version, without a database (it may not exist yet).
	body, hdr, err := s.send(ctx, "open", request{body: "SELECT version(), timezone()", noDB: true, readonly: true})
	if err != nil {
		s.closeIdle()
		return nil, err
	}
	s.tuneKeepAlive(hdr)
	ver, tz, _ := strings.Cut(strings.TrimSpace(string(body)), "\t")
	if s.version, err = ParseVersion(ver); err != nil {
		s.closeIdle()
		return nil, &Error{Op: "open", Msg: err.Error(), Kind: olap.ErrUnavailable}
	}
	s.dialect = chsql.Modern
	if s.version.Major < 19 {
		s.dialect = chsql.Legacy18
	}
	// Query parameters arrived in 19.11.3 ("prepared statements").
	s.useParams = s.version.AtLeast(19, 11) && !o.forceLiterals
	s.extra = url.Values{}
	if tz != "UTC" {
		// DateTime text in results is documented as UTC.
		if s.version.AtLeast(23, 6) {
			s.extra.Set("session_timezone", "UTC")
		} else {
			s.log.Warn("ClickHouse server time zone is not UTC: DateTime values will be read and written in it",
				"timezone", tz)
		}
	}

	if _, _, err := s.send(ctx, "open", request{body: "CREATE DATABASE IF NOT EXISTS " + chsql.QuoteIdent(s.db), noDB: true}); err != nil {
		s.closeIdle()
		return nil, err
	}
	s.log.Info("connected to ClickHouse", "url", s.base.Redacted(), "version", s.version.Text,
		"database", s.db, "legacy", s.dialect.Legacy, "server_params", s.useParams)
	return s, nil
}

func baseURL(o Options) (*url.URL, error) {
	raw := o.URL
	if raw == "" {
		host := o.Host
		if host == "" {
			host = "localhost"
		}
		scheme, port := "http", o.Port
		if o.UseSSL {
			scheme = "https"
		}
		if port == 0 {
			port = 8123
			if o.UseSSL {
				port = 8443
			}
		}
		raw = scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port))
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error repeats the input; it has no credentials by
		// contract, but say less anyway.
		return nil, fmt.Errorf("clickhouse: bad URL: %w", errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("clickhouse: URL scheme must be http or https, not %q", u.Scheme)
	}
	if u.User != nil {
		return nil, errors.New("clickhouse: URL must not contain credentials: set User and Password")
	}
	if u.Host == "" {
		return nil, errors.New("clickhouse: URL has no host")
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

func newTransport(idle time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 64
	t.MaxIdleConnsPerHost = 16
	t.IdleConnTimeout = idle
	t.ResponseHeaderTimeout = 0 // long queries are bounded by ctx
	return t
}

// tuneKeepAlive closes idle connections a second before the server would
// (it announces "Keep-Alive: timeout=N"; 18.16 defaults to 3 s), so Go never
// writes a request to a connection the server is closing.
func (s *Store) tuneKeepAlive(h http.Header) {
	if s.own == nil {
		return
	}
	for _, part := range strings.Split(h.Get("Keep-Alive"), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.EqualFold(k, "timeout") {
			continue
		}
		if n, err := strconv.Atoi(v); err == nil && n >= 2 {
			// A new transport rather than a field write: the old one's
			// connection goroutines may still read its settings.
			s.own.CloseIdleConnections()
			s.own = newTransport(time.Duration(n-1) * time.Second)
			s.client = &http.Client{Transport: s.own}
		}
		return
	}
}

// Version is the server version detected by Open.
func (s *Store) Version() Version { return s.version }

// Dialect is the SQL dialect chosen for the server.
func (s *Store) Dialect() chsql.Dialect { return s.dialect }

// Database is the store's database.
func (s *Store) Database() string { return s.db }

// Close releases idle connections. Later calls fail with olap.ErrClosed.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.closeIdle()
	return nil
}

func (s *Store) closeIdle() {
	if s.own != nil {
		s.own.CloseIdleConnections()
	}
}

// Ping checks that the server answers /ping.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("clickhouse ping: %w", olap.ErrClosed)
	}
	u := *s.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/ping"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("clickhouse ping: %w", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return transportError(ctx, "ping", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(b, []byte("Ok.")) {
		return &Error{Op: "ping", Status: resp.StatusCode, Msg: cleanMessage(string(b)), Kind: olap.ErrUnavailable}
	}
	return nil
}

// request is one HTTP call to the server.
type request struct {
	// query goes in the URL (INSERT ... FORMAT with the data as the body);
	// otherwise body is the SQL text.
	query    string
	body     string
	data     []byte // gzip-compressed request body (inserts)
	settings url.Values
	noDB     bool // do not set the default database
	readonly bool // readonly=2: reads and settings only
}

// send runs r and returns the response body (and headers) of a 2xx answer.
func (s *Store) send(ctx context.Context, op string, r request) ([]byte, http.Header, error) {
	if s.closed.Load() {
		return nil, nil, fmt.Errorf("clickhouse %s: %w", op, olap.ErrClosed)
	}
	q := url.Values{}
	for k, vs := range s.extra {
		q[k] = vs
	}
	for k, vs := range r.settings {
		q[k] = vs
	}
	if !r.noDB {
		q.Set("database", s.db)
	}
	if r.readonly {
		q.Set("readonly", "2")
	}
	var body io.Reader
	if r.query != "" {
		q.Set("query", r.query)
		body = bytes.NewReader(r.data)
	} else {
		body = strings.NewReader(r.body)
	}
	u := *s.base
	if u.Path == "" {
		u.Path = "/"
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), body)
	if err != nil {
		return nil, nil, fmt.Errorf("clickhouse %s: %w", op, err)
	}
	req.Header.Set("X-ClickHouse-User", s.user)
	if s.password != "" {
		req.Header.Set("X-ClickHouse-Key", s.password)
	}
	if r.data != nil {
		req.Header.Set("Content-Encoding", "gzip")
		req.Header.Set("Content-Type", "application/x-ndjson")
	} else {
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		if r.readonly {
			// Lets net/http resend a read on a reused connection that the
			// server closed (a read is safe to repeat).
			// A nil value marks it without sending the header.
			req.Header["Idempotency-Key"] = nil
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, transportError(ctx, op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, transportError(ctx, op, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, nil, serverError(op, resp.StatusCode, resp.Header.Get("X-ClickHouse-Exception-Code"), b)
	}
	return b, resp.Header, nil
}
